"""Retry policy as configuration data, turned into tenacity objects here and nowhere else.

Two kinds of retry keep invariant 5:

* in-process: a transient fault (`EngineError.transient`) is retried a few times at once,
  with exponential backoff and jitter (`in_process_retrying`);
* durable: after those, the transmission is rescheduled in the ledger with a
  ``next_attempt_at`` that backs off the same way (`durable_delay`); that survives restarts.
  The backoff never plans past the order's due time less a margin (`deadline_capped`): a
  15-minute wait must not carry an emergency order over its deadline.

Permanent faults are never retried here.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable
from dataclasses import dataclass

import tenacity

__all__ = [
    "DEFAULT_RESCHEDULE",
    "DEFAULT_RETRY",
    "RetryPolicy", "deadline_capped", "durable_delay", "in_process_retrying", "is_transient"]


@dataclass(frozen=True, slots=True, kw_only=True)
class RetryPolicy:
    """How often and how patiently to try again. Seconds throughout."""

    #: Retries after the first attempt (0: try once).
    max_retries: int = 3
    #: First wait; each later wait doubles up to ``max_interval``.
    initial_interval: float = 0.5
    max_interval: float = 30.0
    #: Give up the in-process retries after this long, whatever ``max_retries`` says.
    max_elapsed: float = 60.0
    #: Up to this many seconds of random jitter are added to each wait.
    jitter: float = 0.5

    def __post_init__(self) -> None:
        if self.max_retries < 0:
            raise ValueError("max_retries must be 0 or more")
        if self.initial_interval < 0 or self.max_interval < 0 or self.jitter < 0:
            raise ValueError("intervals and jitter must be 0 or more seconds")
        if self.max_interval < self.initial_interval:
            raise ValueError("max_interval must be at least initial_interval")
        if self.max_elapsed <= 0:
            raise ValueError("max_elapsed must be more than 0 seconds")


#: In-process retries: a few quick tries.
DEFAULT_RETRY = RetryPolicy()
#: Durable rescheduling for long outages: from 30 s up to 15 min between attempts, no end
#: (a stuck order shows as overdue; it is never dropped).
DEFAULT_RESCHEDULE = RetryPolicy(max_retries=0, initial_interval=30.0, max_interval=900.0,
                                 max_elapsed=1.0, jitter=5.0)


def is_transient(exc: BaseException) -> bool:
    """True for faults where trying again later can succeed (see `engine.errors`)."""
    return bool(getattr(exc, "transient", False))


def in_process_retrying(policy: RetryPolicy, *,
                        sleep: Callable[[float], None] = tenacity.nap.sleep,
                        ) -> tenacity.Retrying:
    """A tenacity ``Retrying`` that retries transient faults only, then re-raises the last."""
    return tenacity.Retrying(
        stop=(tenacity.stop_after_attempt(policy.max_retries + 1)
              | tenacity.stop_after_delay(policy.max_elapsed)),
        wait=(tenacity.wait_exponential(multiplier=policy.initial_interval,
                                        max=policy.max_interval)
              + tenacity.wait_random(0, policy.jitter)),
        retry=tenacity.retry_if_exception(is_transient),
        sleep=sleep,
        reraise=True,
    )


def durable_delay(policy: RetryPolicy, attempt: int, *,
                  rng: random.Random | None = None) -> dt.timedelta:
    """Wait before durable attempt number ``attempt`` (1 = first reschedule): exponential,
    capped at ``max_interval``, plus jitter so replicas do not retry in lockstep."""
    base = policy.initial_interval * (2 ** max(0, min(attempt - 1, 32)))
    jitter = (rng or random).uniform(0, policy.jitter)
    return dt.timedelta(seconds=min(policy.max_interval, base) + jitter)


def deadline_capped(now: dt.datetime, planned: dt.datetime, *, due_at: dt.datetime | None,
                    margin: dt.timedelta, floor: dt.timedelta) -> dt.datetime:
    """The next attempt of a failing transmission: ``planned`` (its backoff), but no later
    than ``due_at - margin``; once that moment has passed, ``floor`` after ``now`` (the
    destination's probe interval), so a late order is tried often rather than in 15 min."""
    if due_at is None:
        return planned
    return min(planned, max(due_at - margin, now + floor))
