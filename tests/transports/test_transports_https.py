"""HTTPS transport against the reference receiver: mutual TLS, statuses, timeouts, reconnects."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator

import pytest

from engine.ack_types import Accepted, Rejected
from engine.errors import DestinationRejected, TransportUnavailable
from engine.receiver import HttpReceiverServer, Receiver, ServerTls, parse_json_ack
from engine.transports import Envelope, HttpsTransport, HttpsTransportConfig, TransportConfigError


def envelope(mcn: str, body: bytes) -> Envelope:
    return Envelope(mcn, body, "application/json")


@pytest.fixture
def receiver() -> Receiver:
    return Receiver(format="canonical")


@pytest.fixture
def mtls_server(receiver: Receiver, pki) -> Iterator[HttpReceiverServer]:
    """The receiver on HTTPS, requiring a client certificate from our test CA."""
    tls = ServerTls(cert_file=pki.server_cert, key_file=pki.server_key, ca_file=pki.ca,
                    require_client_cert=True)
    with HttpReceiverServer(receiver, tls=tls) as srv:
        yield srv


@pytest.fixture
def plain_server(receiver: Receiver) -> Iterator[HttpReceiverServer]:
    with HttpReceiverServer(receiver) as srv:
        yield srv


def mtls_transport(server: HttpReceiverServer, pki, **kw: object) -> HttpsTransport:
    return HttpsTransport(HttpsTransportConfig(url=server.url, ca_file=pki.ca,
                                               cert_file=pki.client_cert,
                                               key_file=pki.client_key, **kw))


def plain_transport(server: HttpReceiverServer, **kw: object) -> HttpsTransport:
    return HttpsTransport(HttpsTransportConfig(url=server.url, allow_plain_http=True, **kw))


class TestMutualTls:
    def test_mutual_tls_post_returns_the_ack(self, mtls_server, pki, order_body) -> None:
        """With the CA and a client certificate, the POST is accepted and the ack returned."""
        with mtls_transport(mtls_server, pki) as t:
            receipt = t.send(envelope("H1", order_body()))
        ack = parse_json_ack(receipt.ack)
        assert isinstance(ack, Accepted)
        assert ack.mcn == "H1"

    def test_client_without_certificate_cannot_deliver(self, mtls_server, pki, receiver,
                                                       order_body) -> None:
        """Without a client certificate the receiver refuses; nothing is recorded."""
        t = HttpsTransport(HttpsTransportConfig(url=mtls_server.url, ca_file=pki.ca))
        with pytest.raises(TransportUnavailable):
            t.send(envelope("H2", order_body()))
        assert receiver.journal.entries() == []

    def test_client_certificate_from_another_ca_cannot_deliver(self, mtls_server, pki,
                                                               receiver, order_body) -> None:
        """A client certificate the receiver's CA did not sign is refused."""
        t = HttpsTransport(HttpsTransportConfig(url=mtls_server.url, ca_file=pki.ca,
                                                cert_file=pki.rogue_cert,
                                                key_file=pki.rogue_key))
        with pytest.raises(TransportUnavailable):
            t.send(envelope("H3", order_body()))
        assert receiver.journal.entries() == []

    def test_server_not_signed_by_our_ca_is_refused(self, receiver, pki) -> None:
        """The transport verifies the DOJ server certificate against the configured CA."""
        tls = ServerTls(cert_file=pki.rogue_cert, key_file=pki.rogue_key)
        with HttpReceiverServer(receiver, tls=tls) as srv, \
                pytest.raises(TransportUnavailable, match="CERTIFICATE_VERIFY_FAILED"):
            HttpsTransport(HttpsTransportConfig(url=srv.url, ca_file=pki.ca)).send(
                envelope("H4", b"{}"))

    def test_kept_connection_is_reused(self, mtls_server, pki, order_body) -> None:
        """Consecutive sends reuse one TLS connection."""
        with mtls_transport(mtls_server, pki) as t:
            t.send(envelope("R1", order_body()))
            sock = t._conn.sock
            t.send(envelope("R2", order_body(order_id="O-R2")))
            assert t._conn.sock is sock


