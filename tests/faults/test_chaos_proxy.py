"""The chaos proxy itself: it forwards, and it breaks links when told to."""

from __future__ import annotations

import contextlib
import socket
import threading

import pytest

from tests.faults.chaos_proxy import ChaosProxy


@pytest.fixture
def echo_server():
    """A loopback echo server on a free port."""
    server = socket.create_server(("127.0.0.1", 0))

    def serve():
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            threading.Thread(target=_echo, args=(conn,), daemon=True).start()

    def _echo(conn):
        # The proxy resets its upstream side on purpose; that ends this echo quietly.
        with conn, contextlib.suppress(OSError):
            while data := conn.recv(4096):
                conn.sendall(data)

    threading.Thread(target=serve, daemon=True).start()
    yield server.getsockname()[1]
    server.close()


def _round_trip(sock: socket.socket, data: bytes) -> None:
    """Send and read back; a closed or reset link raises OSError."""
    sock.sendall(data)
    if not sock.recv(len(data)):
        raise ConnectionResetError("closed by peer")


class TestChaosProxy:
    def test_forwards_bytes_both_ways(self, echo_server):
        """A healthy proxy passes bytes to the upstream and back."""
        with ChaosProxy("127.0.0.1", echo_server) as proxy:
            with socket.create_connection(("127.0.0.1", proxy.port), timeout=5) as s:
                s.sendall(b"ping")
                assert s.recv(4) == b"ping"

    def test_cut_resets_open_connections_and_refuses_new_ones(self, echo_server):
        """After cut(), an open connection fails and a new one is reset at once."""
        with ChaosProxy("127.0.0.1", echo_server) as proxy:
            with socket.create_connection(("127.0.0.1", proxy.port), timeout=5) as s:
                s.sendall(b"a")
                assert s.recv(1) == b"a"
                proxy.cut()
                with pytest.raises(OSError):
                    _round_trip(s, b"b")
            with pytest.raises(OSError):
                with socket.create_connection(("127.0.0.1", proxy.port), timeout=5) as s2:
                    _round_trip(s2, b"c")
            proxy.restore()
            with socket.create_connection(("127.0.0.1", proxy.port), timeout=5) as s3:
                s3.sendall(b"d")
                assert s3.recv(1) == b"d"

    def test_stall_holds_bytes_until_restore(self, echo_server):
        """A stalled link forwards nothing until it is restored."""
        with ChaosProxy("127.0.0.1", echo_server) as proxy:
            with socket.create_connection(("127.0.0.1", proxy.port), timeout=5) as s:
                proxy.stall()
                s.sendall(b"x")
                s.settimeout(0.3)
                with pytest.raises(TimeoutError):
                    s.recv(1)
                proxy.restore()
                s.settimeout(5)
                assert s.recv(1) == b"x"
