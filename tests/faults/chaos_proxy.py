"""A small TCP proxy the fault tests control: cut, stall or slow a connection on loopback.

Restarting the shared RabbitMQ in CI would disturb everything else on the machine, so the
fault tests put this proxy between the engine and the broker (or a receiver) instead and
break the link for real: established connections are reset, new ones refused, bytes held
back, or delayed. Everything stays on 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
import time

__all__ = ["ChaosProxy"]


class ChaosProxy:
    """Forwards 127.0.0.1:<port> to an upstream address until told to misbehave."""

    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self.upstream = (upstream_host, upstream_port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._pairs: list[tuple[socket.socket, socket.socket]] = []
        self._accepting = True
        self._stalled = threading.Event()
        self._stalled.set()  # set = bytes flow
        self.latency = 0.0
        self.connections_made = 0
        self.resets = 0
        self._closed = False
        threading.Thread(target=self._accept_loop, name="chaos-accept", daemon=True).start()

    # -- controls ----------------------------------------------------------------------
    def cut(self) -> None:
        """Reset every open connection and refuse new ones until `restore()`."""
        with self._lock:
            self._accepting = False
            pairs, self._pairs = self._pairs, []
        for a, b in pairs:
            self._reset(a)
            self._reset(b)
            self.resets += 1

    def reset_connections(self) -> None:
        """Reset every open connection but keep accepting new ones (a network blip)."""
        self.cut()
        self.restore()

    def stall(self) -> None:
        """Keep connections open but forward nothing (a hung link)."""
        self._stalled.clear()

    def restore(self) -> None:
        """Back to a healthy link."""
        with self._lock:
            self._accepting = True
        self._stalled.set()
        self.latency = 0.0

    def close(self) -> None:
        self._closed = True
        self.cut()
        with contextlib.suppress(OSError):
            self._listener.close()

    def __enter__(self) -> ChaosProxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- plumbing ----------------------------------------------------------------------
    @staticmethod
    def _reset(sock: socket.socket) -> None:
        with contextlib.suppress(OSError):
            # SO_LINGER 0 makes close() send RST: the peer sees a reset, not a clean FIN.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        with contextlib.suppress(OSError):
            # Wakes the pump thread blocked in recv() on this socket (close() alone does
            # not), without sending a FIN first.
            sock.shutdown(socket.SHUT_RD)
        with contextlib.suppress(OSError):
            sock.close()

    def _accept_loop(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                accepting = self._accepting
            if not accepting:
                self._reset(client)
                continue
            try:
                upstream = socket.create_connection(self.upstream, timeout=5)
                upstream.settimeout(None)
            except OSError:
                self._reset(client)
                continue
            with self._lock:
                self._pairs.append((client, upstream))
                self.connections_made += 1
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(src, dst), daemon=True,
                                 name="chaos-pump").start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                self._stalled.wait()
                if self.latency:
                    time.sleep(self.latency)
                dst.sendall(data)
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                dst.shutdown(socket.SHUT_WR)
