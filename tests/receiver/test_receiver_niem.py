"""The receiver with the real NIEM format: schema validation, NIEM acks, record ids in messages."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from engine import niem
from engine.ack_types import Accepted
from engine.canonical import decode_order
from engine.formats import RenderContext
from engine.law.court_calendar import CourtCalendar
from engine.law.rules import latest_expiration
from engine.model import Action, Order, Service
from engine.receiver import HttpReceiverServer, Receiver

ORDERS = Path(__file__).parent.parent / "fixtures" / "orders"
SENT_AT = dt.datetime(2026, 11, 23, 18, 0, tzinfo=dt.UTC)


def fixture(name: str) -> Order:
    return decode_order((ORDERS / f"{name}.json").read_bytes())


def as_entry(order: Order) -> Order:
    """The order as its first version, an issue (the entry every later action needs), dated
    as an entry can be: issued on the order's effective date, ending as the law allows."""
    issued = dt.datetime.combine(order.effective_date, dt.time(9),
                                 tzinfo=dt.timezone(dt.timedelta(hours=-8)))
    entry = order.model_copy(update={"version": 1, "action": Action.ISSUE, "issued_at": issued,
                                     "service": Service()})
    latest = latest_expiration(entry, CourtCalendar())
    if latest is not None and (entry.expiration_date is None
                               or entry.expiration_date > latest):
        entry = entry.model_copy(update={"expiration_date": latest})
    return entry


def niem_message(order: Order, mcn: str, record_id: str | None = None) -> bytes:
    return niem.render_niem(order, RenderContext(mcn, SENT_AT, record_id)).body


def answer(receiver: Receiver, mcn: str, body: bytes):
    outcome = receiver.handle(mcn, body, "application/xml", transport="test")
    return niem.parse_niem_ack(outcome.replies[0])


def test_valid_niem_entry_gets_a_niem_accept(fixture_order: Order) -> None:
    """Every fixture order as NIEM is accepted (after its entry) and acked in NIEM."""
    receiver = Receiver(format="niem")
    if fixture_order.action is not Action.ISSUE:
        answer(receiver, "E", niem_message(as_entry(fixture_order), "E"))
    record = receiver.journal.record_for(fixture_order.key)
    ack = answer(receiver, "M1", niem_message(
        fixture_order, "M1", record[0] if record else None))
    assert isinstance(ack, Accepted)
    assert ack.mcn == "M1"


def test_broken_niem_is_rejected_as_invalid() -> None:
    """A NIEM message that is not well-formed is rejected INVALID, with a reason."""
    body = niem_message(fixture("dv_tro_issue"), "M1").replace(b"</", b"<", 1)
    ack = answer(Receiver(format="niem"), "M1", body)
    assert ack.code == "INVALID"
    assert ack.reason


def test_modify_naming_another_record_is_a_mismatch() -> None:
    """A NIEM modify whose DOJRecordID is not the order's record is WRONG-NIC."""
    receiver = Receiver(format="niem")
    record = answer(receiver, "E", niem_message(as_entry(fixture("ch_oah_modify")),
                                                "E")).record_id
    wrong = answer(receiver, "M", niem_message(fixture("ch_oah_modify"), "M", "H999999999"))
    assert wrong.code == "WRONG-NIC"
    right = answer(receiver, "M2", niem_message(fixture("ch_oah_modify"), "M2", record))
    assert right == Accepted("M2", record)


def test_niem_over_http_with_auto_format(fixture_order: Order) -> None:
    """With format auto, application/xml over HTTP is validated and acked as NIEM."""
    from engine.transports import Envelope, build_transport

    receiver = Receiver()
    with HttpReceiverServer(receiver) as srv, build_transport(
            {"kind": "https", "url": srv.url, "allow_plain_http": True}) as t:
        receipt = t.send(Envelope("H1", niem_message(as_entry(fixture_order), "H1"),
                                  "application/xml"))
    assert isinstance(niem.parse_niem_ack(receipt.ack), Accepted)
