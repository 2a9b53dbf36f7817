"""The NIEM acknowledgement: render/parse round trip, and malformed answers -> AckError."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.ack_types import Accepted, Rejected
from engine.errors import AckError, RenderError
from engine.niem import parse_niem_ack, render_niem_ack

_identifier = st.text(st.characters(exclude_categories=("Cc", "Cs", "Zs", "Zl", "Zp"),
                                    exclude_characters="\ufffe\uffff\x85\xa0"),
                      min_size=1, max_size=64)
_reason = st.text(st.characters(exclude_categories=("Cc", "Cs"),
                                exclude_characters="\ufffe\uffff"), max_size=200)
_acks = st.one_of(
    st.builds(Accepted, mcn=_identifier, record_id=_identifier),
    st.builds(Rejected, mcn=_identifier, code=_identifier, reason=_reason,
              retryable=st.booleans()),
)

POX = 'xmlns:pox="urn:ca-courts:po-exchange:message:1.0"'


@given(_acks)
def test_ack_round_trip_is_lossless(ack: Accepted | Rejected) -> None:
    """Any acknowledgement rendered and parsed back is the same acknowledgement."""
    assert parse_niem_ack(render_niem_ack(ack)) == ack


def test_an_accepted_ack_looks_like_the_contract() -> None:
    """The accepted form names the MCN and the DOJ record id in the pox namespace."""
    body = render_niem_ack(Accepted(mcn="MCN-1", record_id="CA-DOJ-PO-000042")).decode()
    assert "<pox:ProtectionOrderAcknowledgement " in body
    assert "<pox:Accepted><pox:DOJRecordID>CA-DOJ-PO-000042</pox:DOJRecordID></pox:Accepted>" \
        in body


def test_an_ack_value_the_schema_refuses_is_not_rendered() -> None:
    """An MCN with a space cannot be sent; rendering raises RenderError."""
    with pytest.raises(RenderError):
        render_niem_ack(Accepted(mcn="MCN 1", record_id="R1"))


@pytest.mark.parametrize("document", [
    b"not xml at all",
    b"",
    f"<pox:ProtectionOrderMessage {POX}/>".encode(),
    f"<pox:ProtectionOrderAcknowledgement {POX}><pox:MessageControlNumber>M1"
    f"</pox:MessageControlNumber></pox:ProtectionOrderAcknowledgement>".encode(),
    f"<pox:ProtectionOrderAcknowledgement {POX}><pox:MessageControlNumber>M1"
    f"</pox:MessageControlNumber><pox:Accepted/></pox:ProtectionOrderAcknowledgement>".encode(),
    f"<pox:ProtectionOrderAcknowledgement {POX}><pox:MessageControlNumber>M1"
    f"</pox:MessageControlNumber><pox:Accepted><pox:DOJRecordID>R</pox:DOJRecordID>"
    f"</pox:Accepted><pox:Rejected><pox:RejectionCode>X</pox:RejectionCode>"
    f"<pox:RejectionReasonText>x</pox:RejectionReasonText><pox:RetryableIndicator>maybe"
    f"</pox:RetryableIndicator></pox:Rejected></pox:ProtectionOrderAcknowledgement>".encode(),
    f"<!DOCTYPE a [<!ENTITY x 'y'>]><pox:ProtectionOrderAcknowledgement {POX}/>".encode(),
    f"<pox:ProtectionOrderAcknowledgement {POX}>{'<a>' * 50}{'</a>' * 50}"
    f"</pox:ProtectionOrderAcknowledgement>".encode(),
    b"<ack>" + b"x" * 70_000 + b"</ack>",
], ids=["not-xml", "empty", "wrong-root", "no-verdict", "accepted-without-id",
        "both-verdicts", "doctype", "deep", "oversized"])
def test_a_malformed_ack_is_an_ack_error(document: bytes) -> None:
    """Anything that is not exactly one well-formed, valid acknowledgement raises AckError."""
    with pytest.raises(AckError):
        parse_niem_ack(document)
