"""The reference receiver's memory: every message it answered, in arrival order, in SQLite.

It is what makes the receiver a test oracle: "zero lost" is every sent order version
present as an accepted entry; "zero duplicate effects" is no order version accepted under
two message control numbers (`duplicate_effects`) and every resend counted as a duplicate
instead; "in order" is `entries(order_key)` in arrival order.

Record ids are handed out here, one per order key ("H" + 9 digits, shaped like an NCIC
record number), so a modify or cancel of an order meets the record its entry created.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path

from engine.ack_types import Accepted, Acknowledgement, Rejected

__all__ = ["Journal", "JournalEntry"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS received (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    mcn TEXT NOT NULL UNIQUE,
    order_key TEXT,
    action TEXT,
    version INTEGER,
    outcome TEXT NOT NULL CHECK (outcome IN ('accepted', 'rejected')),
    record_id TEXT,
    code TEXT,
    reason TEXT,
    retryable INTEGER NOT NULL DEFAULT 0,
    transport TEXT NOT NULL,
    format TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    received_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS received_order ON received (order_key, seq);
CREATE TABLE IF NOT EXISTS records (
    order_key TEXT PRIMARY KEY,
    record_id TEXT NOT NULL UNIQUE,
    active INTEGER NOT NULL DEFAULT 1
);
CREATE TABLE IF NOT EXISTS counters (
    name TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
"""


@dataclass(frozen=True, slots=True)
class JournalEntry:
    """One message the receiver answered (first arrival of its MCN)."""

    seq: int
    mcn: str
    order_key: str | None
    action: str | None
    version: int | None
    outcome: str
    record_id: str | None
    code: str | None
    reason: str | None
    transport: str
    format: str

    @property
    def ack(self) -> Acknowledgement:
        """The answer this message got (and gets again when it is resent)."""
        if self.outcome == "accepted":
            assert self.record_id is not None
            return Accepted(self.mcn, self.record_id)
        return Rejected(self.mcn, self.code or "", self.reason or "", False)


