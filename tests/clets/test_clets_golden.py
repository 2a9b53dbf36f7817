"""Golden CLETS messages: each fixture, and each action of one order, rendered byte for byte.

These tests only compare. Regenerate after an intended layout or renderer change with
``make goldens`` (tests/goldens.py) and review the diff of ``tests/fixtures/clets/`` like code.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.clets import validate_clets
from engine.model import Action
from tests.goldens import CLETS_BASE_FIXTURE as BASE_FIXTURE
from tests.goldens import CLETS_GOLDEN as GOLDEN
from tests.goldens import ORDER_FIXTURES, clets_action_golden, clets_fixture_golden


def _check_golden(path: Path, body: bytes) -> None:
    assert path.exists(), f"no golden file {path.name}: run `make goldens` and review"
    assert body == path.read_bytes(), f"{path.name} differs (`make goldens` if intended)"


@pytest.mark.parametrize("fixture", ORDER_FIXTURES, ids=lambda p: p.stem)
def test_fixture_matches_golden(fixture: Path) -> None:
    """Each order fixture renders to exactly its golden CLETS message."""
    _check_golden(*clets_fixture_golden(fixture))


@pytest.mark.parametrize("action", [a for a in Action if a is not Action.ISSUE],
                         ids=lambda a: a.value)
def test_action_matches_golden(action: Action) -> None:
    """Each action after the entry renders the base order to exactly its golden message."""
    _check_golden(*clets_action_golden(action))


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
