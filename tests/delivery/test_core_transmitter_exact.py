"""The transmitter's round, stated exactly: when it looks for unanswered sends, how much it
claims, when it reschedules what it did not send, what its hooks hear, and its defaults.

Each test builds its own `Rig` (a SQLite ledger, the stand-in DOJ receiver, a fake clock,
recording hooks), so that each setting is either the documented default or chosen here.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import threading
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from engine.acks.correlator import Correlator
from engine.config import CourtConfig, DestinationConfig, EngineConfig
from engine.delivery import transmitter as transmitter_module
from engine.delivery.transmitter import Transmitter
from engine.errors import TransportError, TransportUnavailable
from engine.intake.pipeline import IntakeMessage, Pipeline
from engine.ledger import Claim, Ledger, State, open_database
from engine.receiver.stand_ins import StandInReceiver, parse_stand_in_ack, stand_in_render
from engine.reliability.breaker import BreakerPolicy, BreakerState
from engine.reliability.retry import RetryPolicy
from engine.transports.base import Envelope, Receipt, Transport
from tests.core.core_harness import FakeClock, order_message

OTHER_COURT = {"ori": "CA033015J", "name": "Superior Court of California, County of "
               "Riverside", "county": "Riverside"}
NO_JITTER = RetryPolicy(initial_interval=10, max_interval=60, jitter=0)


class Hooks:
    """Records what the transmitter tells its hooks."""

    def __init__(self) -> None:
        self.sends: list[tuple[str, str, float]] = []
        self.breaker: list[tuple[str, BreakerState, int]] = []

    def after_intake(self, result: Any, order_type: Any) -> None:
        return None

    def after_send(self, claim: Claim, outcome: str, seconds: float) -> None:
        self.sends.append((claim.order_key, outcome, seconds))

    def after_ack(self, result: Any) -> None:
        return None

    def breaker_changed(self, destination: str, state: BreakerState, failures: int) -> None:
        self.breaker.append((destination, state, failures))


class BatchTransport(Transport):
    """``send_many`` over the stand-in receiver; records each batch and single send."""

    def __init__(self, receiver: StandInReceiver) -> None:
        self.receiver = receiver
        self.batches: list[list[str]] = []
        self.singles: list[str] = []
        self.fail_whole: TransportError | None = None

    def connect(self) -> None:
        return None

    def send(self, envelope: Envelope) -> Receipt:
        self.singles.append(envelope.mcn)
        return self.receiver.receive(envelope)

    def send_many(self, envelopes: list[Envelope]) -> list[Receipt | Exception]:
        self.batches.append([e.mcn for e in envelopes])
        if self.fail_whole is not None:
            raise self.fail_whole
        return [self.receiver.receive(e) for e in envelopes]

    def close(self) -> None:
        return None


def aware(value: dt.datetime | None) -> dt.datetime | None:
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=dt.UTC)


class Rig:
    """One transmitter over a SQLite ledger, built with the given settings only."""

    def __init__(self, tmp_path: Path, *, destinations: tuple[str, ...] = ("doj",),
                 due_in: dt.timedelta = dt.timedelta(days=30), **settings: Any) -> None:
        self.clock = FakeClock()
        self.ledger = Ledger(open_database(f"sqlite:///{tmp_path / 'ledger.db'}"),
                             clock=self.clock)
        self.receivers = {name: StandInReceiver() for name in destinations}
        self.hooks = Hooks()
        courts = {"*": CourtConfig(destination=destinations[0])}
        if len(destinations) > 1:
            courts[OTHER_COURT["ori"]] = CourtConfig(destination=destinations[1])
        config = EngineConfig(courts=courts, destinations={
            name: DestinationConfig(name=name, transport="mock", format="niem")
            for name in destinations})
        self.correlator = Correlator(self.ledger, {"niem": parse_stand_in_ack},
                                     reschedule=NO_JITTER)
        settings.setdefault("retry", RetryPolicy(max_retries=0, initial_interval=0,
                                                 max_interval=0, jitter=0))
        settings.setdefault("reschedule", NO_JITTER)
        settings.setdefault("breaker", BreakerPolicy(failure_threshold=3, reset_timeout=30))
        self.transports: dict[str, Transport] = {
            name: r.transport() for name, r in self.receivers.items()}
        self.transports.update(settings.pop("transports", {}))
        self.transmitter = Transmitter(
            self.ledger, transports=self.transports, renderers={"niem": stand_in_render},
            correlator=self.correlator, clock=self.clock, sleep=lambda s: None,
            hooks=self.hooks, **settings)  # type: ignore[arg-type]
        self.pipeline = Pipeline.build(config, self.ledger, renderers={"niem": stand_in_render},
                                       clock=self.clock,
                                       due_at=lambda order: self.clock.now + due_in)

    @property
    def receiver(self) -> StandInReceiver:
        return next(iter(self.receivers.values()))

    def intake(self, *messages: IntakeMessage) -> None:
        self.pipeline.run(list(messages))

    def orders(self, n: int, prefix: str = "R", **changes: Any) -> list[str]:
        ids = [f"{prefix}-{i}" for i in range(n)]
        self.intake(*(order_message(i, **changes) for i in ids))
        court = changes.get("court", {"ori": "CA019015J"})["ori"]
        return [f"{court}/{i}" for i in ids]

    def row(self, key: str, version: int | None = None) -> dict[str, Any]:
        """The order's live transmission (of ``version``, when the order has several)."""
        [row] = [t for t in self.ledger.transmissions_for(key)
                 if t["state"] != State.SUPERSEDED and version in (None, t["version"])]
        return row

    def state(self, key: str) -> str:
        return str(self.row(key)["state"])

    def fail_sends(self, name: str = "doj") -> None:
        self.receivers[name].down = True

    def spy(self, method: str) -> list[dict[str, Any]]:
        """Record the keyword arguments of each call of a ledger method (it still runs)."""
        calls: list[dict[str, Any]] = []
        real = getattr(self.ledger, method)

        def spying(*args: Any, **kwargs: Any) -> Any:
            calls.append(kwargs)
            return real(*args, **kwargs)
        setattr(self.ledger, method, spying)
        return calls


