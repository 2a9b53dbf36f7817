"""A circuit breaker per destination, so an outage does not become a retry storm.

closed --(failure_threshold failures in a row)--> open --(reset_timeout passes)--> half-open
half-open --(a trial send succeeds)--> closed;  half-open --(it fails)--> open again.

While open, the transmitter sends nothing to that destination and reschedules what is due
to the moment the breaker lets a trial through. A failing destination is probed every
``reset_timeout`` (`probe_due`) whatever each order's own backoff says, so its recovery is
seen within that interval, not at the next scheduled retry. The clock is injected for tests.
"""

from __future__ import annotations

import datetime as dt
import enum
import threading
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["DEFAULT_BREAKER", "BreakerPolicy", "BreakerState", "CircuitBreaker"]


class BreakerState(enum.StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass(frozen=True, slots=True, kw_only=True)
class BreakerPolicy:
    #: Consecutive failed sends (after in-process retries) that open the breaker.
    failure_threshold: int = 5
    #: Seconds the breaker stays open before it lets one trial send through; also the
    #: interval at which a failing destination is probed.
    reset_timeout: float = 30.0

    def __post_init__(self) -> None:
        if self.failure_threshold < 1:
            raise ValueError("failure_threshold must be 1 or more")
        if self.reset_timeout <= 0:
            raise ValueError("reset_timeout must be more than 0 seconds")


DEFAULT_BREAKER = BreakerPolicy()


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class CircuitBreaker:
    """The breaker for one destination. Thread-safe; cheap to ask."""

    def __init__(self, name: str, policy: BreakerPolicy, *,
                 clock: Callable[[], dt.datetime] = _utcnow) -> None:
        self.name = name
        self._policy = policy
        self._clock = clock
        self._lock = threading.Lock()
        self._failures = 0
        self._opened_at: dt.datetime | None = None
        self._failed_at: dt.datetime | None = None
        self._trial_out = False

    @property
    def state(self) -> BreakerState:
        with self._lock:
            return self._state()

    def _state(self) -> BreakerState:
        if self._opened_at is None:
            return BreakerState.CLOSED
        if self._clock() >= self._reopen_at():
            return BreakerState.HALF_OPEN
        return BreakerState.OPEN

    def _reopen_at(self) -> dt.datetime:
        assert self._opened_at is not None
        return self._opened_at + dt.timedelta(seconds=self._policy.reset_timeout)

    @property
    def failures(self) -> int:
        """Failed sends in a row (0 after a success)."""
        return self._failures

    def allow(self) -> bool:
        """May a send go to this destination now? In half-open, only one trial at a time."""
        with self._lock:
            state = self._state()
            if state is BreakerState.CLOSED:
                return True
            if state is BreakerState.HALF_OPEN and not self._trial_out:
                self._trial_out = True
                return True
            return False

    @property
    def probe_interval(self) -> dt.timedelta:
        return dt.timedelta(seconds=self._policy.reset_timeout)

    def probe_due(self) -> bool:
        """Is a failing destination due for a probe (one send, whatever each order's backoff
        says)? True when ``reset_timeout`` has passed since its last failure and no trial is
        out. False for a healthy destination."""
        with self._lock:
            # A last failure is known exactly while failures are counted (both reset on
            # success), so it alone says the destination is failing.
            return (self._failed_at is not None
                    and not self._trial_out
                    and self._clock() >= self._failed_at + self.probe_interval)

    def retry_at(self) -> dt.datetime:
        """When a send refused now should be tried again."""
        with self._lock:
            if self._opened_at is None:
                return self._clock()
            return max(self._clock(), self._reopen_at())

    def record_success(self) -> None:
        with self._lock:
            self._failures = 0
            self._opened_at = None
            self._failed_at = None
            self._trial_out = False

    def record_failure(self) -> None:
        with self._lock:
            self._failures += 1
            self._failed_at = self._clock()
            if self._trial_out or self._failures >= self._policy.failure_threshold:
                self._opened_at = self._clock()
            self._trial_out = False
