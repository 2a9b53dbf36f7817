"""CLETS acknowledgements: rendered and parsed both ways; anything malformed is an AckError."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.ack_types import Accepted, Rejected
from engine.clets import parse_clets_ack, render_clets_ack
from engine.errors import AckError

mcns = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdef0123456789-", min_size=1, max_size=36)
record_ids = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", min_size=1, max_size=15)
codes = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-", min_size=1, max_size=10)
reasons = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E),
                  max_size=200).map(str.strip)

ACCEPTED = b"ACK/ACCEPT\nMCN/MCN-1\nNIC/H000012345\nEND\n"
REJECTED = b"ACK/REJECT\nMCN/MCN-1\nERR/E0042\nTXT/INVALID PCO\nRTY/N\nEND\n"


class TestRoundTrip:
    @given(mcns, record_ids)
    def test_accepted(self, mcn, record_id):
        """Any acceptance parses back to itself."""
        ack = Accepted(mcn=mcn, record_id=record_id)
        assert parse_clets_ack(render_clets_ack(ack)) == ack

    @given(mcns, codes, reasons, st.booleans())
    def test_rejected(self, mcn, code, reason, retryable):
        """Any reject, retryable or not, parses back to itself."""
        ack = Rejected(mcn=mcn, code=code, reason=reason, retryable=retryable)
        assert parse_clets_ack(render_clets_ack(ack)) == ack

    @given(mcns, codes, st.text(max_size=600))
    def test_any_reason_text_renders_a_parseable_reject(self, mcn, code, reason):
        """Any reject reason (control characters, any script) renders an ack that parses."""
        parsed = parse_clets_ack(render_clets_ack(Rejected(mcn, code, reason)))
        assert (parsed.mcn, parsed.code) == (mcn, code)

    def test_documented_forms(self):
        """The documented accept and reject texts parse to the typed results."""
        assert parse_clets_ack(ACCEPTED) == Accepted("MCN-1", "H000012345")
        assert parse_clets_ack(REJECTED) == Rejected("MCN-1", "E0042", "INVALID PCO", False)

    def test_system_busy_is_retryable(self):
        """RTY/Y marks a DOJ-side transient fault as retryable."""
        busy = REJECTED.replace(b"RTY/N", b"RTY/Y").replace(b"INVALID PCO", b"SYSTEM BUSY")
        assert parse_clets_ack(busy).retryable is True

    def test_crlf_line_ends(self):
        """CR LF line ends parse like LF."""
        assert parse_clets_ack(ACCEPTED.replace(b"\n", b"\r\n")) == Accepted("MCN-1",
                                                                             "H000012345")

    def test_non_ascii_reason_is_fitted(self):
        """A reject reason with accents is sent transliterated, so the ack stays ASCII."""
        text = render_clets_ack(Rejected("M-1", "E1", "Nombre inválido"))
        assert parse_clets_ack(text).reason == "Nombre invalido"

    def test_unparseable_fields_are_not_rendered(self):
        """An ack whose record id could not be parsed back is refused at render time."""
        with pytest.raises(AckError, match="NIC"):
            render_clets_ack(Accepted("M-1", "h 1"))


class TestMalformed:
    @pytest.mark.parametrize(("data", "problem"), [
        (b"", "truncated"),
        (b"\x00\xff garbage \x89PNG", "not ASCII"),
        (b"<html>503 Service Unavailable</html>", "truncated"),
        (ACCEPTED[:-4], "truncated"),
        (ACCEPTED[:20], "truncated"),
        (ACCEPTED.replace(b"MCN/MCN-1\n", b""), "no MCN"),
        (ACCEPTED.replace(b"MCN/MCN-1", b"MCN/"), "MCN is malformed"),
        (ACCEPTED.replace(b"NIC/H000012345\n", b""), "no NIC"),
        (ACCEPTED.replace(b"ACK/ACCEPT", b"ACK/MAYBE"), "no ACK/ACCEPT"),
        (ACCEPTED.replace(b"NIC/", b"XYZ/"), "line 3"),
        (ACCEPTED.replace(b"END", b"MCN/MCN-2\nEND"), "repeats MCN"),
        (ACCEPTED.replace(b"END", b"ERR/E1\nEND"), "reject fields"),
        (REJECTED.replace(b"ERR/E0042\n", b""), "no ERR"),
        (REJECTED.replace(b"RTY/N", b"RTY/MAYBE"), "RTY"),
        (REJECTED.replace(b"END", b"NIC/H1\nEND"), "record id"),
        (REJECTED.replace(b"INVALID PCO", b"TAB\tHERE"), "control characters"),
        (b"ACK/ACCEPT\n" + b"TXT/" + b"A" * 9000 + b"\nEND\n", "larger than"),
    ])
    def test_is_an_ack_error(self, data, problem):
        """A malformed acknowledgement raises AckError saying what is wrong."""
        with pytest.raises(AckError, match=problem):
            parse_clets_ack(data)

    def test_error_does_not_quote_the_response(self):
        """The AckError message does not repeat the response text (it may be personal)."""
        with pytest.raises(AckError) as caught:
            parse_clets_ack(b"ACK/REJECT\nMCN/M-1\nTXT/NGUYEN THI LAN\nEND\n")
        assert "NGUYEN" not in str(caught.value)

    @given(st.binary(max_size=300))
    def test_arbitrary_bytes_never_escape_as_other_errors(self, data):
        """Any bytes either parse to a typed result or raise AckError, nothing else."""
        try:
            result = parse_clets_ack(data)
        except AckError:
            return
        assert isinstance(result, Accepted | Rejected)
