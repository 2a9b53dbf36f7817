"""Faults the reference receiver can be told to inject, changeable while it runs.

Each fault can be armed for the next N messages and/or for a fraction of messages
(seeded, so a failing test can be replayed):

- ``fail``: do not process; answer with a transient error (HTTP 503, TCP connection
  closed, AMQP/file: a retryable ``BUSY`` reject). A resend is processed normally.
- ``drop``: process and record the message, but send no acknowledgement (the ack is lost).
  A resend of the same MCN is a duplicate and gets the original answer.
- ``ack-twice``: send the acknowledgement two times (TCP, AMQP, file; HTTP has one response).
- ``garbage``: process and record, but answer with bytes that are not an acknowledgement.

Beside those: ``ack_delay`` (seconds before each answer; synchronous transports hold the
response, asynchronous ones send it late while other messages go on), and permanent
rejection of named orders (`reject_order`). Going down and coming back is the server's
job (``down()`` / ``up()``).
"""

from __future__ import annotations

import enum
import random
import threading
from collections import Counter

__all__ = ["Fault", "FaultPlan"]


class Fault(enum.StrEnum):
    FAIL = "fail"
    DROP = "drop"
    ACK_TWICE = "ack-twice"
    GARBAGE = "garbage"


class FaultPlan:
    """The faults to inject; thread-safe, so a test can change them while servers run."""

    def __init__(self, *, seed: int | None = None) -> None:
        self._lock = threading.Lock()
        self._random = random.Random(seed)  # noqa: S311 - picks fault points, not secrets
        self._next: Counter[Fault] = Counter()
        self._rate: dict[Fault, float] = {}
        self._ack_delay = 0.0
        self._rejected_orders: set[str] = set()
        #: How many times each fault was applied.
        self.applied: Counter[Fault] = Counter()

    def next(self, fault: Fault | str, count: int = 1) -> FaultPlan:
        """Apply ``fault`` to the next ``count`` messages (added to any already armed)."""
        if count < 0:
            raise ValueError("count must not be negative")
        with self._lock:
            self._next[Fault(fault)] += count
        return self

    def rate(self, fault: Fault | str, fraction: float) -> FaultPlan:
        """Apply ``fault`` to each message with probability ``fraction`` (0 turns it off)."""
        if not 0.0 <= fraction <= 1.0:
            raise ValueError("fraction must be between 0 and 1")
        with self._lock:
            self._rate[Fault(fault)] = fraction
        return self

    @property
    def ack_delay(self) -> float:
        with self._lock:
            return self._ack_delay

    @ack_delay.setter
    def ack_delay(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("ack_delay must not be negative")
        with self._lock:
            self._ack_delay = seconds

    def reject_order(self, order_key: str) -> FaultPlan:
        """Reject every message about ``order_key`` permanently (code ``REFUSED``)."""
        with self._lock:
            self._rejected_orders.add(order_key)
        return self

    def allow_order(self, order_key: str) -> FaultPlan:
        with self._lock:
            self._rejected_orders.discard(order_key)
        return self

    def is_rejected(self, order_key: str) -> bool:
        with self._lock:
            return order_key in self._rejected_orders

    def clear(self) -> None:
        """Turn every fault off (counts of applied faults are kept)."""
        with self._lock:
            self._next.clear()
            self._rate.clear()
            self._ack_delay = 0.0
            self._rejected_orders.clear()

    def draw(self) -> frozenset[Fault]:
        """The faults to apply to the message now arriving (consumes armed counts)."""
        chosen: set[Fault] = set()
        with self._lock:
            for fault in Fault:  # FAIL first: a failed message is not processed, so
                if self._next[fault] > 0:  # no other fault applies (nor is consumed)
                    self._next[fault] -= 1
                    chosen.add(fault)
                elif self._random.random() < self._rate.get(fault, 0.0):
                    chosen.add(fault)
                if Fault.FAIL in chosen:
                    break
            self.applied.update(chosen)
        return frozenset(chosen)