class Journal:
    """SQLite journal (``:memory:`` by default); safe to share between server threads."""

    def __init__(self, path: Path | str = ":memory:", *, record_prefix: str = "H") -> None:
        self.path = str(path)
        self.record_prefix = record_prefix
        self._lock = threading.RLock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL" if self.path != ":memory:"
                         else "PRAGMA journal_mode=MEMORY")
        self._db.executescript(_SCHEMA)

    @property
    def lock(self) -> threading.RLock:
        """Held by the receiver around look-up-then-record, so one MCN is recorded once."""
        return self._lock

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # --- writing ---------------------------------------------------------------------

    def find(self, mcn: str) -> JournalEntry | None:
        with self._lock:
            row = self._db.execute(f"SELECT {_COLUMNS} FROM received WHERE mcn = ?",  # noqa: S608
                                   (mcn,)).fetchone()
        return JournalEntry(*row) if row else None

    def record_for(self, order_key: str) -> tuple[str, bool] | None:
        """The record id for ``order_key`` and whether it is still active, if any."""
        with self._lock:
            row = self._db.execute("SELECT record_id, active FROM records WHERE order_key = ?",
                                   (order_key,)).fetchone()
        return (row[0], bool(row[1])) if row else None

    def order_for_record(self, record_id: str) -> str | None:
        """The order key a record id was issued for, if this registry issued it."""
        with self._lock:
            row = self._db.execute("SELECT order_key FROM records WHERE record_id = ?",
                                   (record_id,)).fetchone()
        return row[0] if row else None

    def new_record(self, order_key: str) -> str:
        """Create (or reactivate) the record for ``order_key``; return its id."""
        with self._lock:
            existing = self.record_for(order_key)
            if existing:
                self._db.execute("UPDATE records SET active = 1 WHERE order_key = ?",
                                 (order_key,))
                return existing[0]
            count = self._db.execute("SELECT COUNT(*) FROM records").fetchone()[0]
            record_id = f"{self.record_prefix}{count + 1:09d}"
            self._db.execute("INSERT INTO records (order_key, record_id) VALUES (?, ?)",
                             (order_key, record_id))
            return record_id

    def deactivate(self, order_key: str) -> None:
        with self._lock:
            self._db.execute("UPDATE records SET active = 0 WHERE order_key = ?", (order_key,))

    def add(self, *, mcn: str, ack: Acknowledgement, body: bytes, transport: str, format: str,
            order_key: str | None = None, action: str | None = None,
            version: int | None = None) -> None:
        """Record the first answer to ``mcn``."""
        accepted = isinstance(ack, Accepted)
        with self._lock:
            self._db.execute(
                "INSERT INTO received (mcn, order_key, action, version, outcome, record_id, "
                "code, reason, retryable, transport, format, sha256, received_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (mcn, order_key, action, version, "accepted" if accepted else "rejected",
                 ack.record_id if isinstance(ack, Accepted) else None,
                 ack.code if isinstance(ack, Rejected) else None,
                 ack.reason if isinstance(ack, Rejected) else None,
                 int(isinstance(ack, Rejected) and ack.retryable), transport, format,
                 hashlib.sha256(body).hexdigest(),
                 dt.datetime.now(dt.UTC).isoformat()))

    def count(self, name: str, by: int = 1) -> None:
        """Add to a named counter (duplicates, failed, dropped, bad_frames ...)."""
        with self._lock:
            self._db.execute(
                "INSERT INTO counters (name, value) VALUES (?, ?) "
                "ON CONFLICT (name) DO UPDATE SET value = value + excluded.value", (name, by))

    # --- reading ---------------------------------------------------------------------

    def entries(self, order_key: str | None = None, *,
                outcome: str | None = None) -> list[JournalEntry]:
        """Entries in arrival order, optionally for one order and/or one outcome."""
        where, args = [], []
        if order_key is not None:
            where.append("order_key = ?")
            args.append(order_key)
        if outcome is not None:
            where.append("outcome = ?")
            args.append(outcome)
        sql = f"SELECT {_COLUMNS} FROM received"  # noqa: S608 - fixed column list
        if where:
            sql += " WHERE " + " AND ".join(where)
        with self._lock:
            rows = self._db.execute(sql + " ORDER BY seq", args).fetchall()
        return [JournalEntry(*row) for row in rows]

    def accepted(self) -> list[JournalEntry]:
        return self.entries(outcome="accepted")

    def counter(self, name: str) -> int:
        with self._lock:
            row = self._db.execute("SELECT value FROM counters WHERE name = ?",
                                   (name,)).fetchone()
        return int(row[0]) if row else 0

    @property
    def duplicates(self) -> int:
        """Messages that arrived again under an MCN already answered."""
        return self.counter("duplicates")

    def duplicate_effects(self) -> list[tuple[str, int]]:
        """Order versions accepted under more than one MCN: each is a double registration."""
        with self._lock:
            rows = self._db.execute(
                "SELECT order_key, version FROM received WHERE outcome = 'accepted' "
                "AND version IS NOT NULL GROUP BY order_key, version HAVING COUNT(*) > 1 "
                "ORDER BY order_key, version").fetchall()
        return [(r[0], r[1]) for r in rows]

    def stats(self) -> dict[str, int]:
        """Totals for a summary line: accepted, rejected and every counter."""
        with self._lock:
            out = {name: value for name, value in
                   self._db.execute("SELECT name, value FROM counters ORDER BY name")}
            for outcome, total in self._db.execute(
                    "SELECT outcome, COUNT(*) FROM received GROUP BY outcome"):
                out[outcome] = total
        out.setdefault("accepted", 0)
        out.setdefault("rejected", 0)
        return out


_COLUMNS = ("seq, mcn, order_key, action, version, outcome, record_id, code, reason, "
            "transport, format")
