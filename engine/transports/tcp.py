"""TCP transport: a length-prefixed frame out, an acknowledgement frame back, on a kept connection.

The wire format is in `engine.transports.framing`. The transport is synchronous: `send`
writes a frame and reads frames until the acknowledgement carrying the same message
control number arrives (a stale acknowledgement left on the connection, e.g. a duplicate
the peer sent, is skipped). Any failure closes the connection; the next `send` opens a
new one. Retrying after a failure is safe because the receiver drops duplicates by MCN.
"""

from __future__ import annotations

import contextlib
import select
import socket
import ssl
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from engine.errors import DecodeError, DestinationRejected, TransportUnavailable
from engine.transports._config import TransportConfigError
from engine.transports._tls import client_tls_context
from engine.transports.base import Envelope, Receipt, Transport
from engine.transports.framing import DEFAULT_MAX_FRAME, FrameDecoder, encode_frame

__all__ = ["TcpTransport", "TcpTransportConfig"]

#: Frames with another MCN we skip while waiting for ours before giving up on the peer.
_MAX_STALE_FRAMES = 16
_RECV_SIZE = 65536


@dataclass(frozen=True, kw_only=True, slots=True)
class TcpTransportConfig:
    """Where the DOJ's TCP endpoint is and how to talk to it."""

    kind: Literal["tcp"] = "tcp"
    host: str
    port: int
    #: Wrap the connection in TLS (mutual TLS when ``cert_file`` is given). On by default:
    #: the messages carry names, dates of birth and licence numbers.
    tls: bool = True
    #: Needed, with ``tls: false``, to send in clear text (local tests only).
    allow_plaintext: bool = False
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    #: Passphrase of ``key_file`` (give it as ``key_password_file`` or ``key_password_env``).
    key_password: str | None = field(default=None, repr=False)
    verify_hostname: bool = True
    #: Name to check the server certificate against, when it differs from ``host``.
    server_name: str | None = None
    connect_timeout: float = 5.0
    #: Longest wait for the acknowledgement frame after the message was written.
    read_timeout: float = 30.0
    #: Largest frame sent or accepted (bytes of payload).
    max_frame_size: int = DEFAULT_MAX_FRAME

    def __post_init__(self) -> None:
        if not 0 < self.port < 65536:
            raise TransportConfigError("port must be between 1 and 65535")
        if self.connect_timeout <= 0 or self.read_timeout <= 0:
            raise TransportConfigError("connect_timeout and read_timeout must be above zero")
        if not self.tls and not self.allow_plaintext:
            raise TransportConfigError(
                "tls: false sends the orders in clear text: keep tls: true (the default), "
                "or set allow_plaintext: true for local tests")
        if not self.tls and (self.ca_file or self.cert_file or self.key_file):
            raise TransportConfigError("ca_file/cert_file/key_file need tls: true")
        if self.max_frame_size < 1024:
            raise TransportConfigError("max_frame_size must be at least 1024 bytes")


class TcpTransport(Transport):
    """Sends envelopes as frames over one persistent (optionally TLS) TCP connection."""

    def __init__(self, config: TcpTransportConfig) -> None:
        self.config = config
        self._context: ssl.SSLContext | None = None
        if config.tls:
            self._context = client_tls_context(
                ca_file=config.ca_file, cert_file=config.cert_file, key_file=config.key_file,
                key_password=config.key_password, verify_hostname=config.verify_hostname,
                where="tcp transport")
        self._sock: socket.socket | None = None
        self._decoder = FrameDecoder(config.max_frame_size)

    @property
    def _where(self) -> str:
        return f"{self.config.host}:{self.config.port}"

    def connect(self) -> None:
        if self._sock is not None:
            return
        cfg = self.config
        try:
            sock = socket.create_connection((cfg.host, cfg.port), timeout=cfg.connect_timeout)
            if self._context is not None:
                try:
                    sock = self._context.wrap_socket(
                        sock, server_hostname=cfg.server_name or cfg.host)
                except BaseException:
                    sock.close()
                    raise
        except (OSError, ssl.SSLError) as exc:
            raise TransportUnavailable(
                f"tcp connect to {self._where}: {exc.__class__.__name__}: {exc}") from exc
        sock.settimeout(cfg.read_timeout)
        self._sock = sock
        self._decoder = FrameDecoder(cfg.max_frame_size)

    def _drop_if_closed_by_peer(self) -> None:
        """Notice a kept connection the peer closed while we were idle, before writing to it.

        Bytes already waiting (a duplicate acknowledgement the peer sent) are kept in the
        decoder and skipped later by MCN.
        """
        sock = self._sock
        if sock is None:
            return
        try:
            readable, _, _ = select.select([sock], [], [], 0)
            if not readable:
                return
            sock.setblocking(False)
            try:
                data = sock.recv(_RECV_SIZE)
            finally:
                sock.settimeout(self.config.read_timeout)
        except (BlockingIOError, ssl.SSLWantReadError):
            return
        except (OSError, ValueError):
            self.close()
            return
        if not data:
            self.close()
            return
        try:
            self._decoder.feed(data)
        except DecodeError:
            self.close()

    def send(self, envelope: Envelope) -> Receipt:
        try:
            frame = encode_frame(envelope.mcn, envelope.body, max_size=self.config.max_frame_size)
        except ValueError as exc:
            raise DestinationRejected(f"tcp frame for {envelope.mcn!r}: {exc}") from exc
        self._drop_if_closed_by_peer()
        self.connect()
        sock = self._sock
        assert sock is not None
        try:
            sock.sendall(frame)
            return Receipt(envelope.mcn, self._read_ack(sock, envelope.mcn))
        except TimeoutError as exc:
            self.close()
            raise TransportUnavailable(
                f"tcp {self._where}: no acknowledgement for {envelope.mcn} within "
                f"{self.config.read_timeout}s") from exc
        except DecodeError as exc:
            self.close()
            raise TransportUnavailable(f"tcp {self._where}: garbled reply: {exc}") from exc
        except (OSError, ssl.SSLError) as exc:
            self.close()
            raise TransportUnavailable(
                f"tcp {self._where}: {exc.__class__.__name__}: {exc}") from exc

    def _read_ack(self, sock: socket.socket, mcn: str) -> bytes:
        stale = 0
        frames = self._decoder.feed(b"")
        while True:
            for frame in frames:
                if frame.mcn == mcn:
                    return frame.body
                stale += 1
            if stale > _MAX_STALE_FRAMES:
                raise DecodeError(f"{stale} acknowledgements for other messages in a row")
            data = sock.recv(_RECV_SIZE)
            if not data:
                raise ConnectionResetError("connection closed by peer before the acknowledgement")
            frames = self._decoder.feed(data)

    def close(self) -> None:
        sock, self._sock = self._sock, None
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.close()
