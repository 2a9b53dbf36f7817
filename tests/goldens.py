"""The golden files and what each must hold, in one place.

The golden tests (tests/niem/test_niem_golden.py, tests/clets/test_clets_golden.py) only
compare: they never write a file, so a difference always fails. After an intended change
to the rendering, regenerate them with ``make goldens`` (``python -m tests.regenerate_goldens``)
and review the diff of tests/fixtures/niem/ and tests/fixtures/clets/ like code.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from engine.canonical import decode_order, order_from_dict
from engine.clets import render_clets
from engine.formats import RenderContext
from engine.law.derivations import apply_law
from engine.model import Action, Order
from engine.niem import render_niem

FIXTURES = Path(__file__).parent / "fixtures"
ORDER_FIXTURES = sorted((FIXTURES / "orders").glob("*.json"))
NIEM_GOLDEN = FIXTURES / "niem"
CLETS_GOLDEN = FIXTURES / "clets"
#: The order whose every action after the entry has a CLETS golden message.
CLETS_BASE_FIXTURE = FIXTURES / "orders" / "dv_tro_issue.json"
#: The record id the CLETS golden files use for every action after the entry.
GOLDEN_RECORD_ID = "H000012345"
GOLDEN_SENT_AT = dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.UTC)


def niem_context(stem: str, order: Order) -> RenderContext:
    """The fixed transmission facts every NIEM golden document is rendered with."""
    return RenderContext(
        mcn=f"MCN-{stem}", sent_at=GOLDEN_SENT_AT,
        doj_record_id=None if order.action is Action.ISSUE else "CA-DOJ-PO-000042",
        previous_mcn=None if order.action is Action.ISSUE else f"MCN-{stem}-previous")


def clets_context(order: Order) -> RenderContext:
    """The fixed context of CLETS golden messages: the record id once the entry exists."""
    return RenderContext(mcn="MCN-GOLDEN-0001", sent_at=GOLDEN_SENT_AT,
                         doj_record_id=None if order.action is Action.ISSUE
                         else GOLDEN_RECORD_ID)


def clets_action_variant(action: Action) -> Order:
    """The base fixture as version 2 doing ``action``, with what that action needs."""
    data = json.loads(CLETS_BASE_FIXTURE.read_text(encoding="utf-8"))
    data.update(version=2, action=action.value)
    if action is Action.EXTEND:
        data["expiration_date"] = "2027-06-11"
    if action is Action.SERVE:
        # Served Saturday, proof filed Monday: a serve's issued_at is the filing.
        data["issued_at"] = "2026-11-23T09:05:00-08:00"
        data["service"] = {"status": "served", "served_at": "2026-11-21T09:10:00-08:00",
                           "served_by": "Los Angeles County Sheriff"}
    return apply_law(order_from_dict(data)).order


def niem_golden(fixture: Path) -> tuple[Path, bytes]:
    """A fixture order's golden NIEM document, as the intake sends it (with the values the
    law sets, `engine.law.derivations`): where it lives and what it must hold."""
    order = apply_law(decode_order(fixture.read_bytes())).order
    body = render_niem(order, niem_context(fixture.stem, order)).body
    return NIEM_GOLDEN / f"{fixture.stem}.xml", body


def clets_fixture_golden(fixture: Path) -> tuple[Path, bytes]:
    """A fixture order's golden CLETS message, as the intake sends it (law applied)."""
    order = apply_law(decode_order(fixture.read_bytes())).order
    return CLETS_GOLDEN / f"{fixture.stem}.txt", render_clets(order, clets_context(order)).body


def clets_action_golden(action: Action) -> tuple[Path, bytes]:
    """The base order's golden CLETS message for an action after the entry."""
    order = clets_action_variant(action)
    return (CLETS_GOLDEN / f"{CLETS_BASE_FIXTURE.stem}.{action.value}.txt",
            render_clets(order, clets_context(order)).body)


def all_goldens() -> list[tuple[Path, bytes]]:
    """Every golden file with the content the renderers give now."""
    return [*(niem_golden(f) for f in ORDER_FIXTURES),
            *(clets_fixture_golden(f) for f in ORDER_FIXTURES),
            *(clets_action_golden(a) for a in Action if a is not Action.ISSUE)]
