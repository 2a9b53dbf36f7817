"""Who holds a claim, when a lease ends, which transmission is a version's own, and where
an MCN comes from: the rules the transmitter and the operators' resend rest on.

Each test sets up the case where a near miss of the rule would pick another row: another
claim the same worker holds, a worker whose name sorts before ours, a lease at its very
end, a transmission of another version with a higher id, a destination or order key that
sorts the other way.
"""

from __future__ import annotations

import collections
import dataclasses
import datetime as dt
import itertools
from collections.abc import Callable, Iterator

import pytest

from engine.errors import LedgerError
from engine.ledger import Claim, Ledger, State, open_database
from tests.ledger.test_ledger_transmissions import key, to

LEASE = dt.timedelta(seconds=60)
AT = dt.datetime(2026, 11, 23, 9, 0, 5, tzinfo=dt.UTC)


def claim(ledger: Ledger, worker: str, destination: str | None = None) -> Claim:
    [got] = ledger.claim_due(worker, limit=10, lease=LEASE, destination=destination)
    return got


def accept(ledger: Ledger, c: Claim) -> None:
    assert ledger.mark_sent(c, "w1") is True
    assert ledger.record_acknowledgement(mcn=c.mcn, accepted=True, record_id="H1") is not None


def reject(ledger: Ledger, c: Claim) -> None:
    assert ledger.mark_sent(c, "w1") is True
    ledger.record_acknowledgement(mcn=c.mcn, accepted=False, code="R1", reason="bad name")


#: The four things a claim's holder may do, each answering whether it took.
ACTIONS: dict[str, Callable[[Ledger, Claim, str], bool]] = {
    "store_prepared": lambda lg, c, w: lg.store_prepared(
        c, w, body=b"<x/>", content_type="text/xml", prepared_at=AT),
    "mark_sent": lambda lg, c, w: lg.mark_sent(c, w),
    "mark_retry": lambda lg, c, w: lg.mark_retry(c, w, next_attempt_at=AT, error="down"),
    "mark_rejected": lambda lg, c, w: lg.mark_rejected(c, w, reason="R1"),
}


class TestAClaimIsHeldByItsWorkerOnly:
    @pytest.mark.parametrize("lost_one", ["first", "second"])
    @pytest.mark.parametrize("action", sorted(ACTIONS))
    def test_a_lost_claim_is_not_saved_by_another_claim_the_worker_holds(
            self, ledger, record, clock, action: str, lost_one: str) -> None:
        """w1 held A (doj) and B (fbi); after its lease ended w2 took one and w1 the other
        again. w1 acting on the one it lost is refused and changes no row, whichever of the
        two was written first."""
        ledger.record_intake([record("A"), to(record("B"), "fbi")])
        old = {c.destination: c for c in ledger.claim_due("w1", limit=10, lease=LEASE)}
        clock.advance(61)
        lost_to, kept_at = ("doj", "fbi") if lost_one == "first" else ("fbi", "doj")
        claim(ledger, "w2", lost_to)
        claim(ledger, "w1", kept_at)
        before = {o: ledger.transmissions_for(key(o)) for o in "AB"}
        assert ACTIONS[action](ledger, old[lost_to], "w1") is False
        assert {o: ledger.transmissions_for(key(o)) for o in "AB"} == before

    @pytest.mark.parametrize("other", ["w0", "w2"])
    @pytest.mark.parametrize("action", sorted(ACTIONS))
    def test_a_claim_taken_over_is_refused_whatever_the_other_workers_name(
            self, ledger, record, clock, action: str, other: str) -> None:
        """The worker's name is compared for equality: a taker named before or after w1."""
        ledger.record_intake([record("A")])
        lost = claim(ledger, "w1")
        clock.advance(61)
        claim(ledger, other)
        assert ACTIONS[action](ledger, lost, "w1") is False
        [t] = ledger.transmissions_for(key("A"))
        assert (t["state"], t["claimed_by"], t["attempt_count"]) == (State.READY, other, 0)

    @pytest.mark.parametrize("other", ["w0", "w2"])
    def test_a_batch_refuses_a_claim_taken_over_whatever_the_other_workers_name(
            self, ledger, record, clock, other: str) -> None:
        ledger.record_intake([record("A")])
        lost = claim(ledger, "w1")
        clock.advance(61)
        claim(ledger, other)
        assert ledger.mark_sent_many([lost], "w1") == [False]
        assert ledger.store_prepared_many([(lost, b"<x/>", "text/xml", AT, ())], "w1") == [
            False]
        [t] = ledger.transmissions_for(key("A"))
        assert (t["state"], t["claimed_by"], t["body"]) == (State.READY, other, None)


class TestLeases:
    def test_a_lease_is_over_at_its_end(self, ledger, record, clock) -> None:
        """A claim leased for 60 s can be taken by another worker at 60 s, not at 59 s."""
        ledger.record_intake([record("A")])
        claim(ledger, "w1")
        clock.advance(59)
        assert ledger.claim_due("w2", limit=10, lease=LEASE) == []
        clock.advance(1)
        assert [c.order_key for c in ledger.claim_due("w2", limit=10, lease=LEASE)] == [
            key("A")]

    @pytest.mark.parametrize("wanted, other", [("doj", "fbi"), ("fbi", "doj")])
    def test_a_claim_for_a_destination_takes_none_of_another(self, ledger, record,
                                                             wanted: str, other: str) -> None:
        """Whichever way the two names sort."""
        ledger.record_intake([to(record("A"), wanted), to(record("B"), other)])
        claims = ledger.claim_due("w1", limit=10, lease=LEASE, destination=wanted)
        assert [c.destination for c in claims] == [wanted]


