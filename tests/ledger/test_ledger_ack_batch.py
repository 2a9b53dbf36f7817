"""`record_acknowledgements` on SQLite (a batched fast path for the common acceptance)
leaves exactly what `record_acknowledgement` one by one leaves: the same results, rows and
audit trail, for every kind of acknowledgement and in any order."""

from __future__ import annotations

import datetime as dt
import itertools
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.ledger import AckKind, AckResult, IntakeRecord, Ledger, State, open_database
from engine.ledger.schema import (
    acknowledgements,
    audit,
    intake_messages,
    order_versions,
    orders,
    transmissions,
)
from tests.ledger.conftest import Clock

LEASE = dt.timedelta(seconds=60)
TABLES = (orders, order_versions, transmissions, acknowledgements, audit, intake_messages)
#: How the acknowledged transmission stands before the batch.
STAGES = ("sent", "in_flight", "lease_expired", "ready", "retry", "retry_in_flight",
          "acked", "rejected", "superseded")
#: one version; version 1 at the stage and version 2 waiting behind it; version 1 ACKED and
#: version 2 at the stage
LAYOUTS = ("single", "next_waiting", "second")


def _ledger(path: Path, clock: Clock) -> Ledger:
    """A fresh SQLite ledger whose MCNs are predictable, so two of them built the same way
    hold the same rows."""
    counter = itertools.count(1)
    return Ledger(open_database(f"sqlite:///{path}"), clock=clock,
                  mcn_factory=lambda: f"M{next(counter):011d}")


def _record(order_id: str, version: int) -> IntakeRecord:
    return IntakeRecord(
        raw_hash=f"raw-{order_id}-{version}", order_key=f"CA019015J/{order_id}",
        version=version, court_ori="CA019015J", case_number="CASE-1", order_type="dv_tro",
        action="issue" if version == 1 else "modify", content_hash=f"hash-{version}",
        canonical_json="{}", destination=f"doj-{order_id}", format="niem",
        issued_at=dt.datetime(2026, 11, 20, version, tzinfo=dt.UTC))


def _stage(ledger: Ledger, clock: Clock, order_id: str, stage: str) -> None:
    """Bring the order's released version to ``stage`` (one destination per order, so a
    claim takes only this order's transmission)."""
    dest = f"doj-{order_id}"

    def claim(lease: dt.timedelta = LEASE) -> Any:
        [c] = ledger.claim_due("w1", limit=1, lease=lease, destination=dest)
        return c

    if stage == "ready":
        return
    if stage == "lease_expired":
        claim(dt.timedelta(seconds=-1))
        return
    c = claim()
    clock.advance(1)
    if stage == "in_flight":
        return
    if stage in ("retry", "retry_in_flight"):
        ledger.mark_retry(c, "w1", next_attempt_at=clock.now, error="outage")
        if stage == "retry_in_flight":
            claim()
        return
    if stage in ("rejected", "superseded"):
        ledger.mark_rejected(c, "w1", reason="R042 bad")
        if stage == "superseded":
            ledger.resend(f"CA019015J/{order_id}", c.version)
        return
    ledger.mark_sent(c, "w1")
    clock.advance(1)
    if stage == "acked":
        ledger.record_acknowledgement(mcn=c.mcn, accepted=True, record_id=f"H-{order_id}")


def _build(ledger: Ledger, clock: Clock, plan: list[tuple[str, str]]) -> list[str]:
    """Orders O-0, O-1, ... laid out and staged as ``plan`` says; every MCN, oldest first."""
    for i, (stage, layout) in enumerate(plan):
        order_id = f"O-{i}"
        ledger.record_intake([_record(order_id, 1)])
        if layout == "second":
            _stage(ledger, clock, order_id, "acked")
            ledger.record_intake([_record(order_id, 2)])
        _stage(ledger, clock, order_id, stage)
        if layout == "next_waiting":
            ledger.record_intake([_record(order_id, 2)])
        clock.advance(1)
    with ledger.engine.connect() as conn:
        return list(conn.execute(sa.select(transmissions.c.mcn)
                                 .order_by(transmissions.c.id)).scalars())


def _retry_after(attempts: int) -> dt.timedelta:
    return dt.timedelta(seconds=30 * attempts)


