"""The transmission state machine: what a claim may do (store, mark sent, reschedule,
reject), what it may not once lost, and which unanswered sends go out again."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json

import pytest
import sqlalchemy as sa

from engine.ledger import Ledger, State
from engine.ledger.schema import audit

LEASE = dt.timedelta(seconds=60)
TIMEOUT = dt.timedelta(seconds=300)
AT = dt.datetime(2026, 11, 23, 9, 0, 5, tzinfo=dt.UTC)


def key(order_id: str = "O-1") -> str:
    return f"CA019015J/{order_id}"


def to(rec, destination: str):  # type: ignore[no-untyped-def]
    return dataclasses.replace(rec, destination=destination)


def one_transmission(ledger: Ledger, order_id: str = "O-1") -> dict:  # type: ignore[type-arg]
    [t] = ledger.transmissions_for(key(order_id))
    return t


def version_audit(ledger: Ledger, order_id: str = "O-1") -> list[tuple[str, str]]:
    row = ledger.version_row(key(order_id), 1)
    assert row is not None
    with ledger.engine.connect() as conn:
        rows = conn.execute(sa.select(audit.c.from_state, audit.c.to_state)
                            .where(audit.c.version_id == row["id"],
                                   audit.c.transmission_id.is_(None))
                            .order_by(audit.c.id)).all()
    return [(r[0], r[1]) for r in rows]


class TestClaimsByDestination:
    def test_a_claim_for_one_destination_takes_only_its_transmissions(self, ledger, record
                                                                      ) -> None:
        """The probe of one destination claims that destination's work and nothing else."""
        ledger.record_intake([record("A"), to(record("B"), "fbi")])
        claims = ledger.claim_due("w1", limit=10, lease=LEASE, destination="fbi")
        assert [(c.order_key, c.destination) for c in claims] == [(key("B"), "fbi")]

    def test_excluded_destinations_are_not_claimed(self, ledger, record) -> None:
        """Work for a destination whose breaker is open stays where it is."""
        ledger.record_intake([record("A"), to(record("B"), "fbi")])
        claims = ledger.claim_due("w1", limit=10, lease=LEASE, exclude_destinations=["doj"])
        assert [c.destination for c in claims] == ["fbi"]
        assert one_transmission(ledger, "A")["claimed_by"] is None

    def test_in_flight_counts_sent_transmissions_per_destination(self, ledger, record
                                                                 ) -> None:
        """The flow-control window counts SENT transmissions awaiting their answer: all of
        them, or one destination's."""
        ledger.record_intake([record("A"), record("B"), to(record("C"), "fbi")])
        claims = ledger.claim_due("w1", limit=10, lease=LEASE)
        ledger.mark_sent_many([c for c in claims if c.order_key != key("B")], "w1")
        assert ledger.count_in_flight() == 2
        assert ledger.count_in_flight("doj") == 1
        assert ledger.count_in_flight("fbi") == 1
        assert ledger.count_in_flight("nowhere") == 0


