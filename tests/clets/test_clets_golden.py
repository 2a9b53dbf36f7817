"""Golden CLETS messages: each fixture, and each action of one order, rendered byte for byte.

Regenerate after an intended layout or renderer change with
``UPDATE_GOLDEN=1 /work/venv/bin/python -m pytest -q tests/clets/test_clets_golden.py``
and review the diff of ``tests/fixtures/clets/`` like code.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from engine.canonical import decode_order, order_from_dict
from engine.clets import render_clets, validate_clets
from engine.formats import RenderContext
from engine.law.derivations import apply_law
from engine.model import Action, Order
from tests.conftest import FIXTURES, ORDER_FIXTURES

GOLDEN = FIXTURES / "clets"
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"
BASE_FIXTURE = FIXTURES / "orders" / "dv_tro_issue.json"


def _action_variant(action: Action) -> Order:
    """The base fixture as version 2 doing ``action``, with what that action needs."""
    data = json.loads(BASE_FIXTURE.read_text(encoding="utf-8"))
    data.update(version=2, action=action.value)
    if action is Action.EXTEND:
        data["expiration_date"] = "2027-06-11"
    if action is Action.SERVE:
        # Served Saturday, proof filed Monday: a serve's issued_at is the filing.
        data["issued_at"] = "2026-11-23T09:05:00-08:00"
        data["service"] = {"status": "served", "served_at": "2026-11-21T09:10:00-08:00",
                           "served_by": "Los Angeles County Sheriff"}
    return apply_law(order_from_dict(data)).order


def _context(order: Order, golden: RenderContext, later: RenderContext) -> RenderContext:
    return golden if order.action is Action.ISSUE else later


def _check_golden(name: str, body: bytes) -> None:
    path = GOLDEN / f"{name}.txt"
    if UPDATE:
        GOLDEN.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body)
    assert path.exists(), f"no golden file {path.name}: run with UPDATE_GOLDEN=1 and review"
    assert body == path.read_bytes(), f"{path.name} differs (UPDATE_GOLDEN=1 if intended)"


@pytest.mark.parametrize("fixture", ORDER_FIXTURES, ids=lambda p: p.stem)
def test_fixture_matches_golden(fixture: Path, golden_context, later_context):
    """Each order fixture renders to exactly its golden CLETS message, as the intake sends
    it: with the values the law sets (`engine.law.derivations`)."""
    order = apply_law(decode_order(fixture.read_bytes())).order
    rendered = render_clets(order, _context(order, golden_context, later_context))
    _check_golden(fixture.stem, rendered.body)


@pytest.mark.parametrize("action", [a for a in Action if a is not Action.ISSUE],
                         ids=lambda a: a.value)
def test_action_matches_golden(action: Action, later_context):
    """Each action after the entry renders the base order to exactly its golden message."""
    rendered = render_clets(_action_variant(action), later_context)
    _check_golden(f"{BASE_FIXTURE.stem}.{action.value}", rendered.body)


@pytest.mark.parametrize("golden", sorted(GOLDEN.glob("*.txt")), ids=lambda p: p.stem)
def test_golden_files_pass_the_validator(golden: Path):
    """Every golden message passes the layout validator as the action its name says."""
    _, _, action = golden.stem.partition(".")
    expected = Action(action) if action else None
    assert validate_clets(golden.read_bytes(), expected) == []


def test_every_action_has_a_golden_message():
    """The golden set covers every action, so no action's message goes untested."""
    names = {p.stem for p in GOLDEN.glob("*.txt")}
    for action in Action:
        if action is Action.ISSUE:
            assert BASE_FIXTURE.stem in names
        else:
            assert f"{BASE_FIXTURE.stem}.{action.value}" in names
