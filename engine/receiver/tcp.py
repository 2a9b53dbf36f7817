"""The receiver over TCP: length-prefixed frames in, acknowledgement frames back (see framing).

Each inbound frame ``MCN <mcn>\\n<message>`` is answered with ``MCN <mcn>\\n<ack>`` on the
same connection, in order. Under the ``fail`` fault the connection is closed without an
answer; under ``drop`` nothing is sent (the sender times out); under ``ack-twice`` the
ack frame is sent two times. A frame above the cap, or with a bad header, closes the
connection (counted as ``bad_frames``): the stream cannot be trusted after it.
"""

from __future__ import annotations

import logging
import socketserver
import time

from engine.errors import DecodeError
from engine.receiver._sockets import ListeningServer, ServerTls, TrackingServerMixin
from engine.receiver.core import Receiver
from engine.transports.framing import DEFAULT_MAX_FRAME, FrameDecoder, encode_frame

__all__ = ["TcpReceiverServer"]

log = logging.getLogger(__name__)


class _Server(TrackingServerMixin, socketserver.ThreadingTCPServer):
    receiver: Receiver
    max_frame_size: int


class _Handler(socketserver.BaseRequestHandler):
    server: _Server
    #: Seconds an idle connection may stay open.
    timeout = 300.0

    def handle(self) -> None:
        receiver = self.server.receiver
        decoder = FrameDecoder(self.server.max_frame_size)
        sock = self.request
        sock.settimeout(self.timeout)
        while True:
            try:
                data = sock.recv(65536)
            except OSError:
                return
            if not data:
                return
            try:
                frames = decoder.feed(data)
            except DecodeError as exc:
                receiver.journal.count("bad_frames")
                log.info("closing connection: %s", exc)
                return
            for frame in frames:
                outcome = receiver.handle(frame.mcn, frame.body, None, transport="tcp")
                if outcome.action == "fail":
                    return  # hang up: the sender sees a transient failure
                if outcome.action == "drop":
                    continue
                if outcome.delay:
                    time.sleep(outcome.delay)
                try:
                    for reply in outcome.replies:
                        sock.sendall(encode_frame(frame.mcn, reply,
                                                  max_size=self.server.max_frame_size))
                except OSError:
                    return


class TcpReceiverServer(ListeningServer):
    """The reference receiver on raw TCP frames, or TLS when ``tls`` is given."""

    def __init__(self, receiver: Receiver, *, host: str = "127.0.0.1", port: int = 0,
                 tls: ServerTls | None = None,
                 max_frame_size: int = DEFAULT_MAX_FRAME) -> None:
        self.receiver = receiver
        self.tls = tls
        context = tls.context() if tls else None

        def make(address: tuple[str, int]) -> socketserver.BaseServer:
            server = _Server(address, _Handler)
            server.receiver = receiver
            server.max_frame_size = max_frame_size
            server.tls_context = context
            return server

        super().__init__(make, host=host, port=port)