@pytest.fixture
def ticks(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[float]]:
    """The transmitter's monotonic clock: each reading is a quarter second after the last,
    so a send's measured duration is exact."""
    readings: list[float] = []

    def monotonic() -> float:
        readings.append(1000.0 + 0.25 * len(readings))
        return readings[-1]
    monkeypatch.setattr(transmitter_module, "time", types.SimpleNamespace(monotonic=monotonic))
    yield readings


class TestUnansweredSendsAreLookedForOnceASecond:
    """`EXPIRY_EVERY`: the ledger is asked for overdue sends at the first round and then
    only when a whole second has gone since it was last asked."""

    def test_first_round_then_only_after_a_whole_second(self, tmp_path: Path) -> None:
        rig = Rig(tmp_path)
        asked = rig.spy("expire_unacknowledged")
        pattern = []
        for step in (0, 0.5, 0.5, 0.999, 1.5):
            rig.clock.advance(step)
            rig.transmitter.run_once()
            pattern.append(len(asked))
        # t = 0 asked; 0.5 not; 1.0 asked (exactly a second); 1.999 not; 3.499 asked
        assert pattern == [1, 1, 2, 2, 3]

    def test_it_asks_with_the_ack_timeout_and_its_destination(self, tmp_path: Path) -> None:
        rig = Rig(tmp_path, ack_timeout=dt.timedelta(minutes=7), destination="doj")
        asked = rig.spy("expire_unacknowledged")
        rig.transmitter.run_once()
        assert asked == [{"older_than": dt.timedelta(minutes=7), "destination": "doj"}]


class TestDefaults:
    """Built without settings, a transmitter uses the documented defaults."""

    def test_at_most_50_a_round(self, tmp_path: Path) -> None:
        rig = Rig(tmp_path)
        rig.orders(52)
        assert rig.transmitter.run_once() == 50
        assert rig.transmitter.run_once() == 2

    def test_a_claim_is_leased_for_two_minutes(self, tmp_path: Path) -> None:
        rig = Rig(tmp_path)
        [key] = rig.orders(1)
        seen: list[dt.datetime | None] = []
        real = rig.receiver.receive

        def receive(envelope: Envelope) -> Receipt:
            seen.append(aware(rig.row(key)["lease_until"]))
            return real(envelope)
        rig.transports["doj"] = rig.transmitter._transports["doj"] = type(
            rig.transports["doj"])(receive)
        rig.transmitter.run_once()
        assert seen == [rig.clock.now + dt.timedelta(minutes=2)]

    def test_an_unanswered_send_is_resent_after_five_minutes_not_before(
            self, tmp_path: Path) -> None:
        rig = Rig(tmp_path)
        rig.receiver.asynchronous = True  # the DOJ takes it and never answers
        [key] = rig.orders(1)
        rig.transmitter.run_once()
        rig.clock.advance(299)
        rig.transmitter.run_once()
        assert (rig.state(key), rig.receiver.attempts) == (State.SENT, 1)
        rig.clock.advance(1)
        rig.transmitter.run_once()
        assert rig.receiver.attempts == 2  # resent (same MCN: the receiver answers it once)

    def test_at_most_200_sends_unanswered_at_once(self, tmp_path: Path) -> None:
        rig = Rig(tmp_path, batch_size=500)
        rig.receiver.asynchronous = True
        rig.orders(201)
        assert rig.transmitter.run_once() == 200
        assert rig.transmitter.run_once() == 0
        rig.correlator.apply_bytes(rig.receiver.pending_acks[0], "niem")
        assert rig.transmitter.run_once() == 1

    def test_a_retry_is_planned_no_later_than_five_minutes_before_the_due_time(
            self, tmp_path: Path) -> None:
        rig = Rig(tmp_path, due_in=dt.timedelta(minutes=20),
                  reschedule=RetryPolicy(initial_interval=3600, max_interval=3600, jitter=0))
        rig.fail_sends()
        [key] = rig.orders(1)
        rig.transmitter.run_once()
        assert aware(rig.row(key)["next_attempt_at"]) == rig.clock.now + dt.timedelta(
            minutes=15)

    def test_a_generated_worker_id_is_tx_and_12_hex_digits(self, tmp_path: Path) -> None:
        one, two = Rig(tmp_path / "a"), Rig(tmp_path / "b")
        (tmp_path / "a").mkdir(exist_ok=True)
        for rig in (one, two):
            assert re.fullmatch(r"tx-[0-9a-f]{12}", rig.transmitter.worker_id)
        assert one.transmitter.worker_id != two.transmitter.worker_id

    def test_settings_are_keyword_only(self, tmp_path: Path) -> None:
        rig = Rig(tmp_path)
        with pytest.raises(TypeError):
            Transmitter(rig.ledger, rig.transports, {}, rig.correlator)  # type: ignore[misc]
        with pytest.raises(TypeError):
            rig.transmitter.run(threading.Event(), 0.1)  # type: ignore[misc]


class TestInFlightWindow:
    def test_one_free_place_sends_one(self, tmp_path: Path) -> None:
        rig = Rig(tmp_path, max_in_flight=3)
        rig.receiver.asynchronous = True
        rig.orders(5)
        assert rig.transmitter.run_once() == 3
        rig.correlator.apply_bytes(rig.receiver.pending_acks[0], "niem")
        assert rig.transmitter.run_once() == 1
        assert rig.ledger.count_in_flight() == 3

    def test_more_in_flight_than_the_window_sends_nothing(self, tmp_path: Path) -> None:
        """A window made smaller (a restart with a lower max_in_flight) while more are in
        flight: nothing more is sent until the acks bring the count under it."""
        rig = Rig(tmp_path, max_in_flight=4)
        rig.receiver.asynchronous = True
        rig.orders(6)
        assert rig.transmitter.run_once() == 4
        rig.transmitter._max_in_flight = 2
        claimed = rig.spy("claim_due")
        assert rig.transmitter.run_once() == 0
        assert claimed == []


