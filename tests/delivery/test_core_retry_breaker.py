"""Retry policy as data (tenacity built in one place) and the per-destination breaker."""

from __future__ import annotations

import dataclasses
import datetime as dt
import random

import pytest

from engine.errors import DestinationRejected, TransportUnavailable
from engine.reliability.breaker import DEFAULT_BREAKER, BreakerPolicy, BreakerState, CircuitBreaker
from engine.reliability.retry import (
    DEFAULT_RESCHEDULE,
    DEFAULT_RETRY,
    RetryPolicy,
    deadline_capped,
    durable_delay,
    in_process_retrying,
    is_transient,
)
from tests.core.core_harness import FakeClock


class TestRetry:
    def test_transient_errors_are_retried_up_to_max_retries(self) -> None:
        """A transient fault is tried 1 + max_retries times, with growing waits."""
        calls, sleeps = [], []
        retrying = in_process_retrying(RetryPolicy(max_retries=3, initial_interval=1,
                                                   max_interval=10, jitter=0),
                                       sleep=sleeps.append)
        with pytest.raises(TransportUnavailable):
            for attempt in retrying:
                with attempt:
                    calls.append(1)
                    raise TransportUnavailable("down")
        assert len(calls) == 4
        assert sleeps == [1, 2, 4]

    def test_permanent_errors_are_not_retried(self) -> None:
        """A permanent reject is raised at once."""
        calls = []
        with pytest.raises(DestinationRejected):
            for attempt in in_process_retrying(RetryPolicy(), sleep=lambda s: None):
                with attempt:
                    calls.append(1)
                    raise DestinationRejected("no")
        assert calls == [1]

    def test_durable_delay_backs_off_and_is_capped(self) -> None:
        """Durable waits double from the initial interval up to the maximum."""
        policy = RetryPolicy(initial_interval=30, max_interval=100, jitter=0)
        waits = [durable_delay(policy, n).total_seconds() for n in (1, 2, 3, 4)]
        assert waits == [30, 60, 100, 100]

    def test_jitter_spreads_waits(self) -> None:
        """With jitter, two replicas do not wait exactly the same time."""
        policy = RetryPolicy(initial_interval=30, max_interval=100, jitter=5)
        rng = random.Random(1)
        assert len({durable_delay(policy, 1, rng=rng) for _ in range(5)}) > 1

    def test_policy_rejects_nonsense(self) -> None:
        """A max interval below the initial one is refused with a message saying so."""
        with pytest.raises(ValueError, match="max_interval"):
            RetryPolicy(initial_interval=10, max_interval=1)


class _Edge(random.Random):
    """An rng whose jitter is always the low (or high) end of its range."""

    def __init__(self, high: bool) -> None:
        super().__init__(0)
        self.high = high

    def uniform(self, a: float, b: float) -> float:
        return b if self.high else a


