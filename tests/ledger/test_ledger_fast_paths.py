"""The ledger's fast paths (issue 9) leave exactly what the general paths leave."""

from __future__ import annotations

import re

import sqlalchemy as sa

from engine.ledger import IntakeOutcome, Ledger, State, new_mcn
from engine.ledger.repository import _MCN_ALPHABET
from engine.ledger.schema import audit


def _trail(ledger: Ledger, order_key: str, version: int) -> list[tuple]:
    row = ledger.version_row(order_key, version)
    assert row is not None
    with ledger.engine.connect() as conn:
        rows = conn.execute(sa.select(audit.c.from_state, audit.c.to_state, audit.c.detail,
                                      audit.c.transmission_id.is_not(None))
                            .where(audit.c.version_id == row["id"])
                            .order_by(audit.c.id)).all()
    return [(r[0], r[1], re.sub(r"transmission \w+ ", "transmission MCN ", r[2]), r[3])
            for r in rows]


def test_a_new_entry_matches_an_entry_recorded_after_its_later_version(ledger, record
                                                                       ) -> None:
    """Version 1 of a new order (fast path) and version 1 arriving after version 2
    (general path) end in the same state, with the same transmission and audit trail."""
    [fast] = ledger.record_intake([record(order_id="FAST")])
    ledger.record_intake([record(order_id="SLOW", version=2)])
    [slow] = ledger.record_intake([record(order_id="SLOW")])
    assert fast.outcome is slow.outcome is IntakeOutcome.NEW
    assert fast.state is slow.state is State.READY
    assert _trail(ledger, "CA019015J/FAST", 1) == _trail(ledger, "CA019015J/SLOW", 1)
    keep = ("state", "action", "content_hash", "canonical_json", "destination", "warnings",
            "error_reason")
    fast_row = ledger.version_row("CA019015J/FAST", 1)
    slow_row = ledger.version_row("CA019015J/SLOW", 1)
    assert fast_row and slow_row
    assert {k: fast_row[k] for k in keep} == {k: slow_row[k] for k in keep}
    [fast_tx] = ledger.transmissions_for("CA019015J/FAST")
    slow_tx = [t for t in ledger.transmissions_for("CA019015J/SLOW") if t["version"] == 1]
    for key in ("state", "format", "destination", "attempt_count", "next_attempt_at"):
        assert fast_tx[key] == slow_tx[0][key], key


def test_a_new_entry_twice_in_one_batch_is_a_duplicate(ledger, record) -> None:
    """The same new version twice in one batch: the second is a duplicate."""
    results = ledger.record_intake([record(order_id="TWICE"), record(order_id="TWICE")])
    assert [r.outcome for r in results] == [IntakeOutcome.NEW, IntakeOutcome.DUPLICATE]
    assert len(ledger.transmissions_for("CA019015J/TWICE")) == 1


def test_mcns_are_twelve_characters_of_the_alphabet_and_differ() -> None:
    """Every MCN is 12 characters from the alphabet without I and O; 2,000 are distinct
    and every character of the alphabet occurs."""
    mcns = [new_mcn() for _ in range(2000)]
    assert all(len(m) == 12 and set(m) <= set(_MCN_ALPHABET) for m in mcns)
    assert len(set(mcns)) == 2000
    assert set("".join(mcns)) == set(_MCN_ALPHABET)