class TestPrepared:
    def test_the_rendered_message_is_kept_for_every_retry(self, ledger, record,
                                                          clock) -> None:
        """store_prepared keeps the bytes, their type, when they were made and the render
        warnings on the version; a claim sent again carries those same bytes."""
        ledger.record_intake([record()])
        [claim] = ledger.claim_due("w1", limit=10, lease=LEASE)
        assert ledger.store_prepared(claim, "w1", body=b"<x/>", content_type="application/xml",
                                     prepared_at=AT, warnings=["name shortened"]) is True
        t = one_transmission(ledger)
        assert (t["body"], t["content_type"]) == (b"<x/>", "application/xml")
        assert t["prepared_at"].replace(tzinfo=dt.UTC) == AT
        assert json.loads(ledger.version_row(key(), 1)["warnings"]) == ["name shortened"]
        ledger.mark_retry(claim, "w1", next_attempt_at=clock.now, error="down")
        [again] = ledger.claim_due("w1", limit=10, lease=LEASE)
        assert (again.body, again.content_type) == (b"<x/>", "application/xml")

    def test_a_message_without_warnings_leaves_the_warnings_alone(self, ledger, record
                                                                  ) -> None:
        """No render warnings: the version's warnings stay as intake recorded them."""
        ledger.record_intake([dataclasses.replace(record(), warnings=("from intake",))])
        [claim] = ledger.claim_due("w1", limit=10, lease=LEASE)
        assert ledger.store_prepared(claim, "w1", body=b"<x/>", content_type="text/xml",
                                     prepared_at=AT) is True
        assert json.loads(ledger.version_row(key(), 1)["warnings"]) == ["from intake"]

    def test_a_lost_claim_stores_nothing_and_the_rest_of_the_batch_is_stored(
            self, ledger, record, clock) -> None:
        """In a batch, a claim another worker took over is refused (False) and keeps its
        row; the claims still held are stored (True)."""
        ledger.record_intake([record("A")])
        [lost] = ledger.claim_due("w1", limit=10, lease=LEASE)
        clock.advance(61)
        ledger.claim_due("w2", limit=10, lease=LEASE)
        ledger.record_intake([record("B")])
        [held] = ledger.claim_due("w1", limit=10, lease=LEASE)
        out = ledger.store_prepared_many([(lost, b"A", "text/xml", AT, ("lost",)),
                                          (held, b"B", "text/xml", AT, ())], "w1")
        assert out == [False, True]
        assert one_transmission(ledger, "A")["body"] is None
        assert json.loads(ledger.version_row(key("A"), 1)["warnings"]) == []
        assert one_transmission(ledger, "B")["body"] == b"B"

    def test_a_batch_of_only_lost_claims_changes_nothing(self, ledger, record, clock) -> None:
        """Every claim lost: all refused, no row written."""
        ledger.record_intake([record()])
        [lost] = ledger.claim_due("w1", limit=10, lease=LEASE)
        clock.advance(61)
        ledger.claim_due("w2", limit=10, lease=LEASE)
        assert ledger.store_prepared(lost, "w1", body=b"x", content_type="text/xml",
                                     prepared_at=AT, warnings=["w"]) is False
        assert ledger.mark_sent_many([lost], "w1") == [False]
        t = one_transmission(ledger)
        assert (t["body"], t["state"], t["claimed_by"]) == (None, State.READY, "w2")


class TestMarkSent:
    def test_mark_sent_says_it_took_and_counts_the_attempt(self, ledger, record,
                                                           clock) -> None:
        """A held claim marked sent: True, SENT, one attempt at the clock's time, lease
        released."""
        ledger.record_intake([record()])
        [claim] = ledger.claim_due("w1", limit=10, lease=LEASE)
        assert ledger.mark_sent(claim, "w1") is True
        t = one_transmission(ledger)
        assert (t["state"], t["attempt_count"], t["lease_until"]) == (State.SENT, 1, None)
        assert t["last_attempt_at"].replace(tzinfo=dt.UTC) == clock.now
        assert ledger.version_row(key(), 1)["state"] == State.SENT

    def test_a_lost_claim_in_a_batch_does_not_stop_the_rest(self, ledger, record,
                                                            clock) -> None:
        """mark_sent_many answers per claim: the lost one False, the held ones after it
        True and SENT."""
        ledger.record_intake([record("A")])
        [lost] = ledger.claim_due("w1", limit=10, lease=LEASE)
        clock.advance(61)
        ledger.claim_due("w2", limit=10, lease=LEASE)
        ledger.record_intake([record("B"), record("C")])
        held = ledger.claim_due("w1", limit=10, lease=LEASE)
        assert ledger.mark_sent_many([lost, *held], "w1") == [False, True, True]
        assert [one_transmission(ledger, o)["state"] for o in "ABC"] == [
            State.READY, State.SENT, State.SENT]


