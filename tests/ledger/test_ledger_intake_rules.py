"""What intake records about an order as its versions arrive: the latest version known,
what the intake log and the audit trail keep, and what a version received again does.

`orders.latest_version` decides whether an acknowledgement is for the order's newest
version (`engine/ledger/acknowledgements.py`); it moves up with each newer version, never
down for a late older one, and only for its own order.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
import sqlalchemy as sa

from engine.ledger import IntakeOutcome, Ledger, State
from engine.ledger.schema import audit, intake_messages, orders


def latest(ledger: Ledger) -> dict[str, int]:
    with ledger.engine.connect() as conn:
        return {k.split("/", 1)[1]: v for k, v in conn.execute(
            sa.select(orders.c.order_key, orders.c.latest_version))}


def test_the_latest_version_moves_up_for_its_own_order_only(ledger, record) -> None:
    """A, B, C entered; B's version 3 arrives, then its late version 2: B is at 3, the
    orders whose keys sort before and after it are untouched."""
    ledger.record_intake([record("A"), record("B"), record("C")])
    ledger.record_intake([record("B", 3, content="c")])
    assert latest(ledger) == {"A": 1, "B": 3, "C": 1}
    ledger.record_intake([record("B", 2, content="b")])
    assert latest(ledger) == {"A": 1, "B": 3, "C": 1}
    ledger.record_intake([record("B", 4, content="d")])
    assert latest(ledger) == {"A": 1, "B": 4, "C": 1}


KEY = "CA019015J/O-1"


def rows(ledger: Ledger, table: sa.Table) -> list[sa.Row]:
    with ledger.engine.connect() as conn:
        return list(conn.execute(sa.select(table).order_by(*table.primary_key)))


def details(ledger: Ledger, key: str = KEY) -> list[tuple[str | None, str | None, str]]:
    """The audit trail of one order's versions: (from, to, detail)."""
    return [(r.from_state, r.to_state, r.detail) for r in rows(ledger, audit)
            if r.order_key == key]


def acked(ledger: Ledger, key: str = KEY) -> None:
    """Send and accept the one claimable transmission of ``key``."""
    [claim] = ledger.claim_due("w1", limit=10, lease=dt.timedelta(seconds=60))
    assert claim.order_key == key
    ledger.mark_sent(claim, "w1")
    ledger.record_acknowledgement(mcn=claim.mcn, accepted=True, record_id="H1")


class TestFirstVersionFastPath:
    def test_a_later_version_of_an_unknown_order_waits_for_its_entry(
            self, ledger, record) -> None:
        """Only a version 1 is released at intake: a version 2 that arrives first waits for
        version 1, and stays waiting once version 1 arrives (until it is acknowledged)."""
        [alone] = ledger.record_intake([record(version=2, content="b")])
        assert (alone.outcome, alone.state) == (IntakeOutcome.NEW, State.WAITING)
        [entry] = ledger.record_intake([record(version=1)])
        assert entry.state is State.READY
        assert ledger.version_row(KEY, 2)["state"] == State.WAITING

    def test_an_invalid_entry_is_recorded_invalid_not_released(self, ledger, record) -> None:
        [bad, good] = ledger.record_intake([record("X", error="effective_date: is wrong"),
                                            record("Y")])
        assert (bad.outcome, bad.state) == (IntakeOutcome.INVALID, State.INVALID)
        assert (good.outcome, good.state) == (IntakeOutcome.NEW, State.READY)


