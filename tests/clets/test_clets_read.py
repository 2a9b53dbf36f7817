"""Reading a received CLETS message: which order, which action, which record it names."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from engine.canonical import decode_order
from engine.clets import read_clets, render_clets
from engine.errors import OrderInvalid
from engine.formats import RenderContext
from tests.conftest import FIXTURES

GOLDEN = FIXTURES / "clets"


@pytest.mark.parametrize("golden", sorted(GOLDEN.glob("dv_tro_issue*.txt")),
                         ids=lambda p: p.stem)
def test_action_and_record_of_each_golden(golden: Path):
    """Each golden message reads back as its own action, with the record id it carries."""
    _, _, action = golden.stem.partition(".")
    facts = read_clets(golden.read_bytes())
    assert facts["action"] == (action or "issue")
    assert facts["record_id"] == (None if not action else "H000012345")
    assert facts["version"] is None


def test_order_key_is_the_canonical_key(fixture_order_path: Path):
    """The order key read from each fixture's message equals the order's own key."""
    order = decode_order(fixture_order_path.read_bytes())
    ctx = RenderContext(mcn="M-1", sent_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
                        doj_record_id="H1")
    assert read_clets(render_clets(order, ctx).body)["order_key"] == order.key


def test_invalid_message_raises_with_field_errors():
    """An invalid message raises OrderInvalid naming the field and rule."""
    text = (GOLDEN / "dv_tro_issue.txt").read_text(encoding="ascii").replace("SEX/M", "SEX/Q")
    with pytest.raises(OrderInvalid) as caught:
        read_clets(text)
    assert [(e.path, e.reason.split(":")[0]) for e in caught.value.errors] == [
        ("SEX", "bad code")]