class TestMarkRetry:
    def test_a_reschedule_after_an_attempt_counts_it(self, ledger, record, clock) -> None:
        """An attempt that failed (outage): RETRY_SCHEDULED at the time given, the attempt
        counted and its time kept, the error recorded."""
        ledger.record_intake([record()])
        [claim] = ledger.claim_due("w1", limit=10, lease=LEASE)
        assert ledger.mark_retry(claim, "w1", next_attempt_at=AT, error="timeout") is True
        t = one_transmission(ledger)
        assert (t["state"], t["attempt_count"], t["last_error"], t["lease_until"]) == (
            State.RETRY_SCHEDULED, 1, "timeout", None)
        assert t["next_attempt_at"].replace(tzinfo=dt.UTC) == AT
        assert t["last_attempt_at"].replace(tzinfo=dt.UTC) == clock.now
        assert ledger.version_row(key(), 1)["state"] == State.RETRY_SCHEDULED

    def test_a_reschedule_without_an_attempt_counts_none(self, ledger, record) -> None:
        """Rescheduled without sending (breaker open): no attempt counted, no attempt time,
        but the version shows it is rescheduled."""
        ledger.record_intake([record()])
        [claim] = ledger.claim_due("w1", limit=10, lease=LEASE)
        assert ledger.mark_retry(claim, "w1", next_attempt_at=AT, error="breaker open",
                                 attempted=False) is True
        t = one_transmission(ledger)
        assert (t["state"], t["attempt_count"], t["last_attempt_at"]) == (
            State.RETRY_SCHEDULED, 0, None)
        assert version_audit(ledger)[-1] == (State.READY, State.RETRY_SCHEDULED)
        assert ledger.version_row(key(), 1)["state"] == State.RETRY_SCHEDULED

    def test_rescheduling_again_without_an_attempt_adds_no_version_change(
            self, ledger, record, clock) -> None:
        """A rescheduled transmission put off again while its destination is down (no
        attempt) changes no version state, so the trail gets no row per round; one put
        off after an attempt does."""
        ledger.record_intake([record()])
        [claim] = ledger.claim_due("w1", limit=10, lease=LEASE)
        ledger.mark_retry(claim, "w1", next_attempt_at=clock.now, error="down",
                          attempted=False)
        trail = version_audit(ledger)
        [claim] = ledger.claim_due("w1", limit=10, lease=LEASE)
        ledger.mark_retry(claim, "w1", next_attempt_at=clock.now, error="down",
                          attempted=False)
        assert version_audit(ledger) == trail
        [claim] = ledger.claim_due("w1", limit=10, lease=LEASE)
        ledger.mark_retry(claim, "w1", next_attempt_at=clock.now, error="down")
        assert version_audit(ledger) == [*trail,
                                         (State.RETRY_SCHEDULED, State.RETRY_SCHEDULED)]

    def test_a_lost_claim_cannot_reschedule(self, ledger, record, clock) -> None:
        """After another worker took the expired lease, the first one's reschedule is
        refused and changes nothing."""
        ledger.record_intake([record()])
        [stale] = ledger.claim_due("w1", limit=10, lease=LEASE)
        clock.advance(61)
        ledger.claim_due("w2", limit=10, lease=LEASE)
        assert ledger.mark_retry(stale, "w1", next_attempt_at=AT, error="x") is False
        t = one_transmission(ledger)
        assert (t["state"], t["claimed_by"], t["attempt_count"]) == (State.READY, "w2", 0)


class TestMarkRejected:
    def test_a_reject_is_final_and_counts_the_attempt(self, ledger, record, clock) -> None:
        """REJECTED by the destination after an earlier failed attempt: two attempts,
        the reason on the version for the person who must act."""
        ledger.record_intake([record()])
        [claim] = ledger.claim_due("w1", limit=10, lease=LEASE)
        ledger.mark_retry(claim, "w1", next_attempt_at=clock.now, error="down")
        [claim] = ledger.claim_due("w1", limit=10, lease=LEASE)
        assert ledger.mark_rejected(claim, "w1", reason="R042 bad") is True
        t = one_transmission(ledger)
        assert (t["state"], t["attempt_count"], t["last_error"]) == (
            State.REJECTED, 2, "R042 bad")
        version = ledger.version_row(key(), 1)
        assert (version["state"], version["error_reason"]) == (State.REJECTED, "R042 bad")
        assert ledger.claim_due("w1", limit=10, lease=LEASE) == []

    def test_a_message_that_cannot_be_rendered_is_invalid_and_was_not_sent(
            self, ledger, record, clock) -> None:
        """INVALID (could not be rendered): nothing went out, so no attempt is counted."""
        ledger.record_intake([record()])
        [claim] = ledger.claim_due("w1", limit=10, lease=LEASE)
        ledger.mark_retry(claim, "w1", next_attempt_at=clock.now, error="down")
        [claim] = ledger.claim_due("w1", limit=10, lease=LEASE)
        assert ledger.mark_rejected(claim, "w1", reason="no name", invalid=True) is True
        t = one_transmission(ledger)
        assert (t["state"], t["attempt_count"]) == (State.INVALID, 1)
        assert ledger.version_row(key(), 1)["state"] == State.INVALID

    def test_a_lost_claim_cannot_reject(self, ledger, record, clock) -> None:
        """A worker whose lease expired and was taken over cannot reject the row."""
        ledger.record_intake([record()])
        [stale] = ledger.claim_due("w1", limit=10, lease=LEASE)
        clock.advance(61)
        ledger.claim_due("w2", limit=10, lease=LEASE)
        assert ledger.mark_rejected(stale, "w1", reason="x") is False
        assert one_transmission(ledger)["state"] == State.READY


