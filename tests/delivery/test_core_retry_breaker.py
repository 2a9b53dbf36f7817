"""Retry policy as data (tenacity built in one place) and the per-destination breaker."""

from __future__ import annotations

import datetime as dt
import random

import pytest

from engine.errors import DestinationRejected, TransportUnavailable
from engine.reliability.breaker import BreakerPolicy, BreakerState, CircuitBreaker
from engine.reliability.retry import RetryPolicy, durable_delay, in_process_retrying
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
