"""Fixtures for ledger tests: a migrated SQLite ledger with a hand-moved clock."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from engine.ledger import IntakeRecord, Ledger, open_database


class Clock:
    def __init__(self) -> None:
        self.now = dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += dt.timedelta(seconds=seconds)


@pytest.fixture
def clock() -> Clock:
    """A clock tests move by hand."""
    return Clock()


@pytest.fixture
def ledger(tmp_path: Path, clock: Clock) -> Ledger:
    """A fresh migrated SQLite ledger."""
    return Ledger(open_database(f"sqlite:///{tmp_path / 'ledger.db'}"), clock=clock)


@pytest.fixture
def record():  # type: ignore[no-untyped-def]
    """Builds an IntakeRecord for order ``order_id`` version ``version``."""
    def make(order_id: str = "O-1", version: int = 1, content: str = "a",
             error: str | None = None) -> IntakeRecord:
        return IntakeRecord(
            raw_hash=f"raw-{order_id}-{version}-{content}", order_key=f"CA019015J/{order_id}",
            version=version, court_ori="CA019015J", case_number="CASE-1",
            order_type="dv_tro", action="issue" if version == 1 else "modify",
            content_hash=f"hash-{content}", canonical_json=None if error else "{}",
            destination=None if error else "doj", format=None if error else "niem",
            error_reason=error, due_at=dt.datetime(2026, 11, 24, tzinfo=dt.UTC))
    return make
