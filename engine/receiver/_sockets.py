"""Socket servers for the receiver: optional server-side TLS, and going down and up on one port.

`ListeningServer` runs a `socketserver` server in a thread. ``down()`` closes the
listening socket *and* every open connection (what a crashed endpoint looks like to the
sender); ``up()`` listens again on the same port.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import socketserver
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Self

__all__ = ["ListeningServer", "ServerTls", "TrackingServerMixin"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True, slots=True)
class ServerTls:
    """The receiver's certificate and key; ``ca_file`` turns on mutual TLS: every client
    must show a certificate that CA signed (a CA that is given but not required would let
    clients without one in)."""

    cert_file: Path
    key_file: Path
    ca_file: Path | None = None
    #: Kept for callers that say it; with ``ca_file`` client certificates are required.
    require_client_cert: bool = False

    def __post_init__(self) -> None:
        if self.require_client_cert and self.ca_file is None:
            raise ValueError("require_client_cert needs ca_file (the CA that signs clients)")
        if self.ca_file is not None:
            object.__setattr__(self, "require_client_cert", True)

    def context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(str(self.cert_file), str(self.key_file))
        if self.ca_file is not None:
            context.load_verify_locations(cafile=str(self.ca_file))
            context.verify_mode = ssl.CERT_REQUIRED
        return context


class TrackingServerMixin:
    """Wraps accepted sockets in TLS (handshake in the handler thread) and tracks them."""

    tls_context: ssl.SSLContext | None = None
    allow_reuse_address = True
    daemon_threads = True
    block_on_close = False

    def _connections(self) -> set[socket.socket]:
        if not hasattr(self, "_open"):
            self._open: set[socket.socket] = set()
            self._open_lock = threading.Lock()
        return self._open

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, addr = self.socket.accept()  # type: ignore[attr-defined]
        if self.tls_context is not None:
            # The handshake runs on first read, in the handler's thread: a slow or
            # hostile client cannot hold up accepting others.
            sock = self.tls_context.wrap_socket(sock, server_side=True,
                                                do_handshake_on_connect=False)
        conns = self._connections()
        with self._open_lock:
            conns.add(sock)
        return sock, addr

    def shutdown_request(self, request: Any) -> None:
        conns = self._connections()
        with self._open_lock:
            conns.discard(request)
        super().shutdown_request(request)  # type: ignore[misc]

    def close_connections(self) -> None:
        conns = self._connections()
        with self._open_lock:
            open_now, conns_copy = list(conns), conns
            conns_copy.clear()
        for sock in open_now:
            with contextlib.suppress(OSError):
                # The TCP connection only: `ssl.SSLSocket.shutdown` also drops the TLS
                # state, and a handler still reading would then get the raw encrypted
                # bytes as a request body (judged INVALID, journaled under the MCN).
                socket.socket.shutdown(sock, socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                sock.close()

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that vanished or failed the TLS handshake is routine for a server.
        log.info("connection error from %s", client_address[0] if client_address else "?",
                 exc_info=True)


class ListeningServer:
    """Runs the server ``make(address)`` returns in a thread; can go down and come back."""

    def __init__(self, make: Callable[[tuple[str, int]], socketserver.BaseServer], *,
                 host: str = "127.0.0.1", port: int = 0) -> None:
        self._make = make
        self.host = host
        self.port = port
        self._server: socketserver.BaseServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def is_up(self) -> bool:
        return self._server is not None

    def up(self) -> Self:
        """Start listening (on the same port as before, after ``down()``)."""
        if self._server is not None:
            return self
        server = self._make((self.host, self.port))
        self.port = int(server.server_address[1])  # type: ignore[index]
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever,
                                        kwargs={"poll_interval": 0.05},
                                        name=f"receiver:{self.port}", daemon=True)
        self._thread.start()
        return self

    start = up

    def down(self) -> None:
        """Stop listening and cut every open connection."""
        server, thread, self._server, self._thread = self._server, self._thread, None, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if isinstance(server, TrackingServerMixin):
            server.close_connections()
        if thread is not None:
            thread.join()

    stop = down

    def __enter__(self) -> Self:
        return self.up()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.down()