class TestOpenBreakerWork:
    def test_work_for_an_open_destination_is_not_claimed(self, tmp_path: Path) -> None:
        """While the breaker is open, its due work stays in the ledger untouched (no claim,
        no 'breaker open' send), until the probe is due."""
        rig = Rig(tmp_path, breaker=BreakerPolicy(failure_threshold=1, reset_timeout=300),
                  reschedule=RetryPolicy(initial_interval=1, max_interval=1, jitter=0))
        rig.fail_sends()
        keys = rig.orders(3)
        rig.transmitter.run_once()
        assert rig.transmitter.breakers["doj"].state is BreakerState.OPEN
        rig.hooks.sends.clear()
        rig.clock.advance(60)  # every retry is due; the breaker reopens only at 300 s
        claimed = rig.spy("claim_due")
        assert rig.transmitter.run_once() == 0
        assert rig.hooks.sends == []
        assert [c["exclude_destinations"] for c in claimed] == [["doj"]]
        assert {rig.state(k) for k in keys} == {State.RETRY_SCHEDULED}


class TestRescheduleTimes:
    def test_the_rest_of_a_failing_round_waits_one_reschedule_interval(
            self, tmp_path: Path) -> None:
        """After one failed send, the round's other claims for that destination are not
        tried: each waits the first reschedule interval (10 s here), not counted as an
        attempt."""
        rig = Rig(tmp_path)
        rig.fail_sends()
        first, *rest = rig.orders(3)
        rig.transmitter.run_once()
        assert rig.receiver.attempts == 1
        for key in rest:
            row = rig.row(key)
            assert aware(row["next_attempt_at"]) == rig.clock.now + dt.timedelta(seconds=10)
            assert row["attempt_count"] == 0
            assert row["last_error"] == "destination failed earlier in this round"
        assert rig.row(first)["attempt_count"] == 1

    def test_a_failed_send_waits_by_its_attempt_number(self, tmp_path: Path) -> None:
        """The first failure waits 10 s, the second 20 s (the reschedule policy's first and
        second intervals)."""
        rig = Rig(tmp_path, breaker=BreakerPolicy(failure_threshold=10, reset_timeout=1000))
        rig.fail_sends()
        [key] = rig.orders(1)
        rig.transmitter.run_once()
        assert aware(rig.row(key)["next_attempt_at"]) == rig.clock.now + dt.timedelta(
            seconds=10)
        rig.clock.advance(10)
        rig.transmitter.run_once()
        assert aware(rig.row(key)["next_attempt_at"]) == rig.clock.now + dt.timedelta(
            seconds=20)

    def test_an_unconfigured_destination_is_tried_again_in_five_minutes(
            self, tmp_path: Path) -> None:
        """Work for a destination this engine has no transport for is not sent and not
        counted as an attempt; it waits five minutes (a config reload may add it)."""
        rig = Rig(tmp_path)
        [key] = rig.orders(1)
        del rig.transmitter._transports["doj"]
        assert rig.transmitter.run_once() == 1
        row = rig.row(key)
        assert aware(row["next_attempt_at"]) == rig.clock.now + dt.timedelta(minutes=5)
        assert row["attempt_count"] == 0
        assert row["last_error"] == "destination 'doj' is not configured in this engine"

    def test_a_destination_without_a_breaker_is_unconfigured_too(self, tmp_path: Path) -> None:
        rig = Rig(tmp_path)
        [key] = rig.orders(1)
        del rig.transmitter.breakers["doj"]
        rig.transmitter.run_once()
        assert rig.row(key)["last_error"] == ("destination 'doj' is not configured in this "
                                              "engine")
        assert rig.receiver.attempts == 0

    def test_an_unconfigured_destination_does_not_stop_the_rest_of_the_round(
            self, tmp_path: Path) -> None:
        rig = Rig(tmp_path, destinations=("doj", "doj2"))
        [gone] = rig.orders(1, "G")
        [kept, also] = rig.orders(2, "K", court=OTHER_COURT)
        [more] = rig.orders(1, "M")
        del rig.transmitter._transports["doj"]
        rig.transmitter.run_once()
        assert rig.state(kept) == rig.state(also) == State.ACKED
        assert rig.state(gone) == rig.state(more) == State.RETRY_SCHEDULED
        assert rig.row(more)["last_error"] == rig.row(gone)["last_error"]

    def test_a_claim_refused_by_the_breaker_waits_for_it_uncounted(
            self, tmp_path: Path) -> None:
        """The breaker opens mid-round: the claims after it are not attempted (attempts not
        counted), each waits until the breaker half-opens, and the hook hears
        'breaker_open' with no time spent."""
        rig = Rig(tmp_path, breaker=BreakerPolicy(failure_threshold=1, reset_timeout=30),
                  destinations=("doj", "doj2"))
        rig.fail_sends()
        [_first] = rig.orders(1, "A")
        [other] = rig.orders(1, "B", court=OTHER_COURT)
        rig.transmitter.run_once()  # A fails: the breaker opens
        rig.clock.advance(30)
        rig.receivers["doj"].down = True
        b = rig.transmitter.breakers["doj"]
        assert b.state is BreakerState.HALF_OPEN
        [late] = rig.orders(1, "C")
        rig.hooks.sends.clear()
        b.allow()  # the trial is taken elsewhere: this round may not send to doj
        rig.transmitter.run_once()
        assert ("CA019015J/C-0", "breaker_open", 0.0) in rig.hooks.sends
        row = rig.row(late)
        assert row["attempt_count"] == 0 and row["last_error"] == (
            "circuit open: destination is failing")
        assert aware(row["next_attempt_at"]) == b.retry_at()
        assert rig.state(other) == State.ACKED  # the other destination went on


