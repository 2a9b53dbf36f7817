"""The ledger's fast paths (issue 9) leave exactly what the general paths leave."""

from __future__ import annotations

import datetime as dt
import re

import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

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


def _snapshot(ledger: Ledger) -> dict[str, list[tuple]]:
    """Every row the intake writes, without ids, MCNs or times (they differ by design)."""
    from engine.ledger.schema import intake_messages, order_versions, orders, transmissions

    def in_order(rows: list[tuple]) -> list[tuple]:  # None sorts first
        return sorted((tuple(r) for r in rows),
                      key=lambda r: tuple("" if v is None else str(v) for v in r))

    with ledger.engine.connect() as conn:
        return {
            "orders": in_order(conn.execute(sa.select(
                orders.c.order_key, orders.c.latest_version, orders.c.order_type)).all()),
            "versions": in_order(conn.execute(sa.select(
                order_versions.c.order_key, order_versions.c.version, order_versions.c.state,
                order_versions.c.content_hash, order_versions.c.error_reason)).all()),
            "transmissions": in_order(conn.execute(sa.select(
                order_versions.c.order_key, order_versions.c.version, transmissions.c.state,
                transmissions.c.body.is_not(None)).join_from(
                transmissions, order_versions,
                transmissions.c.version_id == order_versions.c.id)).all()),
            "intake": in_order(conn.execute(sa.select(
                intake_messages.c.version_key, intake_messages.c.outcome,
                intake_messages.c.reason)).all()),
            "audit": [(r[0], r[1], re.sub(r"transmission \w+ ", "transmission MCN ", r[2]))
                      for r in conn.execute(sa.select(audit.c.from_state, audit.c.to_state,
                                                      audit.c.detail).order_by(audit.c.id))],
        }


def _record_the_general_way(ledger: Ledger, rec):  # type: ignore[no-untyped-def]
    """One record through the general path only (the reference for the batched one)."""
    with ledger._transaction() as tx:
        return ledger._record_one(tx, rec)


_ITEM = st.tuples(st.sampled_from(["A", "B", "C"]), st.integers(1, 3),
                  st.sampled_from(["x", "y"]), st.booleans(), st.booleans())


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batches=st.lists(st.lists(_ITEM, min_size=1, max_size=6), min_size=1, max_size=3))
def test_a_batch_is_recorded_as_its_records_one_by_one(tmp_path_factory, batches) -> None:
    """Recording batches (new entries written together) gives the same results, rows and
    audit trail as recording the same records one at a time, in order, the general way:
    duplicates, conflicts, later versions first, invalid versions and corrected ones
    included."""
    from engine.ledger import IntakeRecord, open_database

    def make(order_id: str, version: int, content: str, invalid: bool,
             prepared: bool) -> IntakeRecord:
        return IntakeRecord(
            raw_hash=f"raw-{order_id}-{version}-{content}-{invalid}",
            order_key=f"CA019015J/{order_id}", version=version, court_ori="CA019015J",
            case_number="CASE-1", order_type="dv_tro",
            action="issue" if version == 1 else "modify",
            content_hash=f"hash-{content}-{invalid}",
            canonical_json=None if invalid else "{}",
            destination=None if invalid else "doj", format=None if invalid else "niem",
            error_reason="order_type: bad" if invalid else None,
            mcn=new_mcn() if prepared and version == 1 and not invalid else None,
            body=b"<msg/>" if prepared and version == 1 and not invalid else None,
            content_type="application/xml" if prepared else None,
            prepared_at=dt.datetime(2026, 11, 23, 9, tzinfo=dt.UTC) if prepared else None)

    folder = tmp_path_factory.mktemp("ledgers")
    batched = Ledger(open_database(f"sqlite:///{folder / 'batched.db'}"))
    single = Ledger(open_database(f"sqlite:///{folder / 'single.db'}"))
    for batch in batches:
        records = [make(*item) for item in batch]
        got = batched.record_intake(records)
        want = [_record_the_general_way(single, rec) for rec in records]
        assert got == want
    assert _snapshot(batched) == _snapshot(single)


def test_an_entry_rendered_at_intake_keeps_its_mcn_and_bytes(ledger, record) -> None:
    """An entry that carries its rendered message is stored with that MCN and body."""
    import dataclasses

    mcn = new_mcn()
    rec = dataclasses.replace(record(order_id="PREP"), mcn=mcn, body=b"<m/>",
                              content_type="application/xml",
                              prepared_at=dt.datetime(2026, 11, 23, 9, tzinfo=dt.UTC))
    ledger.record_intake([rec])
    [t] = ledger.transmissions_for("CA019015J/PREP")
    assert (t["mcn"], t["body"], t["content_type"]) == (mcn, b"<m/>", "application/xml")


def test_an_mcn_already_taken_is_replaced_and_its_message_dropped(ledger, record) -> None:
    """Should the MCN chosen at intake be taken by then, the entry gets another MCN and no
    stored message (its bytes name the old MCN): it is rendered at its first send."""
    import dataclasses

    ledger.record_intake([record(order_id="FIRST")])
    [taken] = ledger.transmissions_for("CA019015J/FIRST")
    rec = dataclasses.replace(record(order_id="SECOND"), mcn=taken["mcn"], body=b"<m/>",
                              content_type="application/xml",
                              prepared_at=dt.datetime(2026, 11, 23, 9, tzinfo=dt.UTC))
    ledger.record_intake([rec])
    [t] = ledger.transmissions_for("CA019015J/SECOND")
    assert t["mcn"] != taken["mcn"] and t["body"] is None
