"""TCP transport against the reference receiver's TCP server: framing, faults, TLS, reconnects."""

from __future__ import annotations

import socket
import ssl
import struct
import threading
from collections.abc import Callable, Iterator

import pytest

from engine.ack_types import Accepted, Rejected
from engine.errors import DestinationRejected, TransportUnavailable
from engine.receiver import GARBAGE_ACK, Receiver, ServerTls, TcpReceiverServer, parse_json_ack
from engine.transports import Envelope, TcpTransport, TcpTransportConfig
from engine.transports.framing import FrameDecoder, encode_frame


@pytest.fixture
def receiver() -> Receiver:
    return Receiver(format="canonical")


@pytest.fixture
def server(receiver: Receiver) -> Iterator[TcpReceiverServer]:
    with TcpReceiverServer(receiver, max_frame_size=64 * 1024) as srv:
        yield srv


def transport_for(server: TcpReceiverServer, **kw: object) -> TcpTransport:
    plain: dict[str, object] = {} if kw.get("tls") else {"tls": False, "allow_plaintext": True}
    return TcpTransport(TcpTransportConfig(host="127.0.0.1", port=server.port, **plain, **kw))


def envelope(mcn: str, body: bytes) -> Envelope:
    return Envelope(mcn, body, "application/json")


class TestTcpRoundTrip:
    def test_send_returns_the_receivers_ack(self, server, order_body) -> None:
        """A valid order comes back accepted with a record id, read from the ack frame."""
        with transport_for(server) as t:
            receipt = t.send(envelope("T1", order_body()))
        assert receipt.mcn == "T1"
        assert isinstance(parse_json_ack(receipt.ack), Accepted)

    def test_many_sends_share_one_connection(self, server, receiver, order_body) -> None:
        """Several envelopes go over the same kept connection, each with its own ack."""
        with transport_for(server) as t:
            first = t._sock
            acks = [parse_json_ack(t.send(envelope(f"K{i}", order_body(order_id=f"O-{i}"))).ack)
                    for i in range(5)]
            assert t._sock is first
        assert [a.mcn for a in acks] == [f"K{i}" for i in range(5)]
        assert len(receiver.journal.accepted()) == 5

    def test_invalid_order_gets_a_reject_ack_not_an_error(self, server) -> None:
        """The registry's reject is an ack in the receipt, not a transport error."""
        with transport_for(server) as t:
            ack = parse_json_ack(t.send(envelope("BAD", b"{}")).ack)
        assert isinstance(ack, Rejected)
        assert ack.code == "INVALID"

    def test_resend_of_same_mcn_is_acked_again_without_second_effect(self, server, receiver,
                                                                      order_body) -> None:
        """A retry with the same MCN gets the same record id and is counted as a duplicate."""
        with transport_for(server) as t:
            first = parse_json_ack(t.send(envelope("DUP", order_body())).ack)
            again = parse_json_ack(t.send(envelope("DUP", order_body())).ack)
        assert first == again
        assert receiver.journal.duplicates == 1
        assert len(receiver.journal.accepted()) == 1


class TestTcpFaults:
    def test_fail_fault_is_transient_and_next_send_reconnects(self, server, receiver,
                                                              order_body) -> None:
        """A receiver that hangs up raises TransportUnavailable; the retry reconnects and works."""
        receiver.faults.next("fail")
        with transport_for(server) as t:
            with pytest.raises(TransportUnavailable, match="closed by peer"):
                t.send(envelope("F1", order_body()))
            assert isinstance(parse_json_ack(t.send(envelope("F1", order_body())).ack), Accepted)

    def test_dropped_ack_times_out_as_transient(self, server, receiver, order_body) -> None:
        """No ack within read_timeout is TransportUnavailable; the resend gets the same ack."""
        receiver.faults.next("drop")
        with transport_for(server, read_timeout=0.3) as t:
            with pytest.raises(TransportUnavailable, match="no acknowledgement"):
                t.send(envelope("D1", order_body()))
            ack = parse_json_ack(t.send(envelope("D1", order_body())).ack)
        assert isinstance(ack, Accepted)
        assert receiver.journal.duplicates == 1

    def test_double_ack_is_skipped_for_the_next_message(self, server, receiver,
                                                        order_body) -> None:
        """A second copy of an old ack left on the connection is not taken as the next ack."""
        receiver.faults.next("ack-twice")
        with transport_for(server) as t:
            t.send(envelope("A1", order_body()))
            second = t.send(envelope("A2", order_body(order_id="OTHER-1")))
        assert parse_json_ack(second.ack).mcn == "A2"

    def test_garbage_ack_is_returned_for_the_correlator_to_judge(self, server, receiver,
                                                                 order_body) -> None:
        """A garbled ack body inside a good frame is handed back as it is."""
        receiver.faults.next("garbage")
        with transport_for(server) as t:
            assert t.send(envelope("G1", order_body())).ack == GARBAGE_ACK

    def test_receiver_down_is_transient_and_up_again_recovers(self, server, order_body) -> None:
        """While the receiver is down sends fail as transient; after it is up they succeed."""
        with transport_for(server) as t:
            t.send(envelope("U1", order_body()))
            server.down()
            with pytest.raises(TransportUnavailable):
                t.send(envelope("U2", order_body(order_id="O-U2")))
            server.up()
            assert isinstance(
                parse_json_ack(t.send(envelope("U2", order_body(order_id="O-U2"))).ack),
                Accepted)

    def test_oversize_frame_is_refused_permanently_by_the_sender(self, server) -> None:
        """A message larger than the frame cap is DestinationRejected, never sent."""
        with transport_for(server, max_frame_size=2048) as t, \
                pytest.raises(DestinationRejected, match="exceeds the cap"):
            t.send(envelope("BIG", b"x" * 4096))

    def test_receiver_closes_on_oversize_frame(self, server, receiver) -> None:
        """A frame above the receiver's cap closes the connection and is counted."""
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as s:
            s.sendall(struct.pack(">I", 10 * 1024 * 1024))
            assert s.recv(10) == b""
        assert receiver.journal.counter("bad_frames") == 1

    def test_receiver_reassembles_a_frame_sent_byte_by_byte(self, server, order_body) -> None:
        """Partial writes from the sender are reassembled into one message."""
        data = encode_frame("SLOW", order_body())
        decoder = FrameDecoder()
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as s:
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            for i in range(0, len(data), 7):
                s.sendall(data[i:i + 7])
            frames = []
            while not frames:
                frames = decoder.feed(s.recv(100))
        assert frames[0].mcn == "SLOW"
        assert isinstance(parse_json_ack(frames[0].body), Accepted)


