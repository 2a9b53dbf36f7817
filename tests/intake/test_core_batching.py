"""Batched sending, batched acknowledgements and the in-flight window (issue 9): the same
invariants as the one-by-one path, fewer transactions and round trips."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from engine.errors import TransportError, TransportUnavailable
from engine.ledger import AckKind, State
from engine.receiver.stand_ins import StandInReceiver
from engine.transports.base import Envelope, Receipt, Transport
from tests.core.core_harness import Core, order_message


class BatchTransport(Transport):
    """A transport with ``send_many`` over the stand-in receiver; records each batch and
    can fail chosen messages of a batch, or a whole batch."""

    def __init__(self, receiver: StandInReceiver) -> None:
        self.receiver = receiver
        self.batches: list[list[str]] = []
        self.fail_mcns: set[str] = set()
        self.fail_whole_batches = 0

    def connect(self) -> None:
        return None

    def send(self, envelope: Envelope) -> Receipt:
        return self.receiver.receive(envelope)

    def send_many(self, envelopes: list[Envelope]) -> list[Receipt | TransportError]:
        self.batches.append([e.mcn for e in envelopes])
        if self.fail_whole_batches:
            self.fail_whole_batches -= 1
            raise TransportUnavailable("connection lost mid-batch")
        out: list[Receipt | TransportError] = []
        for envelope in envelopes:
            if envelope.mcn in self.fail_mcns:
                self.fail_mcns.discard(envelope.mcn)
                out.append(TransportUnavailable("not confirmed"))
            else:
                out.append(self.receiver.receive(envelope))
        return out

    def close(self) -> None:
        return None


@pytest.fixture
def batch(core: Core) -> BatchTransport:
    transport = BatchTransport(core.receiver)
    core.transmitter._transports["doj"] = transport
    return transport


def keys(n: int) -> list[str]:
    return [f"LA-DV-{i}" for i in range(n)]


class TestBatchedSend:
    def test_a_round_goes_out_as_one_batch_and_every_order_is_acked_once(
            self, core: Core, batch: BatchTransport) -> None:
        """Ten due orders go to a send_many transport in one batch; all end ACKED and each
        arrived once."""
        core.intake(*(order_message(k) for k in keys(10)))
        core.transmitter.run_once()
        assert [len(b) for b in batch.batches] == [10]
        assert core.ledger.state_counts() == {"ACKED": 10}
        assert len(core.receiver.arrivals) == 10

    def test_stored_bytes_carry_the_transmission_mcn(self, core: Core,
                                                     batch: BatchTransport) -> None:
        """Each batched message is rendered with its own MCN and those bytes are kept."""
        core.intake(*(order_message(k) for k in keys(3)))
        core.transmitter.run_once()
        for k in keys(3):
            [t] = core.ledger.transmissions_for(f"CA019015J/{k}")
            assert json.loads(t["body"])["mcn"] == t["mcn"]
            assert t["attempt_count"] == 1

    def test_a_message_the_batch_did_not_deliver_is_retried_with_the_same_mcn(
            self, core: Core, batch: BatchTransport) -> None:
        """An unconfirmed message of a batch goes the one-by-one way and is ACKED under
        the MCN it was first sent with."""
        core.intake(*(order_message(k) for k in keys(4)))
        claims = core.ledger.claim_due("peek", limit=10, lease=dt.timedelta(seconds=0))
        batch.fail_mcns = {claims[1].mcn}
        core.transmitter.run_once()
        assert core.ledger.state_counts() == {"ACKED": 4}
        assert [a.mcn for a in core.receiver.arrivals].count(claims[1].mcn) == 1

    def test_a_batch_that_fails_whole_falls_back_to_one_by_one(
            self, core: Core, batch: BatchTransport) -> None:
        """A connection lost mid-batch: each message is sent again alone, and all end
        ACKED."""
        batch.fail_whole_batches = 1
        core.intake(*(order_message(k) for k in keys(5)))
        core.transmitter.run_once()
        assert core.ledger.state_counts() == {"ACKED": 5}
        assert len({a.mcn for a in core.receiver.arrivals}) == 5

    def test_an_open_breaker_sends_no_batch(self, core: Core, batch: BatchTransport) -> None:
        """Once the destination's breaker is open, no further batch is attempted."""
        from engine.reliability.breaker import BreakerState

        core.receiver.down = True
        core.intake(*(order_message(k) for k in keys(3)))
        for _ in range(6):
            core.transmitter.run_once()
            if core.transmitter.breakers["doj"].state is BreakerState.OPEN:
                break
            core.clock.advance(60)
        assert core.transmitter.breakers["doj"].state is BreakerState.OPEN
        tried = len(batch.batches)
        core.transmitter.run_once()
        assert len(batch.batches) == tried
        assert core.ledger.state_counts().get("ACKED", 0) == 0


