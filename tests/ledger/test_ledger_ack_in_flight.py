"""An answer that overtakes the transmitter's mark_sent (pipelined batches: the DOJ answers
before the batch is marked SENT) counts as the answer to that send."""

from __future__ import annotations

import datetime as dt

from engine.ledger import AckKind, Ledger, State

LEASE = dt.timedelta(seconds=60)
KEY = "CA019015J/O-1"


def _claimed(ledger: Ledger, record):  # type: ignore[no-untyped-def]
    ledger.record_intake([record()])
    [claim] = ledger.claim_due("w1", limit=10, lease=LEASE)
    return claim


def test_an_accept_before_mark_sent_is_accepted_and_counts_the_attempt(ledger, record
                                                                       ) -> None:
    """The accept is a normal ACCEPTED (not late), the attempt is counted, and the
    transmitter's mark_sent that follows changes nothing."""
    claim = _claimed(ledger, record)
    result = ledger.record_acknowledgement(mcn=claim.mcn, accepted=True, record_id="H1")
    assert result.kind is AckKind.ACCEPTED and result.state is State.ACKED
    assert ledger.mark_sent(claim, "w1") is False
    [t] = ledger.transmissions_for(KEY)
    assert t["state"] == State.ACKED and t["attempt_count"] == 1
    assert t["last_attempt_at"] is not None


def test_a_retryable_reject_before_mark_sent_is_not_overwritten_by_it(ledger, record
                                                                      ) -> None:
    """A retryable reject that overtakes mark_sent leaves the transmission rescheduled;
    the late mark_sent does not turn it into SENT."""
    claim = _claimed(ledger, record)
    result = ledger.record_acknowledgement(mcn=claim.mcn, accepted=False, code="BUSY",
                                           reason="busy", retryable=True)
    assert result.kind is AckKind.REJECTED and result.state is State.RETRY_SCHEDULED
    assert ledger.mark_sent(claim, "w1") is False
    assert ledger.version_row(KEY, 1)["state"] == State.RETRY_SCHEDULED


def test_an_accept_for_an_unclaimed_ready_transmission_is_still_late(ledger, record
                                                                     ) -> None:
    """With no send in flight (no lease), an accept for a READY transmission is LATE, as
    before: it answers a send the engine had given up on."""
    ledger.record_intake([record()])
    [t] = ledger.transmissions_for(KEY)
    result = ledger.record_acknowledgement(mcn=t["mcn"], accepted=True, record_id="H1")
    assert result.kind is AckKind.LATE and result.state is State.ACKED