def _ack(kind: str, mcn: str | None, n: int = 0) -> dict[str, Any]:
    """The keyword arguments `Correlator` passes for one acknowledgement of ``kind``."""
    if kind == "accepted":
        return {"mcn": mcn, "accepted": True, "record_id": f"H{n:09d}"}
    if kind == "rejected":
        return {"mcn": mcn, "accepted": False, "code": "R042", "reason": "bad court ORI",
                "retryable": False, "retry_after": _retry_after}
    if kind == "retryable":
        return {"mcn": mcn, "accepted": False, "code": "BUSY", "reason": "try later",
                "retryable": True, "retry_after": _retry_after}
    return {"mcn": None, "accepted": None, "reason": f"bad xml {n}"}


def _dump(ledger: Ledger) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, in key order (ids and timestamps included: both ledgers
    were built by the same calls at the same clock)."""
    with ledger.engine.connect() as conn:
        return {t.name: [tuple(r) for r in conn.execute(
            sa.select(t).order_by(*t.primary_key.columns))] for t in TABLES}


def _both(root: Path, plan: list[tuple[str, str]],
          acks: Callable[[list[str]], list[dict[str, Any]]]
          ) -> tuple[list[AckResult], list[AckResult], Ledger, Ledger]:
    """The batch applied with `record_acknowledgements` to one ledger and one by one to a
    twin; the results and both ledgers."""
    out = []
    for name in ("batched", "each"):
        clock = Clock()
        ledger = _ledger(root / f"{name}.db", clock)
        batch = acks(_build(ledger, clock, plan))
        clock.advance(5)
        results = (ledger.record_acknowledgements(batch) if name == "batched"
                   else [ledger.record_acknowledgement(**ack) for ack in batch])
        out.append((results, ledger))
    (batched, batched_ledger), (each, each_ledger) = out
    return batched, each, batched_ledger, each_ledger


def test_a_mixed_batch_leaves_what_one_by_one_leaves(tmp_path: Path) -> None:
    """Accepted (SENT, in flight, version 2 after an ACKED 1), the same MCN twice, unknown,
    malformed, rejected, retryable then accepted, late, superseded, and an order whose
    waiting version 2 the accept releases (then an accept for that version 2, LATE): the
    batch and one by one agree on every result and row."""
    plan = [("sent", "single"), ("sent", "single"), ("in_flight", "single"),
            ("sent", "next_waiting"), ("sent", "second"), ("sent", "single"),
            ("sent", "single"), ("lease_expired", "single"), ("superseded", "single"),
            ("retry_in_flight", "single"), ("sent", "single")]

    def acks(mcns: list[str]) -> list[dict[str, Any]]:
        by_order = _mcns_by_order(mcns, plan)
        return [
            _ack("accepted", by_order[0][0], 1),
            _ack("accepted", by_order[1][0], 2),
            _ack("accepted", by_order[1][0], 3),               # the same MCN again
            _ack("accepted", "NOSUCHMCN000", 4),               # unknown
            _ack("malformed", None, 5),
            _ack("accepted", by_order[2][0], 6),               # overtakes mark_sent
            _ack("accepted", by_order[3][0], 7),               # releases version 2
            _ack("accepted", by_order[4][1], 8),               # version 2, 1 is ACKED
            _ack("rejected", by_order[5][0], 9),
            _ack("retryable", by_order[6][0], 10),
            _ack("accepted", by_order[6][0], 11),              # after its retryable reject
            _ack("accepted", by_order[7][0], 12),              # lease expired: LATE
            _ack("accepted", by_order[8][0], 13),              # superseded: LATE
            _ack("accepted", by_order[8][1], 14),              # the resend's MCN: LATE
            _ack("accepted", by_order[3][1], 15),              # released version 2: LATE
            _ack("accepted", by_order[9][0], 16),              # retry in flight
            _ack("accepted", by_order[10][0], 17),
            _ack("rejected", by_order[10][0], 18),             # after ACKED: DUPLICATE
        ]

    batched, each, batched_ledger, each_ledger = _both(tmp_path, plan, acks)
    assert batched == each
    assert [r.kind for r in batched] == [
        AckKind.ACCEPTED, AckKind.ACCEPTED, AckKind.DUPLICATE, AckKind.UNKNOWN,
        AckKind.MALFORMED, AckKind.ACCEPTED, AckKind.ACCEPTED, AckKind.ACCEPTED,
        AckKind.REJECTED, AckKind.REJECTED, AckKind.LATE, AckKind.LATE, AckKind.LATE,
        AckKind.LATE, AckKind.LATE, AckKind.ACCEPTED, AckKind.ACCEPTED, AckKind.DUPLICATE]
    assert _dump(batched_ledger) == _dump(each_ledger)
    # the waiting version 2 was released by its version 1's accept, then ACKED (late)
    assert batched_ledger.version_row("CA019015J/O-3", 2)["state"] == State.ACKED
    assert batched[0].sent_at is not None and batched[0].issued_at is not None


def _mcns_by_order(mcns: list[str], plan: list[tuple[str, str]]) -> list[list[str]]:
    """The MCNs of each order of ``plan`` (transmissions are created order by order)."""
    per_order = [1 + (layout != "single") + (stage == "superseded") for stage, layout in plan]
    it = iter(mcns)
    return [[next(it) for _ in range(n)] for n in per_order]


def _accept_all(ledger: Ledger, mcns: list[str]) -> tuple[int, list[AckResult]]:
    """Every MCN accepted in one `record_acknowledgements` batch: the SQL statements it
    ran (BEGIN not counted) and its results."""
    statements: list[str] = []
    sa.event.listen(ledger.engine, "before_cursor_execute",
                    lambda *args: statements.append(args[2]))
    results = ledger.record_acknowledgements(
        [_ack("accepted", m, i) for i, m in enumerate(mcns)])
    return len([s for s in statements if not s.startswith("BEGIN")]), results


def test_a_batch_of_plain_accepts_takes_a_few_statements(tmp_path: Path) -> None:
    """A hundred accepts of SENT transmissions: one read and one write per statement kind
    (plus the audit), not six statements each."""
    clock = Clock()
    ledger = _ledger(tmp_path / "ledger.db", clock)
    mcns = _build(ledger, clock, [("sent", "single")] * 100)
    statements, results = _accept_all(ledger, mcns)
    # the read, then transmissions, versions, record ids, acknowledgements and the audit
    assert statements == 6
    assert {r.kind for r in results} == {AckKind.ACCEPTED}
    assert ledger.state_counts() == {State.ACKED: 100}


def test_accepts_of_sends_in_flight_take_the_fast_path_too(tmp_path: Path) -> None:
    """An acceptance that overtook its transmitter's mark_sent (the send in flight, under
    its lease) is as common as one of a SENT row when batches are pipelined: eight of each
    take one transmission update more (those rows also count the attempt), seven in all.
    (Built at five clock seconds an order pair, every lease of 60 s is still running.)"""
    clock = Clock()
    ledger = _ledger(tmp_path / "ledger.db", clock)
    mcns = _build(ledger, clock, [("sent", "single"), ("in_flight", "single")] * 8)
    statements, results = _accept_all(ledger, mcns)
    assert statements == 7
    assert {r.kind for r in results} == {AckKind.ACCEPTED}
    assert ledger.state_counts() == {State.ACKED: 16}


def test_an_empty_batch_records_nothing(tmp_path: Path) -> None:
    ledger = _ledger(tmp_path / "ledger.db", Clock())
    assert ledger.record_acknowledgements([]) == []
    assert ledger.acknowledgement_counts() == {}


_plans = st.lists(st.tuples(st.sampled_from(STAGES), st.sampled_from(LAYOUTS)),
                  min_size=1, max_size=6)
_acks = st.lists(st.tuples(st.sampled_from(("accepted", "accepted", "rejected", "retryable",
                                            "malformed", "unknown")),
                           st.integers(0, 20)), max_size=14)


@settings(max_examples=60)
@given(plan=_plans, drawn=_acks)
def test_any_batch_leaves_what_one_by_one_leaves(plan: list[tuple[str, str]],
                                                 drawn: list[tuple[str, int]]) -> None:
    """Random orders at random stages, a random batch of acknowledgements (MCNs repeated,
    unknown, malformed, in any order): batched and one by one agree."""
    def acks(mcns: list[str]) -> list[dict[str, Any]]:
        return [_ack("accepted" if kind == "unknown" else kind,
                     f"UNKNOWN{i:05d}" if kind == "unknown" else mcns[i % len(mcns)], n)
                for n, (kind, i) in enumerate(drawn)]

    with tempfile.TemporaryDirectory() as root:
        batched, each, batched_ledger, each_ledger = _both(Path(root), plan, acks)
        try:
            assert batched == each
            assert _dump(batched_ledger) == _dump(each_ledger)
        finally:
            batched_ledger.engine.dispose()
            each_ledger.engine.dispose()
