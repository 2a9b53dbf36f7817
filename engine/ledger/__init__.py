"""The ledger: the source of truth for every order version's state (SQLite or PostgreSQL).

`open_ledger(url)` opens (and migrates) the database and returns the `Ledger` (the façade
over the parts split by what they record: see `engine.ledger.facade`).

May import: errors and the standard library, SQLAlchemy and Alembic; never a stage,
a format or observability (they read and write through it).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from engine.ledger.db import create_database_engine, open_database, upgrade
from engine.ledger.facade import Ledger
from engine.ledger.repository import (
    AckResult,
    Claim,
    IntakeRecord,
    IntakeResult,
    LedgerRefused,
    ResendRefused,
    new_mcn,
)
from engine.ledger.states import FINAL_STATES, AckKind, IntakeOutcome, State

__all__ = [
    "FINAL_STATES",
    "AckKind",
    "AckResult",
    "Claim",
    "IntakeOutcome",
    "IntakeRecord",
    "IntakeResult",
    "Ledger",
    "LedgerRefused",
    "ResendRefused",
    "State",
    "create_database_engine",
    "new_mcn",
    "open_database",
    "open_ledger",
    "upgrade",
]


def open_ledger(url: str, *, clock: Callable[[], dt.datetime] | None = None) -> Ledger:
    """The ledger at ``url``, migrated to the newest revision."""
    engine = open_database(url)
    return Ledger(engine, clock=clock) if clock else Ledger(engine)
