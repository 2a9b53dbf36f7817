"""The intake's ack rules (invariant 1), apart from pika: commit a batch, then ack.

Kept on their own, away from the broker connection, so that these few rules can be tested
(and mutation-tested) whole without RabbitMQ: the AMQP consumer (`engine.intake.amqp`)
only hands each delivery in and gives the channel's operations.

* a message is acked only after its ledger commit; a batch is committed together, then
  acked once with ``multiple=True`` for its last tag;
* a bad order is *recorded* (INVALID with its reason) and then acked: it is processed; a
  message a court's mapping refuses outright (its bytes are no order) is also copied to the
  dead letters with the recorded reason, so the court's file is kept for a replay;
* the ledger unavailable: the batch is retried in place (``sleep`` keeps the connection
  alive); if it stays down nothing is acked, the batch stays held and the error goes up;
* poison (the ledger refuses the message itself, even alone): dead-lettered with the reason
  and then acked; if that copy is not confirmed, rejected without requeue instead.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import structlog

from engine.errors import LedgerError
from engine.intake.pipeline import UNREADABLE, IntakeMessage, Pipeline, one_result_each
from engine.ledger import IntakeOutcome, IntakeResult
from engine.reliability.retry import RetryPolicy, in_process_retrying

__all__ = ["LEDGER_RETRY", "Delivery", "IntakeBatch"]

log = structlog.get_logger(__name__)

#: How long a stuck ledger is retried in place before the batch is handed back.
LEDGER_RETRY = RetryPolicy(max_retries=5, initial_interval=0.2, max_interval=5.0,
                           max_elapsed=20.0, jitter=0.2)


@dataclass(frozen=True, slots=True)
class Delivery:
    """One message as the broker delivered it: its tag (for the ack) and, for a copy to
    the dead letters, its properties and bytes."""

    tag: int
    message: IntakeMessage
    properties: Any = None
    body: bytes = b""


class IntakeBatch:
    """The ack rules: commit a batch, then say what to ack or dead-letter.

    ``ack(tag, multiple)``, ``reject(tag)`` and ``dead_letter(delivery, reason) -> bool``
    are the channel's operations; ``sleep`` waits while keeping the connection alive.
    """

    def __init__(self, pipeline: Pipeline, *, ack: Callable[[int, bool], None],
                 reject: Callable[[int], None],
                 dead_letter: Callable[[Delivery, str], bool],
                 sleep: Callable[[float], None], ledger_retry: RetryPolicy = LEDGER_RETRY,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._pipeline = pipeline
        self._ack = ack
        self._reject = reject
        self._dead_letter = dead_letter
        self._sleep = sleep
        self._ledger_retry = ledger_retry
        self._clock = clock
        self.items: list[Delivery] = []
        self.started = math.inf  # the clock reading of the first message held; none yet

    def add(self, delivery: Delivery) -> None:
        if not self.items:
            self.started = self._clock()
        self.items.append(delivery)

    def due(self, *, size: int, wait: float) -> bool:
        """Whether to flush now: ``size`` messages held, or the first one held has waited
        ``wait`` seconds (an empty batch is never due)."""
        if not self.items:
            return False
        return len(self.items) >= size or self._clock() - self.started >= wait

    def _commit(self, deliveries: list[Delivery]) -> list[IntakeResult]:
        results: list[IntakeResult] = []
        for attempt in in_process_retrying(self._ledger_retry, sleep=self._sleep):
            with attempt:
                results = self._pipeline.run([d.message for d in deliveries])
        return one_result_each(results, len(deliveries), "messages")  # before any ack or copy

    def _keep_refused_files(self, deliveries: list[Delivery],
                            results: list[IntakeResult]) -> None:
        """Copy each newly recorded message that its court's mapping refused outright to
        the dead letters, with the recorded reason (it is recorded INVALID either way).
        Outcome INVALID is only given to a version just recorded, in state INVALID; a file
        seen before is DUPLICATE and is not copied again."""
        for delivery, result in zip(deliveries, results, strict=True):
            refused = (delivery.message.court_ori is not None
                       and result.outcome is IntakeOutcome.INVALID
                       and f"/{UNREADABLE}" in result.version_key)
            if not refused:
                continue
            reason = f"recorded INVALID as {result.version_key}: {result.reason}"
            if not self._dead_letter(delivery, reason):
                log.warning("refused court file not copied to the dead letters (recorded "
                            "INVALID)", message_id=delivery.message.message_id)

    def flush(self) -> None:
        """Commit and ack everything held. Raises `LedgerError` (transient) when the ledger
        stays unavailable: nothing was acked, and the caller hands the batch back."""
        if not self.items:
            return
        batch, self.items = self.items, []
        try:
            results = self._commit(batch)
        except LedgerError as exc:
            if exc.transient:
                self.items = batch  # still ours, unacked; the caller decides
                raise
            self._one_by_one(batch)
            return
        self._keep_refused_files(batch, results)
        self._ack(batch[-1].tag, True)

    def _one_by_one(self, batch: list[Delivery]) -> None:
        """Some message in the batch is refused by the ledger: find it, dead-letter it."""
        for i, delivery in enumerate(batch):
            try:
                results = self._commit([delivery])
            except LedgerError as exc:
                if exc.transient:
                    self.items = batch[i:]
                    raise
                reason = f"ledger refused the message: {exc}"
                log.error("intake message dead-lettered", message_id=delivery.message.message_id,
                          reason=reason)
                if self._dead_letter(delivery, reason):
                    self._ack(delivery.tag, False)
                else:
                    self._reject(delivery.tag)
                continue
            self._keep_refused_files([delivery], results)
            self._ack(delivery.tag, False)
