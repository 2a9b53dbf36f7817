"""Shared test fixtures: paths to the fixture files and the loaded canonical orders."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.intake import decode_order
from engine.model import Order

TESTS = Path(__file__).parent
FIXTURES = TESTS / "fixtures"
ORDER_FIXTURES = sorted((FIXTURES / "orders").glob("*.json"))
#: The shared reference schemas beside the repository (present in CI and on dev machines).
SHARED_REFERENCE = TESTS.parent.parent / "shared" / "reference"


@pytest.fixture(params=ORDER_FIXTURES, ids=lambda p: p.stem)
def fixture_order_path(request: pytest.FixtureRequest) -> Path:
    """Each canonical order fixture file in turn."""
    return request.param


@pytest.fixture
def fixture_order(fixture_order_path: Path) -> Order:
    """Each canonical order fixture, decoded."""
    return decode_order(fixture_order_path.read_bytes())
