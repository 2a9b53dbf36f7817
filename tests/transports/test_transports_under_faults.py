"""Transports under real faults: a cut or stalled link, a flaky receiver, and a simple retry loop.

These show the property the engine relies on: retrying with the same MCN after any
TransportUnavailable ends with every message accepted exactly once (no loss, no second
effect), however the receiver or the link misbehaves.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from engine.ack_types import Accepted
from engine.errors import TransportUnavailable
from engine.receiver import HttpReceiverServer, Receiver, TcpReceiverServer, parse_json_ack
from engine.transports import (
    Envelope,
    HttpsTransport,
    HttpsTransportConfig,
    TcpTransport,
    TcpTransportConfig,
    Transport,
)
from tests.faults.chaos_proxy import ChaosProxy

MESSAGES = 120


def send_with_retries(transport: Transport, envelope: Envelope, attempts: int = 50) -> bytes:
    """Send until delivered (what the transmitter does, minus backoff); return the ack."""
    for _ in range(attempts):
        try:
            receipt = transport.send(envelope)
        except TransportUnavailable:
            continue
        assert receipt.ack is not None
        return receipt.ack
    raise AssertionError(f"{envelope.mcn} not delivered in {attempts} attempts")


def flaky_receiver() -> Receiver:
    receiver = Receiver(format="canonical")
    receiver.faults = type(receiver.faults)(seed=1234)
    for fault, rate in (("fail", 0.15), ("drop", 0.1), ("ack-twice", 0.1)):
        receiver.faults.rate(fault, rate)
    return receiver


def check_exactly_once(receiver: Receiver, acks: dict[str, bytes]) -> None:
    accepted = receiver.journal.accepted()
    assert sorted(e.mcn for e in accepted) == sorted(acks)
    assert receiver.journal.duplicate_effects() == []
    for mcn, raw in acks.items():
        ack = parse_json_ack(raw)
        assert isinstance(ack, Accepted), mcn
        assert ack.mcn == mcn


@pytest.mark.parametrize("kind", ["tcp", "http"])
def test_flaky_receiver_gets_every_message_exactly_once(kind: str, order_body) -> None:
    """With failures, lost and doubled acks, retries by MCN deliver all, each with one effect."""
    receiver = flaky_receiver()
    server_cls: Callable[..., TcpReceiverServer | HttpReceiverServer] = (
        TcpReceiverServer if kind == "tcp" else HttpReceiverServer)
    with server_cls(receiver) as server:
        transport: Transport = (
            TcpTransport(TcpTransportConfig(host="127.0.0.1", port=server.port,
                                            tls=False, allow_plaintext=True, read_timeout=0.1))
            if kind == "tcp" else
            HttpsTransport(HttpsTransportConfig(url=server.url, allow_plain_http=True)))
        with transport:
            acks = {f"{kind}-{i}": send_with_retries(transport, Envelope(
                f"{kind}-{i}", order_body(order_id=f"ORD-{i}"), "application/json"))
                for i in range(MESSAGES)}
    check_exactly_once(receiver, acks)
    assert receiver.journal.duplicates > 0  # the drops made resends that were deduplicated
    assert receiver.journal.counter("failed") > 0


def test_tcp_link_cut_midway_then_restored(order_body) -> None:
    """A cut link fails sends as transient; once restored the same transport reconnects."""
    receiver = Receiver(format="canonical")
    with TcpReceiverServer(receiver) as server, ChaosProxy("127.0.0.1", server.port) as proxy, \
            TcpTransport(TcpTransportConfig(host="127.0.0.1", port=proxy.port,
                                            tls=False, allow_plaintext=True, read_timeout=2)) as t:
        t.send(Envelope("L1", order_body(order_id="L-1"), "application/json"))
        proxy.cut()
        with pytest.raises(TransportUnavailable):
            t.send(Envelope("L2", order_body(order_id="L-2"), "application/json"))
        proxy.restore()
        ack = parse_json_ack(t.send(Envelope("L2", order_body(order_id="L-2"),
                                             "application/json")).ack)
    assert isinstance(ack, Accepted)
    assert [e.mcn for e in receiver.journal.accepted()] == ["L1", "L2"]


def test_stalled_link_times_out_as_transient(order_body) -> None:
    """A link that stops moving bytes ends in TransportUnavailable after the read timeout."""
    receiver = Receiver(format="canonical")
    with HttpReceiverServer(receiver) as server, \
            ChaosProxy("127.0.0.1", server.port) as proxy:
        url = server.url.replace(str(server.port), str(proxy.port))
        with HttpsTransport(HttpsTransportConfig(url=url, allow_plain_http=True,
                                                 read_timeout=0.3)) as t:
            t.send(Envelope("S1", order_body(order_id="S-1"), "application/json"))
            proxy.stall()
            with pytest.raises(TransportUnavailable, match="no response within"):
                t.send(Envelope("S2", order_body(order_id="S-2"), "application/json"))
            proxy.restore()
            ack = send_with_retries(t, Envelope("S2", order_body(order_id="S-2"),
                                                "application/json"))
    assert isinstance(parse_json_ack(ack), Accepted)
    assert receiver.journal.duplicate_effects() == []
