"""The TCP wire format: length-prefixed frames that carry a message control number and a body.

One frame, in either direction (engine -> DOJ message, DOJ -> engine acknowledgement)::

    +--------------------+------------------------------------------------+
    | length: 4 bytes,   | payload: ``length`` bytes                       |
    | unsigned, big-     |   b"MCN " + mcn (printable ASCII, no spaces,   |
    | endian, payload    |            1-64 chars) + b"\\n"                 |
    | only               |   + body (the rendered message or the ack,     |
    |                    |           any bytes, may be empty)              |
    +--------------------+------------------------------------------------+

The MCN sits in a one-line header, outside the body, so that a receiver can drop a
duplicate and the sender can match an acknowledgement to its message without parsing
NIEM XML or CLETS text. Frames larger than the agreed cap are refused before their bytes
are read (a hostile or broken peer cannot make us buffer gigabytes).

`FrameDecoder` is incremental: feed it whatever ``recv`` returned, get back whole frames.
After a decode error the stream cannot be resynchronised: close the connection.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass

from engine.errors import DecodeError

__all__ = ["DEFAULT_MAX_FRAME", "Frame", "FrameDecoder", "encode_frame"]

#: Largest payload accepted by default (4 MiB): far above any order message.
DEFAULT_MAX_FRAME = 4 * 1024 * 1024
_LENGTH = struct.Struct(">I")
_MCN = re.compile(rb"[!-~]{1,64}")
_MAX_HEADER = len(b"MCN ") + 64 + 1


@dataclass(frozen=True, slots=True)
class Frame:
    """One decoded frame: the message control number and the body."""

    mcn: str
    body: bytes


def encode_frame(mcn: str, body: bytes, *, max_size: int = DEFAULT_MAX_FRAME) -> bytes:
    """The bytes of one frame; `ValueError` for a bad MCN or a payload above ``max_size``."""
    raw_mcn = mcn.encode("ascii", errors="ignore")
    if len(raw_mcn) != len(mcn) or not _MCN.fullmatch(raw_mcn):
        raise ValueError("message control number must be 1-64 printable ASCII characters")
    payload = b"MCN " + raw_mcn + b"\n" + body
    if len(payload) > max_size:
        raise ValueError(f"frame payload of {len(payload)} bytes exceeds the cap of {max_size}")
    return _LENGTH.pack(len(payload)) + payload


def _parse_payload(payload: bytes) -> Frame:
    newline = payload.find(b"\n", 0, _MAX_HEADER)
    if newline < 0 or not payload.startswith(b"MCN "):
        raise DecodeError("frame header: expected 'MCN <control number>' and a newline")
    raw_mcn = payload[4:newline]
    if not _MCN.fullmatch(raw_mcn):
        raise DecodeError("frame header: control number must be 1-64 printable ASCII characters")
    return Frame(raw_mcn.decode("ascii"), payload[newline + 1:])


class FrameDecoder:
    """Turns a byte stream into frames, however the stream was split by the network."""

    def __init__(self, max_size: int = DEFAULT_MAX_FRAME) -> None:
        if max_size < _MAX_HEADER:
            raise ValueError(f"max_size must be at least {_MAX_HEADER} bytes")
        self.max_size = max_size
        self._buffer = bytearray()
        self._failed = False

    @property
    def pending(self) -> int:
        """Bytes received that do not yet make a whole frame."""
        return len(self._buffer)

    def feed(self, data: bytes) -> list[Frame]:
        """Add received bytes; return every frame now complete, in order.

        Raises `DecodeError` for a frame above the cap or with a bad header; the decoder
        then refuses further input (the connection must be closed).
        """
        if self._failed:
            raise DecodeError("frame stream is broken: close the connection")
        self._buffer += data
        frames: list[Frame] = []
        while len(self._buffer) >= _LENGTH.size:
            (length,) = _LENGTH.unpack_from(self._buffer)
            if length > self.max_size:
                self._failed = True
                raise DecodeError(
                    f"frame of {length} bytes exceeds the cap of {self.max_size} bytes")
            end = _LENGTH.size + length
            if len(self._buffer) < end:
                break
            payload = bytes(self._buffer[_LENGTH.size:end])
            del self._buffer[:end]
            try:
                frames.append(_parse_payload(payload))
            except DecodeError:
                self._failed = True
                raise
        return frames