class TestRetryLimits:
    def test_zero_is_a_valid_interval_and_jitter_negative_is_not(self) -> None:
        """0 s waits and 0 s jitter are valid (tests, a local relay); a negative initial or
        maximum interval or jitter is refused, each on its own."""
        assert RetryPolicy(initial_interval=0, max_interval=0, jitter=0).max_interval == 0
        for bad in ({"initial_interval": -0.1}, {"max_interval": -1, "initial_interval": 0},
                    {"jitter": -0.5}):
            with pytest.raises(ValueError, match="0 or more"):
                RetryPolicy(**bad)  # type: ignore[arg-type]

    def test_max_interval_may_equal_the_initial_one(self) -> None:
        """A constant wait (initial == max) is a valid policy."""
        policy = RetryPolicy(initial_interval=5, max_interval=5, jitter=0)
        assert [durable_delay(policy, n).total_seconds() for n in (1, 2, 3)] == [5, 5, 5]

    def test_max_retries_and_max_elapsed_limits(self) -> None:
        """0 retries (try once) is valid, -1 is not; max_elapsed must be above 0."""
        assert RetryPolicy(max_retries=0).max_retries == 0
        with pytest.raises(ValueError, match="max_retries"):
            RetryPolicy(max_retries=-1)
        for elapsed in (0, -1):
            with pytest.raises(ValueError, match="max_elapsed"):
                RetryPolicy(max_elapsed=elapsed)

    def test_the_default_in_process_retry(self) -> None:
        """Default: 3 retries after the first try, waits 0.5 s, 1 s, 2 s plus up to 0.5 s
        of jitter each."""
        sleeps: list[float] = []
        calls = []
        with pytest.raises(TransportUnavailable):
            for attempt in in_process_retrying(DEFAULT_RETRY, sleep=sleeps.append):
                with attempt:
                    calls.append(1)
                    raise TransportUnavailable("down")
        assert len(calls) == 4
        assert all(base <= wait <= base + 0.5 for base, wait in zip([0.5, 1, 2], sleeps,
                                                                      strict=True))
        assert (DEFAULT_RETRY.max_interval, DEFAULT_RETRY.max_elapsed,
                DEFAULT_RETRY.jitter) == (30.0, 60.0, 0.5)

    def test_a_policy_is_immutable_and_keyword_only(self) -> None:
        """Policies are shared by every transmitter: nobody can change one in place, and
        no number is taken for the wrong setting by position."""
        with pytest.raises(dataclasses.FrozenInstanceError):
            DEFAULT_RETRY.max_retries = 10  # type: ignore[misc]
        with pytest.raises(TypeError):
            RetryPolicy(3, 0.5)  # type: ignore[misc]

    def test_in_process_retries_stop_after_max_elapsed(self) -> None:
        """However many retries are left, none starts after max_elapsed has passed."""
        calls = []
        policy = RetryPolicy(max_retries=50, initial_interval=0, max_interval=0, jitter=0,
                             max_elapsed=1e-9)
        with pytest.raises(TransportUnavailable):
            for attempt in in_process_retrying(policy, sleep=lambda s: None):
                with attempt:
                    calls.append(1)
                    raise TransportUnavailable("down")
        assert len(calls) == 1

    def test_in_process_jitter_is_added_not_taken_away(self) -> None:
        """Each wait is its exponential base plus 0..jitter seconds, never less."""
        sleeps: list[float] = []
        policy = RetryPolicy(max_retries=3, initial_interval=1, max_interval=10, jitter=2)
        with pytest.raises(TransportUnavailable):
            for attempt in in_process_retrying(policy, sleep=sleeps.append):
                with attempt:
                    raise TransportUnavailable("down")
        assert all(base <= wait <= base + 2 for base, wait in zip([1, 2, 4], sleeps,
                                                                    strict=True))

    def test_the_default_durable_reschedule_is_30_s_to_15_min_plus_5_s_jitter(self) -> None:
        """A long outage is retried from 30 s up to 15 min apart, plus 0-5 s of jitter."""
        low, high = _Edge(high=False), _Edge(high=True)
        assert durable_delay(DEFAULT_RESCHEDULE, 1, rng=low) == dt.timedelta(seconds=30)
        assert durable_delay(DEFAULT_RESCHEDULE, 2, rng=low) == dt.timedelta(seconds=60)
        assert durable_delay(DEFAULT_RESCHEDULE, 50, rng=low) == dt.timedelta(minutes=15)
        assert durable_delay(DEFAULT_RESCHEDULE, 50, rng=high) == dt.timedelta(seconds=905)

    def test_durable_backoff_exponent_is_capped(self) -> None:
        """A very high attempt number stops doubling at 2**32 (no overflow); attempt 0 or
        less waits like the first."""
        policy = RetryPolicy(initial_interval=1, max_interval=2.0**40, jitter=0)
        assert durable_delay(policy, 10_000) == dt.timedelta(seconds=2**32)
        assert durable_delay(policy, 0) == durable_delay(policy, 1) == dt.timedelta(seconds=1)

    def test_durable_delay_takes_its_rng_by_name(self) -> None:
        """``rng`` and ``sleep`` are keyword-only, never taken for another argument."""
        with pytest.raises(TypeError):
            durable_delay(DEFAULT_RESCHEDULE, 1, random.Random(1))  # type: ignore[misc]
        with pytest.raises(TypeError):
            in_process_retrying(DEFAULT_RETRY, lambda s: None)  # type: ignore[misc]

    def test_the_deadline_cap_takes_its_limits_by_name(self) -> None:
        """A due time, a margin and a floor are all times: by position one would be taken
        for another."""
        now = dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.UTC)
        five = dt.timedelta(minutes=5)
        with pytest.raises(TypeError):
            deadline_capped(now, now, now, five, five)  # type: ignore[misc]
        assert deadline_capped(now, now + five, due_at=None, margin=five, floor=five) == (
            now + five)

    def test_only_faults_that_say_so_are_transient(self) -> None:
        """An exception without a ``transient`` flag (a programming error) is permanent."""
        assert not is_transient(ValueError("bug"))
        assert is_transient(TransportUnavailable("down"))
        assert not is_transient(DestinationRejected("no"))


