"""The DOJ's acknowledgement of a NIEM message: `Accepted` / `Rejected` <-> XML.

The acknowledgement lives in the message-wrapper namespace (one schema document for both,
schemas/niem/message/pox-message.xsd): it names the message by its control number and either
accepts it with the DOJ record id or rejects it with a code, a reason and whether retrying
later can help. Our reference receiver renders it; the correlator parses it. Anything else is
an `AckError`, never a guess.
"""

from __future__ import annotations

from lxml import etree

from engine.ack_types import Accepted, Acknowledgement, Rejected
from engine.errors import AckError, DecodeError, RenderError
from engine.niem.namespaces import NS, q
from engine.niem.schema import ack_schema
from engine.safexml import parse_untrusted_xml

__all__ = ["ACK_CONTENT_TYPE", "parse_niem_ack", "render_niem_ack"]

ACK_CONTENT_TYPE = "application/xml"
#: An acknowledgement is a few hundred bytes; refuse anything far larger before parsing.
MAX_ACK_BYTES = 64_000
_ACK_DEPTH = 8

_SUB = etree.SubElement


def render_niem_ack(ack: Acknowledgement) -> bytes:
    """The acknowledgement as validated XML; `RenderError` if its values cannot be sent."""
    root = etree.Element(q("pox", "ProtectionOrderAcknowledgement"), nsmap={"pox": NS["pox"]})
    try:
        _SUB(root, q("pox", "MessageControlNumber")).text = ack.mcn
        if isinstance(ack, Accepted):
            accepted = _SUB(root, q("pox", "Accepted"))
            _SUB(accepted, q("pox", "DOJRecordID")).text = ack.record_id
        elif isinstance(ack, Rejected):
            rejected = _SUB(root, q("pox", "Rejected"))
            _SUB(rejected, q("pox", "RejectionCode")).text = ack.code
            _SUB(rejected, q("pox", "RejectionReasonText")).text = ack.reason
            _SUB(rejected, q("pox", "RetryableIndicator")).text = (
                "true" if ack.retryable else "false")
        else:
            raise RenderError(f"not an acknowledgement: {type(ack).__name__}")
    except ValueError:  # a character XML 1.0 cannot carry
        raise RenderError("acknowledgement has characters XML cannot carry") from None
    errors = ack_schema().errors(root)
    if errors:
        raise RenderError("acknowledgement does not validate: "
                          + "; ".join(str(e) for e in errors), tuple(errors))
    data: bytes = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
    return data


def parse_niem_ack(data: bytes) -> Accepted | Rejected:
    """The DOJ's answer as a typed result; `AckError` naming the problem when malformed."""
    try:
        root = parse_untrusted_xml(data, max_bytes=MAX_ACK_BYTES, max_depth=_ACK_DEPTH)
    except DecodeError as exc:
        raise AckError(f"NIEM acknowledgement refused: {exc}") from None
    if root.tag != q("pox", "ProtectionOrderAcknowledgement"):
        raise AckError("NIEM acknowledgement must have root pox:ProtectionOrderAcknowledgement "
                       f"in {NS['pox']}")
    errors = ack_schema().errors(root)
    if errors:
        raise AckError("NIEM acknowledgement does not validate: "
                       + "; ".join(str(e) for e in errors))
    mcn = root.findtext(q("pox", "MessageControlNumber"))
    accepted = root.find(q("pox", "Accepted"))
    if accepted is not None:
        return Accepted(mcn=mcn, record_id=accepted.findtext(q("pox", "DOJRecordID")))
    rejected = root.find(q("pox", "Rejected"))
    retryable = rejected.findtext(q("pox", "RetryableIndicator")).strip() in ("true", "1")
    return Rejected(mcn=mcn, code=rejected.findtext(q("pox", "RejectionCode")),
                    reason=rejected.findtext(q("pox", "RejectionReasonText")) or "",
                    retryable=retryable)
