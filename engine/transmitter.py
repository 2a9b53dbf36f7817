"""The transmitter: sends each order version whose turn has come, and never loses one.

Each round it leases due transmissions from the ledger (``FOR UPDATE SKIP LOCKED`` on
PostgreSQL, so replicas share the work), renders each at its first send with its MCN and the
entry's DOJ record id (`RenderContext`), keeps those bytes for every retry, and hands them to
the destination's `Transport`:

* transient faults are retried at once a few times (tenacity, `engine.retry`), then the
  transmission is rescheduled durably with a backed-off ``next_attempt_at``;
* a `CircuitBreaker` per destination stops sending into an outage (nothing is attempted
  while it is open; the work is rescheduled to when it half-opens);
* `DestinationRejected` is permanent: REJECTED with its reason, never retried blindly;
* an order that cannot be rendered is INVALID with its reason.

One order's trouble never holds up another's; only later versions of the same order wait
(the ledger releases them when the earlier version is ACKED).
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
import uuid
from collections.abc import Callable, Mapping

import structlog

from engine.breaker import DEFAULT_BREAKER, BreakerPolicy, BreakerState, CircuitBreaker
from engine.correlator import Correlator
from engine.errors import DestinationRejected, RenderError, TransportError
from engine.formats import RenderContext, Renderer
from engine.hooks import EngineHooks, call_hook
from engine.intake import order_from_dict
from engine.ledger import Claim, Ledger
from engine.retry import (
    DEFAULT_RESCHEDULE,
    DEFAULT_RETRY,
    RetryPolicy,
    durable_delay,
    in_process_retrying,
)
from engine.transports.base import Envelope, Receipt, Transport

__all__ = ["Transmitter"]

log = structlog.get_logger(__name__)


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Transmitter:
    """Sends due transmissions; `run_once` is one round, `run` loops until told to stop."""

    def __init__(self, ledger: Ledger, *, transports: Mapping[str, Transport],
                 renderers: Mapping[str, Renderer], correlator: Correlator,
                 retry: RetryPolicy = DEFAULT_RETRY,
                 reschedule: RetryPolicy = DEFAULT_RESCHEDULE,
                 breaker: BreakerPolicy = DEFAULT_BREAKER,
                 batch_size: int = 50, lease: dt.timedelta = dt.timedelta(minutes=2),
                 ack_timeout: dt.timedelta = dt.timedelta(minutes=5),
                 clock: Callable[[], dt.datetime] = _utcnow,
                 sleep: Callable[[float], None] | None = None,
                 worker_id: str | None = None,
                 hooks: EngineHooks | None = None,
                 destination: str | None = None) -> None:
        self._ledger = ledger
        self._transports = dict(transports)
        self._renderers = dict(renderers)
        self._correlator = correlator
        self._retry = retry
        self._reschedule = reschedule
        self._batch_size = batch_size
        self._lease = lease
        self._ack_timeout = ack_timeout
        self._clock = clock
        self._sleep = sleep
        self.worker_id = worker_id or f"tx-{uuid.uuid4().hex[:12]}"
        self.breakers = {name: CircuitBreaker(name, breaker, clock=clock)
                         for name in self._transports}
        self._connected: set[str] = set()
        self._hooks = hooks
        #: Only this destination's work (one transmitter thread per destination), or all.
        self._destination = destination

    # -- rounds -----------------------------------------------------------------------------

    def run_once(self) -> int:
        """One round: resend what was never answered, then send what is due. Returns the
        number of transmissions handled."""
        self._ledger.expire_unacknowledged(older_than=self._ack_timeout,
                                           destination=self._destination)
        shut = [name for name, b in self.breakers.items() if b.state is BreakerState.OPEN]
        claims = self._ledger.claim_due(self.worker_id, limit=self._batch_size,
                                        lease=self._lease, exclude_destinations=shut,
                                        destination=self._destination)
        failing: set[str] = set()
        for claim in claims:
            if claim.destination in failing:
                # One failed send (after its retries) is enough news for this round: the
                # rest wait one reschedule interval instead of each retrying in turn, so a
                # dead destination costs one retry sequence per round, not one per order.
                self._ledger.mark_retry(
                    claim, self.worker_id, attempted=False,
                    next_attempt_at=self._clock() + durable_delay(self._reschedule, 1),
                    error="destination failed earlier in this round")
                continue
            if not self._handle(claim):
                failing.add(claim.destination)
        return len(claims)

    def run(self, stop: threading.Event, *, poll_interval: float = 0.5) -> None:
        """Send until ``stop`` is set; a round that finds nothing waits ``poll_interval``."""
        while not stop.is_set():
            try:
                handled = self.run_once()
            except Exception:
                # The ledger may be down for a moment; nothing is lost (leases expire).
                log.exception("transmitter round failed; trying again")
                handled = 0
            if not handled:
                stop.wait(poll_interval)

    def close(self) -> None:
        for name, transport in self._transports.items():
            try:
                transport.close()
            except Exception:
                log.exception("closing transport failed", destination=name)
        self._connected.clear()

    # -- one transmission -------------------------------------------------------------------

    def _handle(self, claim: Claim) -> bool:
        """Send one claim; False when its destination failed (a transient fault)."""
        breaker = self.breakers.get(claim.destination)
        transport = self._transports.get(claim.destination)
        if breaker is None or transport is None:
            self._ledger.mark_retry(claim, self.worker_id, attempted=False,
                                    next_attempt_at=self._clock() + dt.timedelta(minutes=5),
                                    error=f"destination {claim.destination!r} is not "
                                          "configured in this engine")
            return True
        if not breaker.allow():
            self._ledger.mark_retry(claim, self.worker_id, attempted=False,
                                    next_attempt_at=breaker.retry_at(),
                                    error="circuit open: destination is failing")
            call_hook(self._hooks, "after_send", claim, "breaker_open", 0.0)
            return True
        envelope = self._envelope(claim)
        if envelope is None:
            return True
        started = time.monotonic()
        try:
            receipt = self._send_with_retries(claim.destination, transport, envelope)
        except DestinationRejected as exc:
            self._breaker_result(breaker, ok=True)  # it answered: the destination is up
            self._ledger.mark_rejected(claim, self.worker_id,
                                       reason=f"rejected by the destination: {exc}")
            call_hook(self._hooks, "after_send", claim, "rejected",
                      time.monotonic() - started)
            log.warning("transmission rejected", mcn=claim.mcn, order=claim.order_key,
                        version=claim.version)
            return True
        except Exception as exc:
            self._breaker_result(breaker, ok=False)
            error = (str(exc) if isinstance(exc, TransportError)
                     else f"transport failed with {type(exc).__name__}")
            delay = durable_delay(self._reschedule, claim.attempt_count + 1)
            when = max(self._clock() + delay, breaker.retry_at())
            self._ledger.mark_retry(claim, self.worker_id, next_attempt_at=when,
                                    error=error)
            log.warning("transmission rescheduled", mcn=claim.mcn, order=claim.order_key,
                        version=claim.version, next_attempt_at=when.isoformat(),
                        error_class=type(exc).__name__)
            call_hook(self._hooks, "after_send", claim, "retry", time.monotonic() - started)
            return False
        self._breaker_result(breaker, ok=True)
        self._ledger.mark_sent(claim, self.worker_id)
        call_hook(self._hooks, "after_send", claim, "sent", time.monotonic() - started)
        if receipt.ack is not None:
            self._correlator.apply_bytes(receipt.ack, claim.format)
        return True

    def _breaker_result(self, breaker: CircuitBreaker, *, ok: bool) -> None:
        before = (breaker.state, breaker.failures)
        if ok:
            breaker.record_success()
        else:
            breaker.record_failure()
        if (breaker.state, breaker.failures) != before:
            call_hook(self._hooks, "breaker_changed", breaker.name, breaker.state,
                      breaker.failures)

    def _envelope(self, claim: Claim) -> Envelope | None:
        """The bytes to send: rendered at the first send, the same bytes for every retry."""
        body, content_type = claim.body, claim.content_type
        if body is None:
            prepared_at = self._clock()
            try:
                rendered = self._render(claim, prepared_at)
            except RenderError as exc:
                errors = "; ".join(str(e) for e in exc.errors) or str(exc)
                self._ledger.mark_rejected(claim, self.worker_id, invalid=True,
                                           reason=f"cannot render as {claim.format}: {errors}")
                call_hook(self._hooks, "after_send", claim, "invalid", 0.0)
                return None
            except Exception as exc:
                self._ledger.mark_rejected(
                    claim, self.worker_id, invalid=True,
                    reason=f"(engine): rendering failed with {type(exc).__name__}")
                return None
            body, content_type = rendered.body, rendered.content_type
            if not self._ledger.store_prepared(claim, self.worker_id, body=body,
                                               content_type=content_type,
                                               prepared_at=prepared_at,
                                               warnings=rendered.warnings):
                return None  # the claim was lost (lease expired); another worker has it
        return Envelope(mcn=claim.mcn, body=body, content_type=content_type or "",
                        headers={"x-engine-mcn": claim.mcn})

    def _render(self, claim: Claim, prepared_at: dt.datetime):  # type: ignore[no-untyped-def]
        renderer = self._renderers.get(claim.format)
        if renderer is None:
            raise RenderError(f"no renderer for format {claim.format!r}")
        if claim.canonical_json is None:
            raise RenderError("the version has no canonical order")
        order = order_from_dict(json.loads(claim.canonical_json))
        return renderer(order, RenderContext(claim.mcn, prepared_at, claim.doj_record_id))

    def _send_with_retries(self, name: str, transport: Transport,
                           envelope: Envelope) -> Receipt:
        retrying = (in_process_retrying(self._retry, sleep=self._sleep) if self._sleep
                    else in_process_retrying(self._retry))
        for attempt in retrying:
            with attempt:
                try:
                    if name not in self._connected:
                        transport.connect()
                        self._connected.add(name)
                    return transport.send(envelope)
                except TransportError as exc:
                    if exc.transient:
                        self._disconnect(name, transport)
                    raise
        raise AssertionError("unreachable: tenacity re-raises the last error")  # pragma: no cover

    def _disconnect(self, name: str, transport: Transport) -> None:
        self._connected.discard(name)
        try:
            transport.close()
        except Exception:
            log.debug("close after a failed send failed", destination=name)