class TestHookTimings:
    def test_a_sent_message_reports_the_time_its_send_took(self, tmp_path: Path,
                                                           ticks: list[float]) -> None:
        rig = Rig(tmp_path)
        [key] = rig.orders(1)
        rig.transmitter.run_once()
        assert rig.hooks.sends == [(key, "sent", 0.25)]

    def test_a_retry_reports_the_time_its_send_took(self, tmp_path: Path,
                                                    ticks: list[float]) -> None:
        rig = Rig(tmp_path)
        rig.fail_sends()
        [key] = rig.orders(1)
        rig.transmitter.run_once()
        assert rig.hooks.sends == [(key, "retry", 0.25)]

    def test_a_rejection_reports_the_time_its_send_took(self, tmp_path: Path,
                                                        ticks: list[float]) -> None:
        rig = Rig(tmp_path)
        [key] = rig.orders(1)
        rig.receiver.refuse.add(key)
        rig.transmitter.run_once()
        assert rig.hooks.sends == [(key, "rejected", 0.25)]

    def test_a_batch_shares_its_time_among_its_messages(self, tmp_path: Path,
                                                        ticks: list[float]) -> None:
        rig = Rig(tmp_path)
        rig.transmitter._transports["doj"] = BatchTransport(rig.receiver)
        keys = rig.orders(4)
        rig.transmitter.run_once()
        assert rig.hooks.sends == [(k, "sent", 0.25 / 4) for k in keys]

class TestBreakerNews:
    """`breaker_changed` is heard exactly when the breaker's state or failure count moves."""

    def test_a_success_on_a_healthy_destination_changes_nothing(self, tmp_path: Path) -> None:
        rig = Rig(tmp_path)
        rig.orders(2)
        rig.transmitter.run_once()
        assert rig.hooks.breaker == []

    def test_a_failure_and_the_success_after_it_are_both_news(self, tmp_path: Path) -> None:
        rig = Rig(tmp_path)
        rig.fail_sends()
        rig.orders(1)
        rig.transmitter.run_once()
        assert rig.hooks.breaker == [("doj", BreakerState.CLOSED, 1)]
        rig.receiver.down = False
        rig.clock.advance(10)
        rig.transmitter.run_once()
        assert rig.hooks.breaker == [("doj", BreakerState.CLOSED, 1),
                                     ("doj", BreakerState.CLOSED, 0)]

    def test_a_rejection_is_an_answer_not_a_failure(self, tmp_path: Path) -> None:
        """The DOJ refusing an order proves it is up: after an earlier failure, a
        rejection resets the failures."""
        rig = Rig(tmp_path)
        rig.fail_sends()
        [key] = rig.orders(1)
        rig.transmitter.run_once()
        rig.receiver.down = False
        rig.receiver.refuse.add(key)
        rig.clock.advance(10)
        rig.transmitter.run_once()
        assert rig.transmitter.breakers["doj"].failures == 0
        assert rig.state(key) == State.REJECTED

    def test_a_success_without_a_failure_pulls_nothing_forward(self, tmp_path: Path) -> None:
        """Only a destination that answers *again* after failing has its waiting work sent
        early; a success on a healthy one leaves a retry scheduled for later where it is."""
        rig = Rig(tmp_path)
        [waiting] = rig.orders(1, "W")
        [claim] = rig.ledger.claim_due("test", limit=1, lease=dt.timedelta(minutes=1))
        later = rig.clock.now + dt.timedelta(hours=1)
        rig.ledger.mark_retry(claim, "test", next_attempt_at=later, error="later",
                              attempted=False)
        rig.orders(1, "N")
        rig.transmitter.run_once()
        rig.transmitter.run_once()
        assert rig.state(waiting) == State.RETRY_SCHEDULED
        assert aware(rig.row(waiting)["next_attempt_at"]) == later

    def test_a_recovered_destination_sends_its_waiting_work_at_once(
            self, tmp_path: Path) -> None:
        """After a failure, the next success pulls every waiting transmission forward,
        whatever its scheduled retry, in the next round."""
        rig = Rig(tmp_path, reschedule=RetryPolicy(initial_interval=600, max_interval=600,
                                                   jitter=0))
        rig.fail_sends()
        keys = rig.orders(3)
        rig.transmitter.run_once()  # one fails, two deferred 600 s
        rig.receiver.down = False
        [fresh] = rig.orders(1, "F")
        rig.transmitter.run_once()  # the fresh one is sent: the destination answers again
        assert rig.state(fresh) == State.ACKED
        rig.transmitter.run_once()
        assert {rig.state(k) for k in keys} == {State.ACKED}