class TestStatusMapping:
    def test_busy_receiver_is_transient(self, plain_server, receiver, order_body) -> None:
        """503 from the receiver (fail fault) raises TransportUnavailable."""
        receiver.faults.next("fail")
        with plain_transport(plain_server) as t, \
                pytest.raises(TransportUnavailable, match="503"):
            t.send(envelope("B1", order_body()))

    def test_wrong_path_is_permanent(self, receiver) -> None:
        """404 (a wrong URL) raises DestinationRejected: retrying will not help."""
        with HttpReceiverServer(receiver, path="/doj/orders") as srv:
            with HttpsTransport(HttpsTransportConfig(
                    url=f"http://127.0.0.1:{srv.port}/wrong", allow_plain_http=True)) as t, \
                    pytest.raises(DestinationRejected, match="404"):
                t.send(envelope("P1", b"{}"))

    def test_registry_reject_is_an_ack_not_an_error(self, plain_server) -> None:
        """An invalid order is a 200 with a reject ack: the transport did its job."""
        with plain_transport(plain_server) as t:
            ack = parse_json_ack(t.send(envelope("I1", b"{}")).ack)
        assert isinstance(ack, Rejected)

    @pytest.mark.parametrize(("status", "error"), [
        (408, TransportUnavailable), (429, TransportUnavailable), (500, TransportUnavailable),
        (502, TransportUnavailable), (400, DestinationRejected), (401, DestinationRejected),
        (403, DestinationRejected), (413, DestinationRejected), (415, DestinationRejected),
        (301, DestinationRejected),
    ])
    def test_status_codes_map_to_transient_or_permanent(self, status: int,
                                                        error: type[Exception]) -> None:
        """408/429/5xx are retried later; every other non-2xx status is permanent."""
        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers["Content-Length"]))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        srv = http.server.HTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True).start()
        try:
            with HttpsTransport(HttpsTransportConfig(
                    url=f"http://127.0.0.1:{srv.server_address[1]}/",
                    allow_plain_http=True)) as t, pytest.raises(error, match=str(status)):
                t.send(envelope("S1", b"x"))
        finally:
            srv.shutdown()
            srv.server_close()


def test_response_above_the_cap_is_transient(plain_server, receiver, order_body) -> None:
    """An answer larger than max_response_bytes is not taken as an ack."""
    with plain_transport(plain_server, max_response_bytes=10) as t, \
            pytest.raises(TransportUnavailable, match="response above 10 bytes"):
        t.send(envelope("CAP1", order_body()))


class TestTimeoutsAndReconnects:
    def test_slow_ack_beyond_read_timeout_is_transient(self, plain_server, receiver,
                                                       order_body) -> None:
        """A response slower than read_timeout raises TransportUnavailable."""
        receiver.faults.ack_delay = 1.0
        with plain_transport(plain_server, read_timeout=0.2) as t, \
                pytest.raises(TransportUnavailable, match="no response within"):
            t.send(envelope("SL1", order_body()))

    def test_connection_refused_is_transient(self, plain_server) -> None:
        """Nobody listening raises TransportUnavailable."""
        url = plain_server.url
        plain_server.down()
        t = HttpsTransport(HttpsTransportConfig(url=url, allow_plain_http=True))
        with pytest.raises(TransportUnavailable, match="connect"):
            t.send(envelope("C1", b"{}"))

    def test_resend_after_receiver_restart_uses_a_new_connection(self, plain_server,
                                                                 receiver, order_body) -> None:
        """After the receiver went down and up, the kept connection is replaced and works."""
        with plain_transport(plain_server) as t:
            t.send(envelope("RS1", order_body()))
            plain_server.down()
            plain_server.up()
            ack = parse_json_ack(t.send(envelope("RS2", order_body(order_id="O-RS2"))).ack)
        assert isinstance(ack, Accepted)
        assert len(receiver.journal.accepted()) == 2

    def test_dropped_response_is_transient_and_resend_is_a_duplicate(
            self, plain_server, receiver, order_body) -> None:
        """A hang-up after processing is transient; the resend gets the original record id."""
        receiver.faults.next("drop")
        with plain_transport(plain_server) as t:
            with pytest.raises(TransportUnavailable):
                t.send(envelope("DR1", order_body()))
            ack = parse_json_ack(t.send(envelope("DR1", order_body())).ack)
        assert ack == receiver.journal.accepted()[0].ack
        assert receiver.journal.duplicates == 1


class TestConfig:
    @pytest.mark.parametrize(("kw", "words"), [
        ({"url": "http://doj/"}, "allow_plain_http"),
        ({"url": "ftp://doj/"}, "https://"),
        ({"url": "https://doj/", "read_timeout": 0}, "above zero"),
        ({"url": "https://doj/", "key_file": "/k.pem", "ca_file": None}, "key_file"),
        ({"url": "https://doj/", "ca_file": "/no/such/ca.pem"}, "cannot load"),
    ])
    def test_bad_config_names_the_fix(self, kw: dict, words: str) -> None:
        """Unusable settings raise TransportConfigError saying what to change."""
        from pathlib import Path
        kw = {k: Path(v) if k.endswith("_file") and v else v for k, v in kw.items()}
        with pytest.raises(TransportConfigError, match=words):
            HttpsTransport(HttpsTransportConfig(**kw))

    def test_mcn_header_is_sent(self, plain_server, receiver, order_body) -> None:
        """The receiver keys duplicates on the X-Message-Control-Number header we send."""
        with plain_transport(plain_server) as t:
            t.send(envelope("HDR-1", order_body()))
        assert receiver.journal.entries()[0].mcn == "HDR-1"
