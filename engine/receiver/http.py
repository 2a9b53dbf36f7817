"""The receiver over HTTP(S): POST a message, get the acknowledgement in the response body.

Contract for senders (what `engine.transports.https.HttpsTransport` does):

- ``POST <path>`` with the message as the body, ``Content-Type`` (``application/xml`` for
  NIEM, ``text/plain`` for CLETS, ``application/json`` for canonical) and the header
  ``X-Message-Control-Number``. Keep-alive (HTTP/1.1) is supported.
- ``200`` with the acknowledgement (accept with record id, or reject with reason) as the
  body: the business answer is always in an ack, never in the status code.
- ``400`` (no or bad MCN header), ``404`` (other path), ``411`` (no Content-Length),
  ``413`` (body above the cap): the request itself is wrong; do not retry.
- ``503`` with ``Retry-After``: the receiver is busy (the ``fail`` fault); retry later.
- Connection closed without a response: the ``drop`` fault (the answer was lost).
- ``GET /health`` answers ``200 ok`` while the receiver is up.
"""

from __future__ import annotations

import http.server
import logging
import re
import socket
import socketserver
import time
from typing import Any

from engine.receiver._sockets import ListeningServer, ServerTls, TrackingServerMixin
from engine.receiver.core import Receiver

__all__ = ["MAX_BODY_BYTES", "HttpReceiverServer"]

log = logging.getLogger(__name__)

#: Largest message body accepted (larger gets 413).
MAX_BODY_BYTES = 4 * 1024 * 1024
_MCN = re.compile(r"[!-~]{1,64}")


class _Server(TrackingServerMixin, http.server.ThreadingHTTPServer):
    receiver: Receiver
    path: str


class _Handler(http.server.BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    #: Seconds an idle kept connection (or a slow client) may hold a thread.
    timeout = 60

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in two writes; without this, Nagle's algorithm and the
        # client's delayed ACK add ~40 ms to every kept-alive response.
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("http %s", format % args)

    def _answer(self, status: int, body: bytes = b"", content_type: str = "text/plain",
                headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if status >= 400 and status not in (404, 503):
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        if self.path == "/health":
            self._answer(200, b"ok\n")
        else:
            self._answer(404, b"not found\n")

    def do_POST(self) -> None:
        receiver = self.server.receiver
        if self.path.split("?", 1)[0] != self.server.path:
            self._discard_body()
            self._answer(404, b"not found: POST to " + self.server.path.encode() + b"\n")
            return
        mcn = self.headers.get("X-Message-Control-Number", "")
        if not _MCN.fullmatch(mcn):
            receiver.journal.count("bad_requests")
            self._answer(400, b"X-Message-Control-Number header missing or not 1-64 "
                              b"printable ASCII characters\n")
            return
        length_header = self.headers.get("Content-Length")
        if length_header is None or not length_header.isdigit():
            receiver.journal.count("bad_requests")
            self._answer(411, b"Content-Length required\n")
            return
        length = int(length_header)
        if length > MAX_BODY_BYTES:
            receiver.journal.count("bad_requests")
            self._answer(413, f"body above {MAX_BODY_BYTES} bytes\n".encode())
            return
        body = self.rfile.read(length)
        if len(body) < length:
            # The sender went away mid-body (crashed, cut off): this is not the message,
            # so it is neither judged nor journaled; the resend (same MCN) will be.
            receiver.journal.count("truncated_requests")
            self.close_connection = True
            return
        outcome = receiver.handle(mcn, body, self.headers.get("Content-Type"),
                                  transport="http")
        if outcome.action == "fail":
            self._answer(503, b"busy, try again later\n", headers={"Retry-After": "1"})
            return
        if outcome.action == "drop":
            self.close_connection = True  # hang up without an answer
            return
        if outcome.delay:
            time.sleep(outcome.delay)
        # HTTP has one response per request: under ack-twice the second copy is not sent.
        self._answer(200, outcome.replies[0], outcome.content_type)

    def _discard_body(self) -> None:
        length = self.headers.get("Content-Length", "0")
        if length.isdigit() and int(length) <= MAX_BODY_BYTES:
            self.rfile.read(int(length))


class HttpReceiverServer(ListeningServer):
    """The reference receiver on HTTP, or HTTPS when ``tls`` is given."""

    def __init__(self, receiver: Receiver, *, host: str = "127.0.0.1", port: int = 0,
                 tls: ServerTls | None = None, path: str = "/orders") -> None:
        self.receiver = receiver
        self.tls = tls
        self.path = path
        context = tls.context() if tls else None

        def make(address: tuple[str, int]) -> socketserver.BaseServer:
            server = _Server(address, _Handler)
            server.receiver = receiver
            server.path = path
            server.tls_context = context
            return server

        super().__init__(make, host=host, port=port)

    @property
    def url(self) -> str:
        scheme = "https" if self.tls else "http"
        return f"{scheme}://{self.host}:{self.port}{self.path}"
