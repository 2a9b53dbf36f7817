"""The ledger's rules: idempotent intake, per-order sequencing, leases, acknowledgement
kinds, resends and the audit trail."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from engine.ledger import AckKind, IntakeOutcome, Ledger, ResendRefused, State
from engine.ledger.schema import audit

KEY = "CA019015J/O-1"
LEASE = dt.timedelta(seconds=60)


def claim_one(ledger: Ledger, worker: str = "w1"):  # type: ignore[no-untyped-def]
    claims = ledger.claim_due(worker, limit=10, lease=LEASE)
    assert len(claims) == 1
    return claims[0]


class TestIntake:
    def test_duplicate_is_recorded_without_a_new_version(self, ledger, record) -> None:
        """The same version with the same content is a duplicate and creates nothing."""
        ledger.record_intake([record()])
        [dup] = ledger.record_intake([record()])
        assert dup.outcome is IntakeOutcome.DUPLICATE
        assert len(ledger.transmissions_for(KEY)) == 1

    def test_conflict_keeps_the_recorded_version(self, ledger, record) -> None:
        """Different content for a recorded valid version is a conflict and not applied."""
        ledger.record_intake([record(content="a")])
        [conflict] = ledger.record_intake([record(content="b")])
        assert conflict.outcome is IntakeOutcome.CONFLICT
        assert ledger.version_row(KEY, 1)["content_hash"] == "hash-a"

    def test_corrected_message_replaces_an_invalid_version(self, ledger, record) -> None:
        """A version recorded INVALID is replaced by a corrected message for it."""
        ledger.record_intake([record(content="bad", error="effective_date: is wrong")])
        [fixed] = ledger.record_intake([record(content="good")])
        assert fixed.outcome is IntakeOutcome.REPLACED
        assert fixed.state is State.READY

    def test_batch_is_one_transaction(self, ledger, record) -> None:
        """Several records in one call are all recorded together."""
        results = ledger.record_intake([record("A"), record("B"), record("A")])
        assert [r.outcome for r in results] == [IntakeOutcome.NEW, IntakeOutcome.NEW,
                                                IntakeOutcome.DUPLICATE]


class TestSequencing:
    def test_later_version_waits_until_the_earlier_is_acked(self, ledger, record) -> None:
        """Version 2 is WAITING until version 1 is ACKED, then READY."""
        ledger.record_intake([record(version=1), record(version=2)])
        assert ledger.version_row(KEY, 2)["state"] == State.WAITING
        first = claim_one(ledger)
        assert first.version == 1
        ledger.mark_sent(first, "w1")
        ledger.record_acknowledgement(mcn=first.mcn, accepted=True, record_id="H1")
        assert ledger.version_row(KEY, 2)["state"] == State.READY
        second = claim_one(ledger)
        assert (second.version, second.doj_record_id) == (2, "H1")

    def test_a_gap_in_versions_holds_the_later_ones(self, ledger, record) -> None:
        """Versions 1 and 3 without 2: version 3 waits even after 1 is ACKED."""
        ledger.record_intake([record(version=1), record(version=3)])
        first = claim_one(ledger)
        ledger.mark_sent(first, "w1")
        ledger.record_acknowledgement(mcn=first.mcn, accepted=True, record_id="H1")
        assert ledger.version_row(KEY, 3)["state"] == State.WAITING
        assert ledger.claim_due("w1", limit=10, lease=LEASE) == []


class TestClaims:
    def test_a_leased_transmission_is_not_claimed_twice(self, ledger, record, clock) -> None:
        """A claim hides the transmission from other workers until its lease expires."""
        ledger.record_intake([record()])
        claim_one(ledger, "w1")
        assert ledger.claim_due("w2", limit=10, lease=LEASE) == []
        clock.advance(61)
        assert claim_one(ledger, "w2").transmission_id

    def test_mcn_is_kept_across_retries(self, ledger, record, clock) -> None:
        """A rescheduled transmission is claimed again with the same MCN."""
        ledger.record_intake([record()])
        first = claim_one(ledger)
        ledger.mark_retry(first, "w1", next_attempt_at=clock.now + dt.timedelta(seconds=30),
                          error="down")
        assert ledger.claim_due("w1", limit=10, lease=LEASE) == []
        clock.advance(31)
        again = claim_one(ledger)
        assert (again.mcn, again.attempt_count) == (first.mcn, 1)

    def test_a_lost_claim_cannot_mark_the_row(self, ledger, record, clock) -> None:
        """After another worker takes over an expired lease, the first cannot mark it sent."""
        ledger.record_intake([record()])
        stale = claim_one(ledger, "w1")
        clock.advance(61)
        claim_one(ledger, "w2")
        assert ledger.mark_sent(stale, "w1") is False

    def test_unanswered_sends_go_out_again(self, ledger, record, clock) -> None:
        """A SENT transmission with no ack past the timeout is rescheduled, same MCN."""
        ledger.record_intake([record()])
        claim = claim_one(ledger)
        ledger.mark_sent(claim, "w1")
        clock.advance(301)
        assert ledger.expire_unacknowledged(older_than=dt.timedelta(seconds=300)) == 1
        assert claim_one(ledger).mcn == claim.mcn


class TestAcknowledgements:
    def sent(self, ledger, record):  # type: ignore[no-untyped-def]
        ledger.record_intake([record()])
        claim = claim_one(ledger)
        ledger.mark_sent(claim, "w1")
        return claim

    def test_unknown_mcn_is_recorded(self, ledger) -> None:
        """An ack for no known transmission is recorded as unknown."""
        assert ledger.record_acknowledgement(mcn="NOPE", accepted=True,
                                             record_id="H1").kind is AckKind.UNKNOWN
        assert ledger.acknowledgement_counts() == {"unknown": 1}

    def test_second_ack_is_a_duplicate_and_changes_nothing(self, ledger, record) -> None:
        """After ACKED, a reject for the same MCN is recorded as duplicate; still ACKED."""
        claim = self.sent(ledger, record)
        ledger.record_acknowledgement(mcn=claim.mcn, accepted=True, record_id="H1")
        again = ledger.record_acknowledgement(mcn=claim.mcn, accepted=False, code="X",
                                              reason="late reject")
        assert again.kind is AckKind.DUPLICATE
        assert ledger.version_row(KEY, 1)["state"] == State.ACKED

    def test_ack_after_rescheduling_is_late_but_applied(self, ledger, record, clock) -> None:
        """An accept that arrives after the send was rescheduled still ACKs the version."""
        claim = self.sent(ledger, record)
        clock.advance(301)
        ledger.expire_unacknowledged(older_than=dt.timedelta(seconds=300))
        result = ledger.record_acknowledgement(mcn=claim.mcn, accepted=True, record_id="H1")
        assert (result.kind, result.state) == (AckKind.LATE, State.ACKED)

    def test_retryable_reject_reschedules(self, ledger, record, clock) -> None:
        """A reject the DOJ marks retryable reschedules the same transmission."""
        claim = self.sent(ledger, record)
        result = ledger.record_acknowledgement(
            mcn=claim.mcn, accepted=False, code="BUSY", reason="try later", retryable=True,
            retry_after=lambda attempts: dt.timedelta(seconds=10 * attempts))
        assert result.state is State.RETRY_SCHEDULED
        [t] = ledger.transmissions_for(KEY)
        assert t["next_attempt_at"].replace(tzinfo=None) == (
            clock.now + dt.timedelta(seconds=10)).replace(tzinfo=None)

    def test_malformed_ack_is_recorded(self, ledger) -> None:
        """An unparseable ack is recorded as malformed with its reason."""
        result = ledger.record_acknowledgement(mcn=None, accepted=None, reason="bad xml")
        assert result.kind is AckKind.MALFORMED


class TestResend:
    def test_resend_of_a_rejected_version_uses_a_new_mcn(self, ledger, record) -> None:
        """A REJECTED version resent gets a new transmission with a new MCN; the old one is
        SUPERSEDED and keeps its history."""
        ledger.record_intake([record()])
        claim = claim_one(ledger)
        ledger.mark_rejected(claim, "w1", reason="R042 bad")
        mcn = ledger.resend(KEY, 1)
        assert mcn != claim.mcn
        states = [t["state"] for t in ledger.transmissions_for(KEY)]
        assert states == [State.SUPERSEDED, State.READY]

    def test_resend_refuses_a_version_in_flight(self, ledger, record) -> None:
        """Only REJECTED or INVALID versions can be resent."""
        ledger.record_intake([record()])
        try:
            ledger.resend(KEY, 1)
        except ResendRefused as exc:
            assert "READY" in str(exc)
        else:
            raise AssertionError("resend of a READY version was allowed")


class TestAudit:
    def test_every_state_change_is_audited_in_order(self, ledger, record) -> None:
        """From intake to ACKED, the audit lists each transition with its from and to."""
        ledger.record_intake([record()])
        claim = claim_one(ledger)
        ledger.mark_sent(claim, "w1")
        ledger.record_acknowledgement(mcn=claim.mcn, accepted=True, record_id="H1")
        with ledger.engine.connect() as conn:
            rows = conn.execute(sa.select(audit.c.from_state, audit.c.to_state)
                                .where(audit.c.version_id.is_not(None),
                                       audit.c.transmission_id.is_(None))
                                .order_by(audit.c.id)).all()
        assert [tuple(r) for r in rows] == [
            (None, "RECEIVED"), ("RECEIVED", "WAITING"), ("WAITING", "READY"),
            ("READY", "SENT"), ("SENT", "ACKED")]