class TestBatchPath:
    def test_two_claims_go_as_a_batch_one_goes_alone(self, tmp_path: Path) -> None:
        rig = Rig(tmp_path)
        transport = BatchTransport(rig.receiver)
        rig.transmitter._transports["doj"] = transport
        rig.orders(1, "S")
        rig.transmitter.run_once()
        assert (len(transport.batches), len(transport.singles)) == (0, 1)
        rig.orders(2, "P")
        rig.transmitter.run_once()
        assert [len(b) for b in transport.batches] == [2]
        assert len(transport.singles) == 1

    def test_a_half_open_destination_gets_no_batch(self, tmp_path: Path) -> None:
        """While the breaker half-opens, work goes one by one: the first send is the trial."""
        rig = Rig(tmp_path, breaker=BreakerPolicy(failure_threshold=1, reset_timeout=30),
                  reschedule=RetryPolicy(initial_interval=1, max_interval=1, jitter=0))
        transport = BatchTransport(rig.receiver)
        rig.transmitter._transports["doj"] = transport
        rig.fail_sends()
        rig.orders(1, "A")
        rig.transmitter.run_once()
        rig.receiver.down = False
        rig.orders(3, "B")
        rig.clock.advance(30)
        assert rig.transmitter.breakers["doj"].state is BreakerState.HALF_OPEN
        rig.transmitter.run_once()
        assert transport.batches == []
        assert transport.singles

    def test_each_destination_of_a_round_gets_its_batch(self, tmp_path: Path) -> None:
        """A destination that cannot take a batch does not stop the next one's batch."""
        rig = Rig(tmp_path, destinations=("doj", "doj2"))
        transport = BatchTransport(rig.receivers["doj2"])
        rig.transmitter._transports["doj2"] = transport
        alone = rig.orders(2, "A")
        batched = rig.orders(2, "B", court=OTHER_COURT)
        rig.transmitter.run_once()
        assert [len(b) for b in transport.batches] == [2]
        assert {rig.state(k) for k in alone + batched} == {State.ACKED}

    def test_a_whole_batch_lost_is_sent_one_by_one_in_its_order(self, tmp_path: Path) -> None:
        rig = Rig(tmp_path)
        transport = BatchTransport(rig.receiver)
        rig.transmitter._transports["doj"] = transport
        transport.fail_whole = TransportUnavailable("connection lost")
        keys = rig.orders(3)
        rig.transmitter.run_once()
        assert len(transport.singles) == 3
        assert [a.order_key for a in rig.receiver.arrivals] == keys
        assert {rig.state(k) for k in keys} == {State.ACKED}

    def test_after_a_failure_in_the_batch_the_rest_wait(self, tmp_path: Path) -> None:
        """The batch failed as a whole and the first one-by-one send failed too: the others
        are deferred, not each retried."""
        rig = Rig(tmp_path)
        transport = BatchTransport(rig.receiver)
        rig.transmitter._transports["doj"] = transport
        transport.fail_whole = TransportUnavailable("connection lost")
        rig.fail_sends()
        _first, *rest = rig.orders(3)
        rig.transmitter.run_once()
        assert len(transport.singles) == 1
        assert [rig.row(k)["last_error"] for k in rest] == [
            "destination failed earlier in this round"] * 2

    def test_stored_messages_are_sent_in_claim_order_with_their_type(
            self, tmp_path: Path) -> None:
        """A batch mixing messages rendered now and ones stored earlier goes out in the
        order claimed, each with its own bytes and content type."""
        rig = Rig(tmp_path, reschedule=RetryPolicy(initial_interval=1, max_interval=1,
                                                   jitter=0))
        transport = BatchTransport(rig.receiver)
        rig.transmitter._transports["doj"] = transport
        rig.fail_sends()
        [early] = rig.orders(1, "A")
        rig.transmitter.run_once()  # rendered and stored, then failed
        stored = rig.row(early)
        rig.receiver.down = False
        rig.clock.advance(5)
        later = rig.orders(3, "B")
        seen: list[Envelope] = []
        real = transport.send_many

        def send_many(envelopes: list[Envelope]) -> list[Receipt | Exception]:
            seen.extend(envelopes)
            return real(envelopes)
        transport.send_many = send_many  # type: ignore[method-assign]
        rig.transmitter.run_once()
        assert [e.mcn for e in seen] == [rig.row(k)["mcn"] for k in [early, *later]]
        assert seen[0].body == stored["body"]
        for envelope, key in zip(seen, [early, *later], strict=True):
            assert json.loads(envelope.body)["order_key"] == key
            assert envelope.content_type == rig.row(key)["content_type"] != ""
            assert envelope.headers == {"x-engine-mcn": envelope.mcn}


    def test_messages_rendered_at_the_send_go_with_their_own_type(
            self, tmp_path: Path) -> None:
        """Later actions are rendered at the send (they need the entry's record id): a
        batch of them goes out with the bytes and content type just rendered and stored."""
        rig = Rig(tmp_path)
        transport = BatchTransport(rig.receiver)
        rig.transmitter._transports["doj"] = transport
        keys = rig.orders(2, "M")
        rig.transmitter.run_once()
        rig.orders(2, "M", version=2)
        assert [rig.row(k, 2)["body"] for k in keys] == [None, None]
        seen: list[Envelope] = []
        real = transport.send_many

        def send_many(envelopes: list[Envelope]) -> list[Receipt | Exception]:
            seen.extend(envelopes)
            return real(envelopes)
        transport.send_many = send_many  # type: ignore[method-assign]
        rig.transmitter.run_once()
        assert [e.mcn for e in seen] == [rig.row(k, 2)["mcn"] for k in keys]
        for envelope, key in zip(seen, keys, strict=True):
            stored = rig.row(key, 2)
            assert envelope.body == stored["body"]
            assert envelope.content_type == stored["content_type"] == (
                "application/vnd.engine-stand-in+json")


class StopAtFirstWait(threading.Event):
    """A stop event that records the timeout of each wait and is set by the first."""

    def __init__(self) -> None:
        super().__init__()
        self.waits: list[float | None] = []

    def wait(self, timeout: float | None = None) -> bool:
        self.waits.append(timeout)
        self.set()
        return True


class TestRunLoop:
    def test_a_failing_round_does_not_end_the_loop(self, tmp_path: Path) -> None:
        """A round that raises (the ledger down a moment) is logged; the loop goes on and
        sends once the ledger is back."""
        rig = Rig(tmp_path)
        [key] = rig.orders(1)
        stop, rounds = threading.Event(), []
        real = rig.transmitter.run_once

        def flaky() -> int:
            rounds.append(1)
            if len(rounds) == 1:
                raise RuntimeError("ledger down")
            if len(rounds) >= 3:
                stop.set()
            return real()
        rig.transmitter.run_once = flaky  # type: ignore[method-assign]
        rig.transmitter.run(stop, poll_interval=0.001)
        assert len(rounds) == 3 and rig.state(key) == State.ACKED

    def test_an_idle_round_waits_the_poll_interval_on_stop(self, tmp_path: Path) -> None:
        rig = Rig(tmp_path)
        stop = StopAtFirstWait()
        rig.transmitter.run(stop)
        assert stop.waits == [0.5]

    def test_a_busy_round_goes_again_without_waiting(self, tmp_path: Path) -> None:
        rig = Rig(tmp_path)
        rig.orders(1)
        stop = StopAtFirstWait()
        rig.transmitter.run(stop, poll_interval=7.0)
        assert stop.waits == [7.0]  # one busy round (no wait), then one idle round's wait

    def test_a_failed_round_waits_the_poll_interval_before_the_next(
            self, tmp_path: Path) -> None:
        rig = Rig(tmp_path)
        rig.orders(1)
        rounds: list[int] = []

        def failing() -> int:
            rounds.append(1)
            raise RuntimeError("ledger down")
        rig.transmitter.run_once = failing  # type: ignore[method-assign]
        stop = StopAtFirstWait()
        rig.transmitter.run(stop, poll_interval=2.0)
        assert (rounds, stop.waits) == ([1], [2.0])

    def test_an_idle_round_with_wake_waits_on_wake_and_clears_it(self, tmp_path: Path) -> None:
        rig = Rig(tmp_path)
        stop = threading.Event()
        calls: list[float | None] = []

        class Wake(threading.Event):
            def wait(self, timeout: float | None = None) -> bool:
                calls.append(timeout)
                if len(calls) == 2:
                    stop.set()
                super().set()
                return True
        wake = Wake()
        rig.transmitter.run(stop, poll_interval=3.0, wake=wake)
        assert calls == [3.0, 3.0] and not wake.is_set()