class TestAVersionsOwnTransmission:
    def test_a_resend_leaves_the_next_versions_transmission_alone_and_it_goes_after(
            self, ledger, record) -> None:
        """Versions 1 and 2 arrive together; 1 is rejected and resent (a new transmission,
        written after version 2's). The resend supersedes version 1's rejected message
        only; once the resend is accepted, version 2's own transmission goes."""
        ledger.record_intake([record("O"), record("O", 2)])
        first = claim(ledger, "w1")
        reject(ledger, first)
        ledger.resend(key("O"), 1)
        states = [(t["version"], t["state"]) for t in ledger.transmissions_for(key("O"))]
        assert collections.Counter(states) == collections.Counter(
            [(1, State.SUPERSEDED), (1, State.READY), (2, State.WAITING)])
        resent = claim(ledger, "w1")
        assert (resent.version, resent.mcn != first.mcn) == (1, True)
        accept(ledger, resent)
        second = claim(ledger, "w1")
        assert second.version == 2
        assert ledger.claim_due("w1", limit=10, lease=LEASE) == []


class TestPreviousMessageNearMisses:
    def test_another_orders_message_is_never_the_reference_whichever_was_written_later(
            self, ledger, record) -> None:
        """B, then A, then C accepted: B's modify names B's message, not A's (key sorts
        before, written after) nor C's (sorts after, written after)."""
        done = {}
        for order_id in "BAC":
            ledger.record_intake([record(order_id)])
            done[order_id] = claim(ledger, "w1")
            accept(ledger, done[order_id])
        ledger.record_intake([record("B", 2)])
        assert claim(ledger, "w1").previous_mcn == done["B"].mcn

    def test_a_resend_of_another_order_is_not_the_reference(self, ledger, record) -> None:
        """A and B arrive; A is rejected, resent and accepted after B was: B's modify still
        names B's own message (A's resend has the higher id, A's version the lower)."""
        ledger.record_intake([record("A"), record("B")])
        a1 = {c.order_key: c for c in ledger.claim_due("w1", limit=10, lease=LEASE)}
        b1 = a1[key("B")]
        accept(ledger, b1)
        reject(ledger, a1[key("A")])
        ledger.resend(key("A"), 1)
        accept(ledger, claim(ledger, "w1"))
        ledger.record_intake([record("B", 2)])
        assert claim(ledger, "w1").previous_mcn == b1.mcn

    @pytest.mark.parametrize("first, then", [("doj", "fbi"), ("fbi", "doj")])
    def test_another_destinations_message_is_never_the_reference(
            self, ledger, record, first: str, then: str) -> None:
        """Version 1 went to one destination, version 2 to the other: no reference, whichever
        way the names sort."""
        ledger.record_intake([to(record("O"), first)])
        accept(ledger, claim(ledger, "w1"))
        ledger.record_intake([to(record("O", 2), then)])
        c = claim(ledger, "w1")
        assert (c.destination, c.previous_mcn) == (then, None)


def mcns(*values: str) -> Callable[[], str]:
    """An MCN factory giving these values, then fresh distinct ones."""
    it: Iterator[str] = itertools.chain(values, (f"FRESH{n:07d}" for n in itertools.count()))
    return lambda: next(it)


@pytest.fixture
def ledger_with(tmp_path, clock):  # type: ignore[no-untyped-def]
    def make(factory: Callable[[], str]) -> Ledger:
        return Ledger(open_database(f"sqlite:///{tmp_path / 'l.db'}"), clock=clock,
                      mcn_factory=factory)
    return make


class TestWhereAnMcnComesFrom:
    def test_four_taken_mcns_in_a_row_are_skipped(self, ledger_with, record) -> None:
        """A resend draws MCNs until one is unused, up to five draws."""
        ledger = ledger_with(mcns("TAKEN", "TAKEN", "TAKEN", "TAKEN", "TAKEN", "NEW"))
        ledger.record_intake([record("O")])
        reject(ledger, claim(ledger, "w1"))
        assert ledger.resend(key("O"), 1) == "NEW"

    def test_five_taken_mcns_in_a_row_are_a_broken_factory(self, ledger_with, record) -> None:
        ledger = ledger_with(mcns(*["TAKEN"] * 6, "NEW"))
        ledger.record_intake([record("O")])
        reject(ledger, claim(ledger, "w1"))
        with pytest.raises(LedgerError, match="unused message control number"):
            ledger.resend(key("O"), 1)

    def test_a_message_without_its_mcn_is_not_kept(self, ledger_with, record) -> None:
        """The MCN is inside the message: a message that came without one is dropped (it is
        rendered at the first send) and the transmission gets a fresh MCN."""
        ledger = ledger_with(mcns("FRESH"))
        ledger.record_intake([dataclasses.replace(record("O"), body=b"<m/>",
                                                  content_type="text/xml", prepared_at=AT)])
        [t] = ledger.transmissions_for(key("O"))
        assert (t["mcn"], t["body"]) == ("FRESH", None)

    def test_an_mcn_without_its_message_is_not_used(self, ledger_with, record) -> None:
        """Intake's MCN is kept only with the message it names; alone, a fresh one."""
        ledger = ledger_with(mcns("FRESH"))
        ledger.record_intake([dataclasses.replace(record("O"), mcn="INTAKE")])
        [t] = ledger.transmissions_for(key("O"))
        assert (t["mcn"], t["body"]) == ("FRESH", None)
