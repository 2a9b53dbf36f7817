"""Shared test fixtures: paths to the fixture files and the loaded canonical orders."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from engine.canonical import decode_order
from engine.model import Order

# Hypothesis' deadline and too_slow check are timing assertions: on a shared 2-core machine
# they fail for reasons that have nothing to do with the code, so they are off everywhere.
settings.register_profile("engine", deadline=None, suppress_health_check=[HealthCheck.too_slow])
# CI (env CI set) is reproducible: the same examples on every run (derandomize; a failure
# seen once is seen again on a rerun), and a failure prints its @reproduce_failure blob.
settings.register_profile("ci", parent=settings.get_profile("engine"), derandomize=True,
                          print_blob=True, database=None)
settings.load_profile("ci" if os.environ.get("CI") else "engine")

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
