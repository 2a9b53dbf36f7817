"""The receiver with the real CLETS format: layout validation, CLETS acks, records found by NIC."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from engine import clets
from engine.ack_types import Accepted, Rejected
from engine.canonical import decode_order
from engine.formats import RenderContext
from engine.receiver import Receiver

ORDERS = Path(__file__).parent.parent / "fixtures" / "orders"
SENT_AT = dt.datetime(2026, 11, 23, 18, 0, tzinfo=dt.UTC)


def message(name: str, mcn: str, record_id: str | None = None) -> bytes:
    order = decode_order((ORDERS / f"{name}.json").read_bytes())
    return clets.render_clets(order, RenderContext(mcn, SENT_AT, record_id)).body


def answer(receiver: Receiver, mcn: str, body: bytes) -> Accepted | Rejected:
    outcome = receiver.handle(mcn, body, "text/plain", transport="test")
    return clets.parse_clets_ack(outcome.replies[0])


def test_entry_then_later_actions_meet_the_same_record() -> None:
    """Entry, serve, extend and terminate of one order are all accepted on one record."""
    receiver = Receiver(format="clets")
    entry = answer(receiver, "E1", message("dv_tro_issue", "E1"))
    assert isinstance(entry, Accepted)
    for i, name in enumerate(["dv_tro_serve_v2", "dv_tro_extend_v3", "dv_tro_terminate_v4"]):
        later = answer(receiver, f"L{i}", message(name, f"L{i}", entry.record_id))
        assert later == Accepted(f"L{i}", entry.record_id)


def test_action_after_the_clear_finds_no_record() -> None:
    """Once terminated, the record takes no further modify."""
    receiver = Receiver(format="clets")
    record = answer(receiver, "E1", message("dv_tro_issue", "E1")).record_id
    answer(receiver, "T1", message("dv_tro_terminate_v4", "T1", record))
    late = answer(receiver, "X1", message("dv_tro_extend_v3", "X1", record))
    assert (late.code, late.retryable) == ("NO-RECORD", False)


def test_unknown_record_id_is_no_record() -> None:
    """A cancel naming a record this registry never issued is rejected NO-RECORD."""
    ack = answer(Receiver(format="clets"), "C1", message("cr_cpo_cancel_v2", "C1", "H999999999"))
    assert ack.code == "NO-RECORD"


def test_layout_violation_is_invalid_with_the_field_named() -> None:
    """A bad code in a field is INVALID, naming the field and the rule, not the value."""
    body = message("dv_tro_issue", "B1").replace(b"\nSEX/M\n", b"\nSEX/Q\n")
    ack = answer(Receiver(format="clets"), "B1", body)
    assert ack.code == "INVALID"
    assert ack.reason.startswith("SEX: bad code")
