"""A request whose body stops short of its Content-Length (the sender died mid-send) is not
judged: nothing is journaled under its MCN, so the resend is judged on the real message
(found by the fault suite: a SIGKILLed engine's half-sent modify was rejected as empty XML)."""

from __future__ import annotations

import socket

from engine.receiver import HttpReceiverServer, Receiver


def test_truncated_body_is_not_journaled() -> None:
    """Headers promise 500 bytes, 10 arrive, the client hangs up: no entry, counted."""
    receiver = Receiver(format="canonical")
    with HttpReceiverServer(receiver) as server:
        with socket.create_connection(("127.0.0.1", server.port)) as sock:
            sock.sendall(b"POST /orders HTTP/1.1\r\nHost: x\r\nContent-Type: application/json"
                         b"\r\nX-Message-Control-Number: MCN-TRUNC-1\r\n"
                         b"Content-Length: 500\r\n\r\n{\"order\":")
            sock.shutdown(socket.SHUT_WR)
            assert sock.recv(1024) == b""  # closed without an answer
    assert receiver.journal.find("MCN-TRUNC-1") is None
    assert receiver.journal.counter("truncated_requests") == 1