class TestBreakerProbe:
    """`probe_due`: a failing destination is tried once every ``reset_timeout`` counted
    from its last failure, whatever each order's backoff says (engine/delivery/transmitter.py
    asks it every round)."""

    def test_the_probe_interval_is_the_reset_timeout(self) -> None:
        breaker = CircuitBreaker("doj", BreakerPolicy(failure_threshold=5, reset_timeout=45))
        assert breaker.probe_interval == dt.timedelta(seconds=45)

    def test_a_healthy_destination_is_never_due(self) -> None:
        clock = FakeClock()
        breaker = CircuitBreaker("doj", BreakerPolicy(failure_threshold=5, reset_timeout=30),
                                 clock=clock)
        clock.advance(3600)
        assert not breaker.probe_due()

    def test_one_failure_is_due_at_the_interval_not_before(self) -> None:
        clock = FakeClock()
        breaker = CircuitBreaker("doj", BreakerPolicy(failure_threshold=5, reset_timeout=30),
                                 clock=clock)
        breaker.record_failure()            # one failure: the breaker is still closed
        assert breaker.state is BreakerState.CLOSED
        clock.advance(29.999)
        assert not breaker.probe_due()
        clock.advance(0.001)
        assert breaker.probe_due()          # at the interval exactly
        clock.advance(100)
        assert breaker.probe_due()          # and after it

    def test_the_interval_counts_from_the_last_failure(self) -> None:
        clock = FakeClock()
        breaker = CircuitBreaker("doj", BreakerPolicy(failure_threshold=5, reset_timeout=30),
                                 clock=clock)
        breaker.record_failure()
        clock.advance(20)
        breaker.record_failure()
        clock.advance(10)                   # 30 s after the first, 10 after the last
        assert not breaker.probe_due()
        clock.advance(20)
        assert breaker.probe_due()

    def test_not_due_while_a_trial_is_out_and_again_after_it_fails(self) -> None:
        clock = FakeClock()
        breaker = CircuitBreaker("doj", BreakerPolicy(failure_threshold=1, reset_timeout=30),
                                 clock=clock)
        breaker.record_failure()
        clock.advance(30)
        assert breaker.probe_due()
        assert breaker.allow()              # the half-open trial goes out
        assert not breaker.probe_due()
        breaker.record_failure()            # the trial failed: a new interval
        assert not breaker.probe_due()
        clock.advance(30)
        assert breaker.probe_due()

    def test_a_success_ends_the_probing(self) -> None:
        clock = FakeClock()
        breaker = CircuitBreaker("doj", BreakerPolicy(failure_threshold=5, reset_timeout=30),
                                 clock=clock)
        breaker.record_failure()
        clock.advance(30)
        breaker.record_success()
        clock.advance(3600)
        assert not breaker.probe_due()