class TestClose:
    def test_close_closes_every_transport_and_forgets_connections(self,
                                                                  tmp_path: Path) -> None:
        closed: list[str] = []

        class Closing(BatchTransport):
            def __init__(self, receiver: StandInReceiver, name: str) -> None:
                super().__init__(receiver)
                self.name = name

            def close(self) -> None:
                closed.append(self.name)
                if self.name == "doj":
                    raise OSError("already gone")
        rig = Rig(tmp_path, destinations=("doj", "doj2"))
        rig.transmitter._transports.update(
            doj=Closing(rig.receivers["doj"], "doj"), doj2=Closing(rig.receivers["doj2"],
                                                                   "doj2"))
        rig.orders(1)
        rig.transmitter.run_once()
        rig.transmitter.close()
        assert sorted(closed) == ["doj", "doj2"]
        assert rig.transmitter._connected == set()


class TestTransportErrors:
    def test_an_unexpected_error_is_named_by_its_class_only(self, tmp_path: Path) -> None:
        """An exception that is not a TransportError may carry anything in its text (a
        person's name): the ledger keeps only its class."""
        rig = Rig(tmp_path)
        [key] = rig.orders(1)

        def crash(envelope: Envelope) -> Receipt:
            raise ValueError("Maria Nguyen")
        rig.transmitter._transports["doj"] = type(rig.transports["doj"])(crash)
        rig.transmitter.run_once()
        assert rig.row(key)["last_error"] == "transport failed with ValueError"

    def test_a_transport_error_keeps_its_text(self, tmp_path: Path) -> None:
        rig = Rig(tmp_path)
        rig.fail_sends()
        [key] = rig.orders(1)
        rig.transmitter.run_once()
        assert rig.row(key)["last_error"] == "stand-in receiver is down"



def modifications(rig: Rig, keys: list[str]) -> None:
    """Version 2 of each (accepted) order: rendered at its first send, not at intake (only
    the entry is rendered at intake), so the round renders it."""
    rig.intake(*(order_message(k.split("/", 1)[1], version=2) for k in keys))
    assert all(rig.row(k, 2)["body"] is None for k in keys)


def failing_renderer(refuse: dict[str, Exception]):  # type: ignore[no-untyped-def]
    """The stand-in renderer, raising the given error for the given order ids."""
    def render(order: Any, ctx: Any) -> Any:
        if order.order_id in refuse:
            raise refuse[order.order_id]
        return stand_in_render(order, ctx)
    return render


class TestRenderingAtTheSend:
    @pytest.mark.parametrize("batched", [True, False])
    def test_one_unrenderable_version_is_invalid_and_the_others_go_in_their_order(
            self, tmp_path: Path, batched: bool) -> None:
        """Three modifications, the middle one refused by the renderer: it is INVALID with
        the renderer's field errors and reported at once (no send time); the other two go,
        in claim order, with their own bytes; the destination is not 'failing'."""
        from engine.errors import FieldError, RenderError

        rig = Rig(tmp_path)
        keys = rig.orders(3)
        rig.transmitter.run_once()
        transport = BatchTransport(rig.receiver)
        if batched:
            rig.transmitter._transports["doj"] = transport
        rig.transmitter._renderers["niem"] = failing_renderer({"R-1": RenderError(
            "cannot", (FieldError("a.b", "too long"), FieldError("c", "missing")))})
        modifications(rig, keys)
        rig.hooks.sends.clear()
        rig.transmitter.run_once()
        first, middle, last = (rig.row(k, 2) for k in keys)
        assert (middle["state"], middle["attempt_count"]) == (State.INVALID, 0)
        assert middle["last_error"] == "cannot render as niem: a.b: too long; c: missing"
        assert (first["state"], last["state"]) == (State.ACKED, State.ACKED)
        assert [(a.order_key, a.version) for a in rig.receiver.arrivals[3:]] == [
            (keys[0], 2), (keys[2], 2)]
        assert (keys[1], "invalid", 0.0) in rig.hooks.sends
        assert [len(b) for b in transport.batches] == ([2] if batched else [])

    @pytest.mark.parametrize("batched", [True, False])
    def test_a_renderer_that_crashes_makes_the_version_invalid_naming_the_class_only(
            self, tmp_path: Path, batched: bool) -> None:
        rig = Rig(tmp_path)
        keys = rig.orders(2)
        rig.transmitter.run_once()
        if batched:
            rig.transmitter._transports["doj"] = BatchTransport(rig.receiver)
        rig.transmitter._renderers["niem"] = failing_renderer(
            {"R-0": ValueError("Maria Nguyen")})
        modifications(rig, keys)
        rig.transmitter.run_once()
        crashed = rig.row(keys[0], 2)
        assert (crashed["state"], crashed["last_error"]) == (
            State.INVALID, "(engine): rendering failed with ValueError")
        assert rig.row(keys[1], 2)["state"] == State.ACKED

    def test_a_message_without_the_mode_flag_is_sent_whatever_the_format(
            self, tmp_path: Path) -> None:
        """Only NIEM messages carry the test/production flag; another format's stored
        message goes as it is."""
        import sqlalchemy as sa

        from engine.ledger.schema import transmissions

        rig = Rig(tmp_path)
        rig.receiver.asynchronous = True
        [key] = rig.orders(1)
        with rig.ledger.engine.begin() as conn:
            conn.execute(sa.update(transmissions).values(format="clets"))
        rig.transmitter.run_once()
        assert (rig.state(key), rig.receiver.attempts) == (State.SENT, 1)

    def test_a_production_message_is_never_sent_to_a_test_destination(
            self, tmp_path: Path) -> None:
        import sqlalchemy as sa

        from engine.formats import DestinationFacts
        from engine.ledger.schema import transmissions

        rig = Rig(tmp_path)
        [key] = rig.orders(1)
        with rig.ledger.engine.begin() as conn:
            conn.execute(sa.update(transmissions).values(body=(
                b"<pox:ProtectionOrderMessage><pox:MessageTestIndicator>false"
                b"</pox:MessageTestIndicator></pox:ProtectionOrderMessage>")))
        rig.transmitter._facts = {"doj": DestinationFacts(test=True)}
        rig.transmitter.run_once()
        row = rig.row(key)
        assert (row["state"], row["last_error"]) == (
            State.INVALID, "(engine): a production message for a test destination")
        assert rig.receiver.attempts == 0
        assert (key, "invalid", 0.0) in rig.hooks.sends