class _TricklingAckServer:
    """Answers each frame with its ack one byte at a time (the worst split possible)."""

    def __init__(self, ack_for: Callable[[str], bytes]) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.ack_for = ack_for
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        conn, _ = self.sock.accept()
        with conn:
            decoder = FrameDecoder()
            while data := conn.recv(4096):
                for frame in decoder.feed(data):
                    for byte in encode_frame(frame.mcn, self.ack_for(frame.mcn)):
                        conn.sendall(bytes([byte]))


def test_ack_arriving_in_one_byte_reads_is_reassembled() -> None:
    """The transport reassembles an ack frame that arrives one byte per read."""
    peer = _TricklingAckServer(lambda mcn: b"ACK " + mcn.encode())
    with TcpTransport(TcpTransportConfig(host="127.0.0.1", port=peer.port, tls=False,
                                         allow_plaintext=True)) as t:
        assert t.send(envelope("B1", b"body")).ack == b"ACK B1"
    peer.sock.close()


class TestTcpTls:
    def test_mutual_tls_round_trip(self, receiver, pki, order_body) -> None:
        """With TLS and a client certificate frames round-trip on one kept connection."""
        tls = ServerTls(cert_file=pki.server_cert, key_file=pki.server_key, ca_file=pki.ca,
                        require_client_cert=True)
        with TcpReceiverServer(receiver, tls=tls) as srv, TcpTransport(TcpTransportConfig(
                host="127.0.0.1", port=srv.port, tls=True, ca_file=pki.ca,
                cert_file=pki.client_cert, key_file=pki.client_key)) as t:
            assert isinstance(parse_json_ack(t.send(envelope("S1", order_body())).ack), Accepted)
            kept = t._sock
            second = t.send(envelope("S1b", order_body(order_id="O-S1b")))
            assert isinstance(parse_json_ack(second.ack), Accepted)
            assert t._sock is kept

    def test_client_without_certificate_is_refused(self, receiver, pki, order_body) -> None:
        """When client certificates are required, a client without one cannot deliver."""
        tls = ServerTls(cert_file=pki.server_cert, key_file=pki.server_key, ca_file=pki.ca,
                        require_client_cert=True)
        with TcpReceiverServer(receiver, tls=tls) as srv, TcpTransport(TcpTransportConfig(
                host="127.0.0.1", port=srv.port, tls=True, ca_file=pki.ca)) as t, \
                pytest.raises(TransportUnavailable):
            t.send(envelope("S2", order_body()))
        assert receiver.journal.entries() == []

    def test_untrusted_server_certificate_is_refused(self, receiver, pki) -> None:
        """A server whose certificate our CA did not sign is not talked to."""
        tls = ServerTls(cert_file=pki.rogue_cert, key_file=pki.rogue_key)
        with TcpReceiverServer(receiver, tls=tls) as srv, \
                pytest.raises(TransportUnavailable, match="CERTIFICATE_VERIFY_FAILED"):
            TcpTransport(TcpTransportConfig(host="127.0.0.1", port=srv.port, tls=True,
                                            ca_file=pki.ca)).send(envelope("S3", b"{}"))


def test_tls_context_is_verifying(pki) -> None:
    """The client TLS context verifies certificates and host names by default."""
    t = TcpTransport(TcpTransportConfig(host="h", port=1, tls=True, ca_file=pki.ca))
    assert t._context is not None
    assert t._context.verify_mode == ssl.CERT_REQUIRED
    assert t._context.check_hostname is True