class TestBreaker:
    def test_opens_after_threshold_and_half_opens_after_timeout(self) -> None:
        """closed -> open after N failures -> one trial after reset_timeout -> closed."""
        clock = FakeClock()
        breaker = CircuitBreaker("doj", BreakerPolicy(failure_threshold=2, reset_timeout=30),
                                 clock=clock)
        breaker.record_failure()
        assert breaker.allow()
        breaker.record_failure()
        assert breaker.state is BreakerState.OPEN and not breaker.allow()
        assert breaker.retry_at() == clock.now + dt.timedelta(seconds=30)
        clock.advance(30)
        assert breaker.allow()          # the one trial
        assert not breaker.allow()      # nobody else meanwhile
        breaker.record_success()
        assert breaker.state is BreakerState.CLOSED

    def test_failed_trial_opens_again(self) -> None:
        """A failing half-open trial opens the breaker for another reset_timeout."""
        clock = FakeClock()
        breaker = CircuitBreaker("doj", BreakerPolicy(failure_threshold=1, reset_timeout=10),
                                 clock=clock)
        breaker.record_failure()
        clock.advance(10)
        assert breaker.allow()
        breaker.record_failure()
        assert breaker.state is BreakerState.OPEN

    def test_a_success_resets_the_count_of_failures_in_a_row(self) -> None:
        """The threshold counts failures *in a row*: a success in between starts the count
        again, so threshold-1 failures, a success and threshold-1 more leave it closed."""
        clock = FakeClock()
        breaker = CircuitBreaker("doj", BreakerPolicy(failure_threshold=3, reset_timeout=30),
                                 clock=clock)
        breaker.record_failure()
        breaker.record_failure()
        assert breaker.failures == 2
        breaker.record_success()
        assert breaker.failures == 0
        breaker.record_failure()
        breaker.record_failure()
        assert breaker.state is BreakerState.CLOSED and breaker.allow()
        breaker.record_failure()
        assert breaker.state is BreakerState.OPEN

    def test_the_default_breaker_opens_after_five_failures_for_thirty_seconds(self) -> None:
        """The engine's default (no breaker in the config): five failed sends in a row open
        it, and the first trial is let through 30 s later."""
        clock = FakeClock()
        breaker = CircuitBreaker("doj", DEFAULT_BREAKER, clock=clock)
        for _ in range(4):
            breaker.record_failure()
        assert breaker.state is BreakerState.CLOSED
        breaker.record_failure()
        assert breaker.retry_at() == clock.now + dt.timedelta(seconds=30)
        clock.advance(29.9)
        assert not breaker.allow()
        clock.advance(0.1)
        assert breaker.allow()

    def test_it_half_opens_once_reset_timeout_has_passed_not_only_at_that_instant(
            self) -> None:
        """Any time after reset_timeout (not just exactly then) the trial is let through."""
        clock = FakeClock()
        breaker = CircuitBreaker("doj", BreakerPolicy(failure_threshold=1, reset_timeout=10),
                                 clock=clock)
        breaker.record_failure()
        clock.advance(25)
        assert breaker.state is BreakerState.HALF_OPEN and breaker.allow()

    def test_a_failure_reported_while_open_restarts_the_reset_timeout(self) -> None:
        """A send already under way when the breaker opened fails too: the destination has
        just failed again, so the trial waits reset_timeout from that failure."""
        clock = FakeClock()
        breaker = CircuitBreaker("doj", BreakerPolicy(failure_threshold=2, reset_timeout=30),
                                 clock=clock)
        breaker.record_failure()
        breaker.record_failure()
        clock.advance(10)
        breaker.record_failure()
        assert breaker.retry_at() == clock.now + dt.timedelta(seconds=30)

    def test_policy_limits(self) -> None:
        """A threshold of 1 and any positive timeout are valid; 0 failures, or a timeout of
        0 or less, are refused. The policy is immutable and keyword-only."""
        assert BreakerPolicy(failure_threshold=1, reset_timeout=0.001).failure_threshold == 1
        with pytest.raises(ValueError, match="failure_threshold"):
            BreakerPolicy(failure_threshold=0)
        for timeout in (0, -1):
            with pytest.raises(ValueError, match="reset_timeout"):
                BreakerPolicy(reset_timeout=timeout)
        with pytest.raises(dataclasses.FrozenInstanceError):
            DEFAULT_BREAKER.failure_threshold = 1  # type: ignore[misc]
        with pytest.raises(TypeError):
            BreakerPolicy(3, 10)  # type: ignore[misc]

    def test_the_clock_is_passed_by_name(self) -> None:
        """``clock`` is keyword-only, so a clock is never taken for another argument."""
        with pytest.raises(TypeError):
            CircuitBreaker("doj", DEFAULT_BREAKER, FakeClock())  # type: ignore[misc]
