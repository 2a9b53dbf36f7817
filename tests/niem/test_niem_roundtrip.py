"""Property: canonical -> NIEM -> canonical is lossless, and rendering is deterministic.

Orders come from the shared strategy `tests.strategies.orders` (valid orders of every type
and action, names of many scripts, every identifier kind). `render_niem` validates each
document against the schemas before returning it, so every example is also a schema check.
"""

from __future__ import annotations

import datetime as dt

from hypothesis import given, settings

from engine.formats import RenderContext
from engine.model import Order
from engine.niem import read_niem, render_niem
from tests.strategies import orders

CONTEXT = RenderContext(mcn="MCN-PROPERTY-1",
                        sent_at=dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.UTC),
                        doj_record_id="CA-DOJ-PO-000042")


@settings(max_examples=200)
@given(orders())
def test_niem_round_trip_is_lossless(order: Order) -> None:
    """Any valid order rendered to NIEM and read back is the same order."""
    assert read_niem(render_niem(order, CONTEXT).body) == order


@settings(max_examples=50)
@given(orders())
def test_rendering_is_deterministic(order: Order) -> None:
    """The same order and context always give the same bytes (so goldens and retries agree)."""
    assert render_niem(order, CONTEXT).body == render_niem(order, CONTEXT).body