class TestInFlightWindow:
    def test_no_more_than_max_in_flight_wait_for_acks(self, core: Core) -> None:
        """With asynchronous acks, the transmitter stops at the window and goes on once
        acknowledgements free it."""
        core.receiver.asynchronous = True
        core.transmitter._max_in_flight = 3
        core.intake(*(order_message(k) for k in keys(5)))
        core.transmitter.run_once()
        core.transmitter.run_once()
        assert core.ledger.state_counts() == {"SENT": 3, "READY": 2}
        assert core.correlator.apply_many(core.receiver.pending_acks, "niem")
        core.transmitter.run_once()
        assert core.ledger.state_counts() == {"ACKED": 3, "SENT": 2}


class TestBatchedAcks:
    def test_a_batch_of_acks_is_applied_in_one_call_malformed_included(
            self, core: Core) -> None:
        """apply_many records every answer of the batch: accepted ones ACK their versions,
        garbage is recorded as malformed."""
        core.receiver.asynchronous = True
        core.intake(*(order_message(k) for k in keys(3)))
        core.transmitter.run_once()
        results = core.correlator.apply_many([*core.receiver.pending_acks, b"<<garbage"],
                                             "niem")
        assert [r.kind for r in results] == [AckKind.ACCEPTED] * 3 + [AckKind.MALFORMED]
        assert core.ledger.state_counts() == {"ACKED": 3}

    def test_the_same_ack_twice_in_one_batch_is_a_duplicate(self, core: Core) -> None:
        """Within one batch, a repeated answer is applied once and recorded as duplicate."""
        core.receiver.asynchronous = True
        core.intake(order_message())
        core.transmitter.run_once()
        [ack] = core.receiver.pending_acks
        kinds = [r.kind for r in core.correlator.apply_many([ack, ack], "niem")]
        assert kinds == [AckKind.ACCEPTED, AckKind.DUPLICATE]


class TestLedgerBatches:
    def test_lost_claims_are_reported_not_written(self, core: Core) -> None:
        """store_prepared_many and mark_sent_many say False for a claim another worker
        holds now, and write nothing for it."""
        core.intake(*(order_message(k) for k in keys(2)))
        mine = core.ledger.claim_due("me", limit=10, lease=dt.timedelta(minutes=2))
        now = core.clock()
        stored = core.ledger.store_prepared_many(
            [(c, b"{}", "application/json", now, ()) for c in mine], "someone-else")
        assert stored == [False, False]
        assert core.ledger.mark_sent_many(mine, "me") == [True, True]
        assert core.ledger.state_counts() == {State.SENT: 2}


class TestWake:
    def test_a_commit_wakes_the_transmitter_before_its_poll_interval(self, core: Core
                                                                      ) -> None:
        """With a one-hour poll interval, an intake commit still gets its order sent: the
        pipeline's after_commit sets the transmitter's wake event."""
        import threading

        stop, wake = threading.Event(), threading.Event()
        core.pipeline.after_commit = wake.set
        thread = threading.Thread(target=core.transmitter.run, args=(stop,),
                                  kwargs={"poll_interval": 3600.0, "wake": wake}, daemon=True)
        thread.start()
        try:
            core.intake(order_message())
            for _ in range(200):  # bounded: 20 s at most, far below the poll interval
                if core.ledger.state_counts() == {"ACKED": 1}:
                    break
                stop.wait(0.1)
            assert core.ledger.state_counts() == {"ACKED": 1}
        finally:
            stop.set()
            wake.set()
            thread.join(10)

    def test_after_commit_runs_only_when_the_commit_succeeded(self, core: Core) -> None:
        """A failed ledger commit calls no after_commit (nothing new to send)."""
        from engine.errors import LedgerError

        calls: list[int] = []
        core.pipeline.after_commit = lambda: calls.append(1)
        core.intake(order_message("A"))
        original = core.ledger.record_intake

        def broken(records):  # type: ignore[no-untyped-def]
            raise LedgerError("ledger unavailable: OperationalError")

        core.ledger.record_intake = broken  # type: ignore[method-assign]
        with pytest.raises(LedgerError):
            core.intake(order_message("B"))
        core.ledger.record_intake = original  # type: ignore[method-assign]
        assert calls == [1]