class TestWhatIntakeKeeps:
    """The intake log keeps a message id at the column's 200 characters and an audit note
    at 500, on both ways a record is written: the batched entries and the general path."""

    def test_a_long_message_id_is_kept_to_200_characters(self, ledger, record) -> None:
        long_id = "m" * 150 + "n" * 150
        ledger.record_intake([
            dataclasses.replace(record("E"), message_id=long_id),           # entry
            dataclasses.replace(record("E", 2, content="b"), message_id=long_id)])  # general
        assert [r.message_id for r in rows(ledger, intake_messages)] == [long_id[:200]] * 2

    def test_a_200_character_message_id_is_kept_whole_and_an_empty_one_as_none(
            self, ledger, record) -> None:
        exact = "i" * 199 + "j"
        ledger.record_intake([
            dataclasses.replace(record("E"), message_id=exact),
            dataclasses.replace(record("E", 2, content="b"), message_id=exact),
            dataclasses.replace(record("F"), message_id=""),
            dataclasses.replace(record("F", 2, content="b"), message_id="")])
        assert [r.message_id for r in rows(ledger, intake_messages)] == [exact, exact,
                                                                          None, None]

    def test_each_derivation_is_one_audit_note_of_at_most_500_characters(
            self, ledger, record) -> None:
        notes = ("expires_at: set by Fam. Code 6345(a)", "x" * 499 + "yz")
        ledger.record_intake([dataclasses.replace(record(), derivations=notes),
                              dataclasses.replace(record(version=2, content="b"),
                                                  derivations=notes)])
        expected = [("RECEIVED", "RECEIVED", notes[0]), ("RECEIVED", "RECEIVED",
                                                          notes[1][:500])]
        noted = [d for d in details(ledger) if d[2] in (notes[0], notes[1][:500])]
        assert noted == expected * 2
        assert len(notes[1][:500]) == 500

    def test_a_replacement_notes_its_derivations_at_the_new_state(self, ledger, record) -> None:
        ledger.record_intake([record(content="bad", error="effective_date: is wrong")])
        ledger.record_intake([dataclasses.replace(record(content="good"),
                                                  derivations=("a law note",))])
        assert ("READY", "READY", "a law note") not in details(ledger)
        assert ("WAITING", "WAITING", "a law note") in details(ledger)


class TestSameVersionAgain:
    """A version received again: the same content is a duplicate, other content a conflict
    (whatever the order of the two contents' hashes), unless the version was INVALID."""

    def test_other_content_is_a_conflict_whichever_hash_sorts_first(
            self, ledger, record) -> None:
        ledger.record_intake([record("LO", content="b"), record("HI", content="a")])
        results = ledger.record_intake([record("LO", content="a"), record("HI", content="b")])
        assert [r.outcome for r in results] == [IntakeOutcome.CONFLICT] * 2
        assert [ledger.version_row(f"CA019015J/{k}", 1)["content_hash"]
                for k in ("LO", "HI")] == ["hash-b", "hash-a"]

    def test_an_acknowledged_version_is_never_replaced(self, ledger, record) -> None:
        """ACKED sorts before INVALID: other content for it is still a conflict."""
        ledger.record_intake([record(content="a")])
        acked(ledger)
        [again] = ledger.record_intake([record(content="b")])
        assert (again.outcome, again.state) == (IntakeOutcome.CONFLICT, State.ACKED)
        assert again.reason == ("conflict: version 1 was already received with different "
                                "content (state ACKED); the new content was not applied")
        assert ledger.version_row(KEY, 1)["content_hash"] == "hash-a"

    def test_a_corrected_message_says_it_replaced_the_invalid_one(self, ledger, record) -> None:
        ledger.record_intake([record(content="bad", error="effective_date: is wrong")])
        ledger.record_intake([record(content="still bad", error="expires_at: is missing")])
        ledger.record_intake([record(content="good")])
        replaced = [d for d in details(ledger) if d[2].startswith("replaced")]
        assert replaced == [
            ("INVALID", "INVALID", "replaced by a corrected intake message: expires_at: is "
                                   "missing"),
            ("INVALID", "WAITING", "replaced by a corrected intake message")]


class TestAValidRecordNamesItsDestination:
    """A valid record without a destination is the pipeline's bug: refused before anything
    is written, on either path."""

    def test_an_entry(self, ledger, record) -> None:
        with pytest.raises(AssertionError, match="names its destination"):
            ledger.record_intake([dataclasses.replace(record(), destination=None)])
        assert rows(ledger, intake_messages) == []

    def test_a_later_version(self, ledger, record) -> None:
        ledger.record_intake([record()])
        with pytest.raises(AssertionError, match="names its destination"):
            ledger.record_intake([dataclasses.replace(record(version=2, content="b"),
                                                      format=None)])
        assert len(rows(ledger, intake_messages)) == 1


def test_a_version_received_again_leaves_the_order_untouched(ledger, record, clock) -> None:
    """A duplicate or a conflict changes nothing about the order: not even its last
    update time (only a newer version moves it)."""
    ledger.record_intake([record()])
    [before] = rows(ledger, orders)
    clock.advance(60)
    ledger.record_intake([record(), record(content="b")])
    assert rows(ledger, orders) == [before]
    ledger.record_intake([record(version=2, content="b")])
    [after] = rows(ledger, orders)
    assert after.updated_at.replace(tzinfo=dt.UTC) == clock.now
