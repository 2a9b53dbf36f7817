"""A request whose body stops short of its Content-Length (the sender died mid-send) is not
judged: nothing is journaled under its MCN, so the resend is judged on the real message
(found by the fault suite: a SIGKILLed engine's half-sent modify was rejected as empty XML)."""

from __future__ import annotations

import http.client
import json
import socket
from collections.abc import Callable

from engine.receiver import HttpReceiverServer, Receiver
from tests.services import wait_until


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


def test_outage_mid_body_is_not_journaled_and_the_resend_is_judged(
        order_body: Callable[..., bytes]) -> None:
    """The endpoint goes down (`down()` cuts every open connection) after a request's
    headers and part of its body arrived: its MCN is not journaled, and the resend under
    the same MCN once the endpoint is back is judged on the real message and accepted.

    This is the HTTP fault scenario's outage landing between the sender's two writes
    (http.client sends the headers, then the body): before the length check the cut-off
    bytes were judged INVALID and journaled, so the resend got that rejection back and a
    good version ended REJECTED (the scenario's 1-in-10 ``lost 1``).
    """
    receiver = Receiver(format="canonical")
    body = order_body(order_id="OUTAGE-CUT-1")
    headers = {"Content-Type": "application/json", "X-Message-Control-Number": "MCN-CUT-1"}
    server = HttpReceiverServer(receiver).up()
    try:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        # One full exchange first: the connection is accepted and its handler is live.
        conn.request("POST", "/orders", body=order_body(order_id="OUTAGE-CUT-0"),
                     headers={**headers, "X-Message-Control-Number": "MCN-CUT-0"})
        assert conn.getresponse().read()
        assert conn.sock is not None
        conn.sock.sendall(b"POST /orders HTTP/1.1\r\nHost: x\r\nContent-Type: application/json"
                          b"\r\nX-Message-Control-Number: MCN-CUT-1\r\n"
                          + f"Content-Length: {len(body)}\r\n\r\n".encode()
                          + body[:len(body) // 2])
        server.down()  # the outage: the rest of the body never arrives
        wait_until(lambda: receiver.journal.counter("truncated_requests") == 1
                   or receiver.journal.find("MCN-CUT-1") is not None,
                   "the cut request's handler to finish", limit=10)
        conn.close()
        assert receiver.journal.find("MCN-CUT-1") is None
        server.up()
        resend = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        resend.request("POST", "/orders", body=body, headers=headers)
        answer = json.loads(resend.getresponse().read())
        resend.close()
    finally:
        server.down()
    assert answer["status"] == "accepted", answer.get("code")
    entry = receiver.journal.find("MCN-CUT-1")
    assert entry is not None and entry.outcome == "accepted"
    assert receiver.journal.duplicates == 0