class TestExpiry:
    def sent(self, ledger: Ledger, records: list) -> None:  # type: ignore[type-arg]
        ledger.record_intake(records)
        ledger.mark_sent_many(ledger.claim_due("w1", limit=10, lease=LEASE), "w1")

    def test_a_send_is_not_given_up_on_before_its_timeout(self, ledger, record,
                                                          clock) -> None:
        """One second short of the acknowledgement timeout the send still waits; at the
        timeout it goes out again."""
        self.sent(ledger, [record()])
        clock.advance(TIMEOUT.total_seconds() - 1)
        assert ledger.expire_unacknowledged(older_than=TIMEOUT) == 0
        assert one_transmission(ledger)["state"] == State.SENT
        clock.advance(1)
        assert ledger.expire_unacknowledged(older_than=TIMEOUT) == 1
        t = one_transmission(ledger)
        assert (t["state"], t["last_error"]) == (State.RETRY_SCHEDULED,
                                                 "no acknowledgement in time")
        assert t["next_attempt_at"].replace(tzinfo=dt.UTC) == clock.now
        assert version_audit(ledger)[-1] == (State.SENT, State.RETRY_SCHEDULED)

    def test_each_unanswered_send_is_counted_once_for_its_own_version(
            self, ledger, record, clock) -> None:
        """With other versions around, the one unanswered send is rescheduled once, and
        its own version (not a neighbour) goes to RETRY_SCHEDULED."""
        self.sent(ledger, [record("B")])
        ledger.record_intake([record("A"), record("C")])
        clock.advance(TIMEOUT.total_seconds())
        assert ledger.expire_unacknowledged(older_than=TIMEOUT) == 1
        assert [ledger.version_row(key(o), 1)["state"] for o in "ABC"] == [
            State.READY, State.RETRY_SCHEDULED, State.READY]

    def test_answered_and_superseded_sends_are_not_sent_again(self, ledger, record,
                                                              clock) -> None:
        """Only SENT transmissions expire: an ACKED one, a REJECTED one and the
        SUPERSEDED transmission a resend replaced stay as they are, however old."""
        self.sent(ledger, [record("ACK"), record("REJ"), record("SUP")])
        ack, rej, sup = (one_transmission(ledger, o) for o in ("ACK", "REJ", "SUP"))
        ledger.record_acknowledgement(mcn=ack["mcn"], accepted=True, record_id="H1")
        ledger.record_acknowledgement(mcn=rej["mcn"], accepted=False, code="R1", reason="x")
        ledger.record_acknowledgement(mcn=sup["mcn"], accepted=False, code="R1", reason="x")
        ledger.resend(key("SUP"), 1)
        clock.advance(10 * TIMEOUT.total_seconds())
        assert ledger.expire_unacknowledged(older_than=TIMEOUT) == 0
        assert [t["state"] for o in ("ACK", "REJ", "SUP")
                for t in ledger.transmissions_for(key(o))] == [
            State.ACKED, State.REJECTED, State.SUPERSEDED, State.READY]

    def test_expiry_for_one_destination_leaves_the_others(self, ledger, record,
                                                          clock) -> None:
        """Giving up on one destination's sends leaves other destinations' (named before
        and after it alphabetically) waiting."""
        self.sent(ledger, [to(record("A"), "apd"), record("D"), to(record("Z"), "zpd")])
        clock.advance(TIMEOUT.total_seconds())
        assert ledger.expire_unacknowledged(older_than=TIMEOUT, destination="doj") == 1
        assert [one_transmission(ledger, o)["state"] for o in "ADZ"] == [
            State.SENT, State.RETRY_SCHEDULED, State.SENT]


def test_limits_leases_and_times_are_keyword_arguments(ledger, record) -> None:
    """claim_due's limit and lease, the stored message's parts, a retry's time, a
    reject's reason and the expiry timeout are named at every call: two numbers or two
    times in the wrong order would be a silent bug."""
    ledger.record_intake([record()])
    with pytest.raises(TypeError):
        ledger.claim_due("w1", 10, LEASE)  # type: ignore[misc]
    [claim] = ledger.claim_due("w1", limit=10, lease=LEASE)
    with pytest.raises(TypeError):
        ledger.store_prepared(claim, "w1", b"x", "text/xml", AT)  # type: ignore[misc]
    with pytest.raises(TypeError):
        ledger.mark_retry(claim, "w1", AT, "down")  # type: ignore[misc]
    with pytest.raises(TypeError):
        ledger.mark_rejected(claim, "w1", "bad")  # type: ignore[misc]
    with pytest.raises(TypeError):
        ledger.expire_unacknowledged(TIMEOUT)  # type: ignore[misc]
