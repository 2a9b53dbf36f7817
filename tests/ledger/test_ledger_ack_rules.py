"""Acknowledgement rules stated at their edges: a reject is final unless it says it is
retryable, a retryable one with no wait is due at once, a send is in flight only while its
lease has not ended, and the order-locking path (PostgreSQL's) reads the row again under
the lock. Each rule holds for one acknowledgement and for a batch (`record_acknowledgements`,
which on SQLite takes its own fast path)."""

from __future__ import annotations

import datetime as dt
import inspect
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa

from engine.ledger import AckKind, AckResult, Ledger, State
from engine.ledger.schema import audit

LEASE = dt.timedelta(seconds=60)
KEY = "CA019015J/O-1"

#: One acknowledgement, applied alone or as a batch of one.
Apply = Callable[..., AckResult]


def one(ledger: Ledger) -> Apply:
    return lambda **ack: ledger.record_acknowledgement(**ack)


def batch(ledger: Ledger) -> Apply:
    def apply(**ack: Any) -> AckResult:
        [result] = ledger.record_acknowledgements([ack])
        return result
    return apply


@pytest.fixture(params=[one, batch], ids=["one", "batch"])
def apply(request: pytest.FixtureRequest, ledger: Ledger) -> Apply:
    return request.param(ledger)  # type: ignore[no-any-return]


def sent(ledger: Ledger, record) -> str:  # type: ignore[no-untyped-def]
    """The MCN of version 1, claimed and marked SENT."""
    ledger.record_intake([record()])
    [claim] = ledger.claim_due("w1", limit=10, lease=LEASE)
    assert ledger.mark_sent(claim, "w1")
    return claim.mcn


def last_detail(ledger: Ledger) -> str:
    with ledger.engine.connect() as conn:
        return str(conn.execute(sa.select(audit.c.detail).where(audit.c.order_key == KEY)
                                .order_by(audit.c.id.desc())).scalars().first())


class TestRejects:
    def test_a_reject_that_does_not_say_retryable_is_final(self, ledger, record,
                                                           apply: Apply) -> None:
        mcn = sent(ledger, record)
        result = apply(mcn=mcn, accepted=False, code="E14", reason="bad ORI")
        assert (result.kind, result.state) == (AckKind.REJECTED, State.REJECTED)
        [t] = ledger.transmissions_for(KEY)
        assert t["last_error"] == "rejected by the destination: E14: bad ORI"
        assert ledger.version_row(KEY, 1)["state"] == State.REJECTED

    def test_a_retryable_reject_without_a_wait_is_due_at_once(self, ledger, record, clock,
                                                              apply: Apply) -> None:
        mcn = sent(ledger, record)
        clock.advance(7)
        result = apply(mcn=mcn, accepted=False, code="BUSY", reason="busy", retryable=True)
        assert result.state is State.RETRY_SCHEDULED
        [t] = ledger.transmissions_for(KEY)
        assert t["next_attempt_at"].replace(tzinfo=dt.UTC) == clock.now
        assert last_detail(ledger) == (
            "rejected as retryable (BUSY: busy); next attempt at 2026-11-23T09:00:07+00:00")


class TestInFlightEndsWithTheLease:
    """A claimed, not yet SENT transmission is a send in flight while its lease runs: an
    acceptance then answers that send. Once the lease has ended (at its last instant
    included) the engine has given up on that send, and the acceptance is LATE."""

    def claimed(self, ledger: Ledger, record) -> str:  # type: ignore[no-untyped-def]
        ledger.record_intake([record()])
        [claim] = ledger.claim_due("w1", limit=10, lease=LEASE)
        return claim.mcn

    def test_one_second_before_the_lease_ends_it_answers_the_send(
            self, ledger, record, clock, apply: Apply) -> None:
        mcn = self.claimed(ledger, record)
        clock.advance(LEASE.total_seconds() - 1)
        result = apply(mcn=mcn, accepted=True, record_id="H1")
        assert (result.kind, result.state) == (AckKind.ACCEPTED, State.ACKED)
        [t] = ledger.transmissions_for(KEY)
        assert t["attempt_count"] == 1

    def test_when_the_lease_ends_it_is_late(self, ledger, record, clock,
                                            apply: Apply) -> None:
        mcn = self.claimed(ledger, record)
        clock.advance(LEASE.total_seconds())
        result = apply(mcn=mcn, accepted=True, record_id="H1")
        assert (result.kind, result.state) == (AckKind.LATE, State.ACKED)
        [t] = ledger.transmissions_for(KEY)
        assert t["attempt_count"] == 0


class TestOrderLockingPath:
    """PostgreSQL's path (lock the order, read the transmission again under the lock) run
    on SQLite, which renders no FOR UPDATE: the re-read finds the row and applies the ack.
    (`tests/integration/` runs it on PostgreSQL itself.)"""

    def test_an_acceptance_is_applied_after_the_re_read(self, ledger, record) -> None:
        mcn = sent(ledger, record)
        ledger._skip_locked = True
        result = ledger.record_acknowledgement(mcn=mcn, accepted=True, record_id="H1")
        assert (result.kind, result.state) == (AckKind.ACCEPTED, State.ACKED)
        assert ledger.history(KEY)["doj_record_id"] == "H1"

    def test_a_batch_takes_the_same_path(self, ledger, record) -> None:
        mcn = sent(ledger, record)
        ledger._skip_locked = True
        [result] = ledger.record_acknowledgements([{"mcn": mcn, "accepted": True,
                                                    "record_id": "H1"}])
        assert (result.kind, result.state) == (AckKind.ACCEPTED, State.ACKED)


def test_an_acknowledgement_is_given_by_name(ledger: Ledger) -> None:
    """An acknowledgement's fields (MCN, accepted, record id, code, reason) are keyword-only
    wherever one is applied: the batch hands each one over as a dict of keywords, and a
    positional slot would let a caller swap the MCN and the DOJ record id unnoticed."""
    with pytest.raises(TypeError):
        ledger.record_acknowledgement("M00000000001", True)  # type: ignore[misc]
    for method in (Ledger.record_acknowledgement, Ledger._ack_fast, Ledger._apply_ack):
        named = [p.name for p in inspect.signature(method).parameters.values()
                 if p.kind is inspect.Parameter.KEYWORD_ONLY]
        assert named[:5] == ["mcn", "accepted", "record_id", "code", "reason"], method
