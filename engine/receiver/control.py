"""Runtime control of a receiver running as its own process: change faults, go down and up.

``engine receiver ... --control-port 8099`` starts this small HTTP API beside the receiver,
on the loopback interface only, and answers only requests carrying its token
(``Authorization: Bearer <token>``; the start line shows a generated one, or
``--control-token-file`` gives it). A web page open in a browser on the same machine can
send a request to a loopback port, but cannot add that header without a CORS preflight,
which this server never grants; the Host header must name the loopback address too (no DNS
rebinding).

- ``GET /stats``: the journal's totals as JSON.
- ``POST /faults`` with JSON, any of: ``{"fail_next": 3, "drop_rate": 0.1,
  "ack_twice_next": 1, "garbage_rate": 0.0, "ack_delay": 0.5,
  "reject_order": ["ORI/ID"], "allow_order": ["ORI/ID"], "clear": true}``
  (``clear`` first, then the rest). Answers the applied settings, or 400 naming a bad key.
- ``POST /down`` and ``POST /up``: stop listening (cutting connections) and listen again.
"""

from __future__ import annotations

import hmac
import http.server
import json
import logging
import socketserver
from typing import Any, Protocol

from engine.receiver._sockets import ListeningServer
from engine.receiver.core import Receiver
from engine.receiver.faults import Fault

__all__ = ["ControlServer", "apply_fault_settings"]

log = logging.getLogger(__name__)

_MAX_BODY = 64 * 1024


class _Switchable(Protocol):
    def up(self) -> Any: ...
    def down(self) -> None: ...


def apply_fault_settings(receiver: Receiver, settings: dict[str, Any]) -> None:
    """Apply a JSON fault request to ``receiver.faults``; `ValueError` names a bad key/value."""
    plan = receiver.faults
    known = {"clear", "ack_delay", "reject_order", "allow_order"} | {
        f"{f.value.replace('-', '_')}_{kind}" for f in Fault for kind in ("next", "rate")}
    unknown = sorted(set(settings) - known)
    if unknown:
        raise ValueError(f"unknown setting {unknown[0]!r}; known: {', '.join(sorted(known))}")
    if settings.get("clear"):
        plan.clear()
    for fault in Fault:
        name = fault.value.replace("-", "_")
        if f"{name}_next" in settings:
            count = settings[f"{name}_next"]
            if not isinstance(count, int) or isinstance(count, bool):
                raise ValueError(f"{name}_next must be a whole number")
            plan.next(fault, count)
        if f"{name}_rate" in settings:
            rate = settings[f"{name}_rate"]
            if not isinstance(rate, int | float) or isinstance(rate, bool):
                raise ValueError(f"{name}_rate must be a number between 0 and 1")
            plan.rate(fault, float(rate))
    if "ack_delay" in settings:
        delay = settings["ack_delay"]
        if not isinstance(delay, int | float) or isinstance(delay, bool):
            raise ValueError("ack_delay must be a number of seconds")
        plan.ack_delay = float(delay)
    for key in settings.get("reject_order", []):
        plan.reject_order(str(key))
    for key in settings.get("allow_order", []):
        plan.allow_order(str(key))


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    receiver: Receiver
    target: _Switchable
    token: str


class _Handler(http.server.BaseHTTPRequestHandler):
    server: _Server

    def _allowed(self) -> bool:
        """The bearer token matches, and the Host is the loopback address we listen on."""
        host = (self.headers.get("Host") or "").rsplit(":", 1)[0]
        given = self.headers.get("Authorization") or ""
        expected = f"Bearer {self.server.token}"
        if host not in ("127.0.0.1", "localhost") or not hmac.compare_digest(
                given.encode(), expected.encode()):
            self._json(401, {"error": "control API: send Authorization: Bearer <token> "
                                      "(from the receiver's start line)"})
            return False
        return True

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("control %s", format % args)

    def _json(self, status: int, data: Any) -> None:
        body = json.dumps(data, sort_keys=True).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        if not self._allowed():
            return
        if self.path == "/stats":
            self._json(200, self.server.receiver.journal.stats())
        else:
            self._json(404, {"error": "GET /stats"})

    def do_POST(self) -> None:
        if not self._allowed():
            return
        length = int(self.headers.get("Content-Length") or 0)
        if length > _MAX_BODY:
            self._json(413, {"error": "body too large"})
            return
        raw = self.rfile.read(length)
        if self.path == "/down":
            self.server.target.down()
            self._json(200, {"up": False})
        elif self.path == "/up":
            self.server.target.up()
            self._json(200, {"up": True})
        elif self.path == "/faults":
            try:
                settings = json.loads(raw or b"{}")
                if not isinstance(settings, dict):
                    raise ValueError("expected a JSON object")
                apply_fault_settings(self.server.receiver, settings)
            except ValueError as exc:
                self._json(400, {"error": str(exc)})
                return
            self._json(200, {"applied": sorted(settings)})
        else:
            self._json(404, {"error": "POST /faults, /down or /up"})


class ControlServer(ListeningServer):
    """The control API for ``receiver`` and its transport server ``target``."""

    def __init__(self, receiver: Receiver, target: _Switchable, *, port: int = 0,
                 token: str) -> None:
        if len(token) < 16:
            raise ValueError("the control token must be at least 16 characters")

        def make(address: tuple[str, int]) -> socketserver.BaseServer:
            server = _Server(address, _Handler)
            server.receiver = receiver
            server.target = target
            server.token = token
            return server

        # Loopback only, and a token: a local web page must not drive it.
        super().__init__(make, host="127.0.0.1", port=port)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"
