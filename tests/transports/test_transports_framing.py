"""TCP frames: encoding, incremental decoding however the stream is split, and hostile input."""

from __future__ import annotations

import itertools
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.errors import DecodeError
from engine.transports.framing import Frame, FrameDecoder, encode_frame

mcns = st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1,
               max_size=64)
frames = st.lists(st.builds(Frame, mcns, st.binary(max_size=2000)), max_size=8)


class TestEncodeFrame:
    def test_frame_is_length_prefix_then_mcn_line_then_body(self) -> None:
        """A frame is a 4-byte big-endian payload length, 'MCN <mcn>\\n', then the body."""
        assert encode_frame("A1", b"<x/>") == b"\x00\x00\x00\x0bMCN A1\n<x/>"

    @pytest.mark.parametrize("mcn", ["", "has space", "x" * 65, "caf\u00e9"])
    def test_bad_mcn_is_refused(self, mcn: str) -> None:
        """An MCN that is empty, has spaces, is too long or not ASCII cannot be framed."""
        with pytest.raises(ValueError, match="control number"):
            encode_frame(mcn, b"")

    def test_payload_above_cap_is_refused(self) -> None:
        """A body that would make the payload exceed the cap is refused before sending."""
        with pytest.raises(ValueError, match="exceeds the cap"):
            encode_frame("M", b"x" * 2000, max_size=1024)


class TestFrameDecoder:
    def test_byte_by_byte_feed_yields_the_frame_once_complete(self) -> None:
        """Partial reads: nothing comes out until the last byte of the frame arrives."""
        data = encode_frame("M1", b"hello")
        decoder = FrameDecoder()
        for byte in data[:-1]:
            assert decoder.feed(bytes([byte])) == []
        assert decoder.feed(data[-1:]) == [Frame("M1", b"hello")]
        assert decoder.pending == 0

    def test_oversize_length_is_refused_before_the_body_arrives(self) -> None:
        """A length prefix above the cap raises at once, without waiting for (or buffering) it."""
        decoder = FrameDecoder(max_size=1024)
        with pytest.raises(DecodeError, match="exceeds the cap"):
            decoder.feed(struct.pack(">I", 10_000_000))

    def test_decoder_refuses_input_after_an_error(self) -> None:
        """After a bad frame the stream cannot be resynchronised: further input is refused."""
        decoder = FrameDecoder()
        with pytest.raises(DecodeError):
            decoder.feed(struct.pack(">I", 3) + b"abc")
        with pytest.raises(DecodeError, match="broken"):
            decoder.feed(encode_frame("M1", b""))

    @pytest.mark.parametrize("payload", [b"abc", b"MCN \nbody", b"MCN a b\nx", b"mcn A\nx",
                                         b"MCN " + b"x" * 80 + b"\n"])
    def test_bad_header_is_a_decode_error(self, payload: bytes) -> None:
        """A payload without a valid 'MCN <mcn>' first line is a DecodeError."""
        with pytest.raises(DecodeError, match="frame header"):
            FrameDecoder().feed(struct.pack(">I", len(payload)) + payload)

    @given(frames, st.lists(st.integers(min_value=0, max_value=20000), max_size=10))
    def test_any_split_of_the_stream_gives_the_same_frames(self, sent: list[Frame],
                                                           cuts: list[int]) -> None:
        """However the network splits the byte stream, the decoder returns the frames sent."""
        stream = b"".join(encode_frame(f.mcn, f.body) for f in sent)
        points = sorted({min(c, len(stream)) for c in cuts} | {0, len(stream)})
        decoder = FrameDecoder()
        received: list[Frame] = []
        for start, end in itertools.pairwise(points):
            received += decoder.feed(stream[start:end])
        assert received == sent
        assert decoder.pending == 0

    @given(st.binary(max_size=5000))
    def test_arbitrary_bytes_give_frames_or_a_decode_error(self, data: bytes) -> None:
        """Random bytes never crash the decoder: frames, buffering, or DecodeError only."""
        decoder = FrameDecoder(max_size=2048)
        try:
            out = decoder.feed(data)
        except DecodeError:
            return
        assert all(isinstance(f, Frame) for f in out)
        assert decoder.pending <= 4 + 2048