class Connecting(BatchTransport):
    """Counts connects and closes; a send before connect() is refused."""

    def __init__(self, receiver: StandInReceiver, *, batches: bool) -> None:
        super().__init__(receiver)
        self.connects = self.closes = 0
        self.up = False
        self.close_error: Exception | None = None
        self.fail: TransportError | None = None
        if not batches:
            self.send_many = None  # type: ignore[assignment,method-assign]

    def connect(self) -> None:
        self.connects += 1
        self.up = True

    def close(self) -> None:
        self.closes += 1
        self.up = False
        if self.close_error is not None:
            raise self.close_error

    def send(self, envelope: Envelope) -> Receipt:
        assert self.up, "sent before connect()"
        if self.fail is not None:
            raise self.fail
        return super().send(envelope)

    def send_many(self, envelopes: list[Envelope]) -> list[Receipt | Exception]:  # type: ignore[override]
        assert self.up, "sent before connect()"
        if self.fail is not None:
            raise self.fail
        return super().send_many(envelopes)


class Permanent(TransportError):
    transient = False


class TestConnections:
    @pytest.mark.parametrize("batches", [True, False])
    def test_a_destination_is_connected_once_before_its_first_send(
            self, tmp_path: Path, batches: bool) -> None:
        rig = Rig(tmp_path)
        transport = Connecting(rig.receiver, batches=batches)
        rig.transmitter._transports["doj"] = transport
        keys = rig.orders(2, "A")
        rig.transmitter.run_once()
        keys += rig.orders(2, "B")
        rig.transmitter.run_once()
        assert (transport.connects, transport.closes) == (1, 0)
        assert {rig.state(k) for k in keys} == {State.ACKED}

    @pytest.mark.parametrize("batches", [True, False])
    def test_a_transient_failure_drops_the_connection_and_the_next_send_reconnects(
            self, tmp_path: Path, batches: bool) -> None:
        rig = Rig(tmp_path, reschedule=RetryPolicy(initial_interval=1, max_interval=1,
                                                   jitter=0))
        transport = Connecting(rig.receiver, batches=batches)
        rig.transmitter._transports["doj"] = transport
        transport.fail = TransportUnavailable("connection reset")
        transport.close_error = OSError("already closed")  # swallowed: it is gone anyway
        keys = rig.orders(2)
        rig.transmitter.run_once()
        assert transport.closes >= 1 and not transport.up
        transport.fail, transport.close_error = None, None
        rig.clock.advance(5)
        rig.transmitter.run_once()
        assert transport.connects == 1 + transport.closes
        assert {rig.state(k) for k in keys} == {State.ACKED}

    @pytest.mark.parametrize("error, reconnects", [
        (TransportUnavailable("connection reset"), 1), (Permanent("refused"), 0)])
    def test_a_batch_lost_to_a_transient_error_reconnects_before_the_one_by_one_sends(
            self, tmp_path: Path, error: TransportError, reconnects: int) -> None:
        """The whole batch failed; the sends one by one succeed. After a transient error
        the connection was dropped and is made again before them; after a permanent one
        it is kept."""
        rig = Rig(tmp_path)
        transport = Connecting(rig.receiver, batches=True)
        rig.transmitter._transports["doj"] = transport
        transport.fail_whole = error
        keys = rig.orders(2)
        rig.transmitter.run_once()
        assert (transport.connects, transport.closes) == (1 + reconnects, reconnects)
        assert {rig.state(k) for k in keys} == {State.ACKED}

    def test_a_permanent_transport_error_keeps_the_connection(self, tmp_path: Path) -> None:
        rig = Rig(tmp_path)
        transport = Connecting(rig.receiver, batches=False)
        rig.transmitter._transports["doj"] = transport
        transport.fail = Permanent("certificate refused")
        rig.orders(1)
        rig.transmitter.run_once()
        assert (transport.connects, transport.closes, transport.up) == (1, 0, True)


class TestBatchBreaker:
    def test_a_batch_that_arrives_resets_the_failures_before_it(self, tmp_path: Path) -> None:
        rig = Rig(tmp_path, reschedule=RetryPolicy(initial_interval=1, max_interval=1,
                                                   jitter=0))
        rig.fail_sends()
        rig.orders(1, "A")
        rig.transmitter.run_once()
        assert rig.transmitter.breakers["doj"].failures == 1
        rig.receiver.down = False
        rig.transmitter._transports["doj"] = transport = BatchTransport(rig.receiver)
        rig.orders(2, "B")
        rig.transmitter.run_once()
        assert [len(b) for b in transport.batches] == [2]
        assert rig.transmitter.breakers["doj"].failures == 0


#: A breaker that stays closed through the failures of these tests.
PATIENT = BreakerPolicy(failure_threshold=50, reset_timeout=30)


