"""A TLS receiver going down (`down()`, what a crashed endpoint looks like) never hands a
handler the raw encrypted bytes of a request as its body.

`ssl.SSLSocket.shutdown` drops the connection's TLS state: a handler that read after it got
the TLS records themselves, and the receiver would judge them INVALID and journal that under
the MCN, so the sender's resend got the rejection back (the plain-HTTP twin of this is
tests/receiver/test_receiver_http_truncated.py).
"""

from __future__ import annotations

import select
import socket
import ssl
import threading

from engine.receiver import ServerTls
from engine.receiver._sockets import TrackingServerMixin

REST_OF_BODY = b'"rest of the order body"}'


class _Tracker(TrackingServerMixin):
    """The receiver's connection tracking over a plain listening socket."""

    def __init__(self, listening: socket.socket, context: ssl.SSLContext) -> None:
        self.socket = listening
        self.tls_context = context


def test_bytes_waiting_when_the_receiver_goes_down_are_read_decrypted(pki) -> None:
    listening = socket.create_server(("127.0.0.1", 0))
    tracker = _Tracker(listening, ServerTls(cert_file=pki.server_cert,
                                            key_file=pki.server_key).context())
    client_context = ssl.create_default_context(cafile=str(pki.ca))
    clients: list[ssl.SSLSocket] = []
    connect = threading.Thread(target=lambda: clients.append(client_context.wrap_socket(
        socket.create_connection(listening.getsockname()), server_hostname="localhost")))
    connect.start()
    served, _ = tracker.get_request()
    served.do_handshake()  # get_request defers it to the handler's thread
    connect.join(10)
    [client] = clients
    try:
        body = served.makefile("rb")  # as the handler reads its request
        client.sendall(REST_OF_BODY)
        readable, _, _ = select.select([served], [], [], 10)
        assert readable, "the client's bytes did not arrive"
        tracker.close_connections()
        assert body.read(len(REST_OF_BODY)) == REST_OF_BODY
        body.close()
    finally:
        client.close()
        listening.close()