class TestProbesAndPullForward:
    """A failing destination is probed with one transmission when its breaker allows; one
    that answers again has its waiting work claimed, whatever its retry time, round after
    round, within the round's limit."""

    def test_a_probe_is_one_transmission(self, tmp_path: Path) -> None:
        rig = Rig(tmp_path, breaker=BreakerPolicy(failure_threshold=1, reset_timeout=30),
                  reschedule=RetryPolicy(initial_interval=600, max_interval=600, jitter=0))
        rig.fail_sends()
        rig.orders(3)
        rig.transmitter.run_once()
        assert rig.transmitter.breakers["doj"].state is BreakerState.OPEN
        rig.clock.advance(30)
        before = rig.receiver.attempts
        assert rig.transmitter.run_once() == 1
        assert rig.receiver.attempts == before + 1

    def test_a_round_asks_no_more_probes_than_its_limit(self, tmp_path: Path) -> None:
        rig = Rig(tmp_path, destinations=("doj", "fbi"), batch_size=1,
                  breaker=BreakerPolicy(failure_threshold=1, reset_timeout=30),
                  reschedule=RetryPolicy(initial_interval=600, max_interval=600, jitter=0))
        rig.fail_sends("doj")
        rig.fail_sends("fbi")
        rig.orders(1, "A")
        rig.orders(1, "B", court=OTHER_COURT)
        rig.transmitter.run_once()
        rig.transmitter.run_once()
        assert {b.state for b in rig.transmitter.breakers.values()} == {BreakerState.OPEN}
        rig.clock.advance(30)
        assert rig.transmitter.run_once() == 1

    def test_a_healthy_destination_does_not_stop_the_probe_of_the_next(
            self, tmp_path: Path) -> None:
        """doj (first) is healthy and idle; fbi's probe is due: fbi's waiting transmission,
        due again only in 600 s, is sent as the probe."""
        rig = Rig(tmp_path, destinations=("doj", "fbi"),
                  breaker=BreakerPolicy(failure_threshold=1, reset_timeout=30),
                  reschedule=RetryPolicy(initial_interval=600, max_interval=600, jitter=0))
        rig.fail_sends("fbi")
        [key] = rig.orders(1, "B", court=OTHER_COURT)
        rig.transmitter.run_once()
        assert rig.transmitter.breakers["fbi"].state is BreakerState.OPEN
        rig.receivers["fbi"].down = False
        rig.clock.advance(30)
        assert rig.transmitter.run_once() == 1
        assert rig.state(key) == State.ACKED

    def recovered(self, rig: Rig, waiting: dict[str, int]) -> list[str]:
        """For each destination, its number of transmissions deferred 600 s behind a
        failure; then a fresh order for each is answered: every one has recovered."""
        courts = {"doj": {}, "fbi": {"court": OTHER_COURT}}
        keys: list[str] = []
        for name, n in waiting.items():
            rig.fail_sends(name)
            keys += rig.orders(n, f"W{name}", **courts[name])
        while any(rig.state(k) == State.READY for k in keys):
            rig.transmitter.run_once()
        fresh: list[str] = []
        for name in waiting:
            rig.receivers[name].down = False
            fresh += rig.orders(1, f"F{name}", **courts[name])
        rig.transmitter.run_once()
        assert {rig.state(k) for k in fresh} == {State.ACKED}
        assert {rig.state(k) for k in keys} == {State.RETRY_SCHEDULED}
        return keys

    def test_waiting_work_is_pulled_forward_round_after_round(self, tmp_path: Path) -> None:
        """Five waiting, two a round: 2, 2, 1, each long before its 600 s retry."""
        rig = Rig(tmp_path, batch_size=2, breaker=PATIENT, reschedule=RetryPolicy(
            initial_interval=600, max_interval=600, jitter=0))
        keys = self.recovered(rig, {"doj": 5})
        assert [rig.transmitter.run_once() for _ in range(4)] == [2, 2, 1, 0]
        assert {rig.state(k) for k in keys} == {State.ACKED}

    def test_pull_forward_of_two_destinations_shares_the_rounds_limit(
            self, tmp_path: Path) -> None:
        """Two waiting for doj and four for fbi, three a round: 3, then 3."""
        rig = Rig(tmp_path, destinations=("doj", "fbi"), batch_size=3, breaker=PATIENT,
                  reschedule=RetryPolicy(initial_interval=600, max_interval=600, jitter=0))
        self.recovered(rig, {"doj": 2, "fbi": 4})
        assert [rig.transmitter.run_once() for _ in range(3)] == [3, 3, 0]


def test_an_overdue_retry_waits_the_destinations_probe_interval(tmp_path: Path) -> None:
    """Due in 2 minutes (its due time less the 5-minute margin has passed): a failed send is
    tried again after the breaker's probe interval (45 s here), not the 600 s backoff."""
    rig = Rig(tmp_path, due_in=dt.timedelta(minutes=2),
              breaker=BreakerPolicy(failure_threshold=5, reset_timeout=45),
              reschedule=RetryPolicy(initial_interval=600, max_interval=600, jitter=0))
    rig.fail_sends()
    [key] = rig.orders(1)
    rig.transmitter.run_once()
    assert aware(rig.row(key)["next_attempt_at"]) == rig.clock.now + dt.timedelta(seconds=45)


def test_a_batch_left_with_one_message_reports_its_whole_time(tmp_path: Path,
                                                              ticks: list[float]) -> None:
    """Two modifications claimed as a batch, one refused by the renderer: the one sent
    reports the batch's whole send time (0.25 s), not half of it."""
    from engine.errors import RenderError

    rig = Rig(tmp_path)
    keys = rig.orders(2)
    rig.transmitter.run_once()
    rig.transmitter._transports["doj"] = BatchTransport(rig.receiver)
    rig.transmitter._renderers["niem"] = failing_renderer({"R-1": RenderError("cannot")})
    modifications(rig, keys)
    rig.hooks.sends.clear()
    rig.transmitter.run_once()
    assert rig.hooks.sends == [(keys[1], "invalid", 0.0), (keys[0], "sent", 0.25)]


def test_the_due_work_after_a_probe_fills_only_the_rest_of_the_round(tmp_path: Path) -> None:
    """Three a round: fbi's probe takes one place, doj's due work the other two."""
    rig = Rig(tmp_path, destinations=("doj", "fbi"), batch_size=3,
              breaker=BreakerPolicy(failure_threshold=1, reset_timeout=30),
              reschedule=RetryPolicy(initial_interval=600, max_interval=600, jitter=0))
    rig.fail_sends("fbi")
    rig.orders(1, "B", court=OTHER_COURT)
    rig.transmitter.run_once()
    assert rig.transmitter.breakers["fbi"].state is BreakerState.OPEN
    rig.clock.advance(30)
    rig.orders(5, "D")
    assert rig.transmitter.run_once() == 3
