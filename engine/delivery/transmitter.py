"""The transmitter: sends each order version whose turn has come, and never loses one.

Each round it leases due transmissions from the ledger (no more than ``max_in_flight``
sent-but-unacknowledged ones per destination: flow control, so a backlog waits in the
ledger rather than in the DOJ's queue where ``ack_timeout`` would resend it; ``FOR UPDATE
SKIP LOCKED`` on PostgreSQL, so replicas share the work), renders each at its first send
with its MCN and the entry's DOJ record id (`RenderContext`), keeps those bytes for every
retry, and hands them to the destination's `Transport`:

* transient faults are retried at once a few times (tenacity, `engine.reliability.retry`), then the
  transmission is rescheduled durably with a backed-off ``next_attempt_at``;
* a `CircuitBreaker` per destination stops sending into an outage (nothing is attempted
  while it is open; the work is rescheduled to when it half-opens);
* `DestinationRejected` is permanent: REJECTED with its reason, never retried blindly;
* an order that cannot be rendered is INVALID with its reason.

One order's trouble never holds up another's; only later versions of the same order wait
(the ledger releases them when the earlier version is ACKED).

Deadline-aware: a failing transmission's next attempt is never planned after its order's
due time less ``deadline_margin`` (`engine.reliability.retry.deadline_capped`). A failing
destination is
probed every breaker ``reset_timeout`` with its earliest-due waiting transmission, whatever
the backoff of each order says; the first success after failures "pulls forward" every
transmission waiting for that destination: they are claimed earliest due first, whatever
their scheduled retry, ``batch_size`` a round and never more than ``max_in_flight`` in
flight, until none is left. Recovery therefore costs one probe interval at most, not the
next backoff (up to 15 minutes).

A transport that offers ``send_many`` (AMQP: pipelined publisher confirms) gets a round's
claims for its destination as one batch while its breaker is closed: rendered, stored in
one ledger transaction, published together, and marked SENT in one transaction once the
broker confirmed them. A message the batch could not deliver goes through the one-by-one
path above (retries, reschedule, breaker), with the same bytes and MCN.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any

import structlog

from engine.acks.correlator import Correlator
from engine.canonical import order_from_dict
from engine.errors import DestinationRejected, RenderError, TransportError
from engine.formats import DestinationFacts, RenderContext, Renderer
from engine.ledger import Claim, Ledger
from engine.observability.hooks import EngineHooks, call_hook
from engine.reliability.breaker import DEFAULT_BREAKER, BreakerPolicy, BreakerState, CircuitBreaker
from engine.reliability.retry import (
    DEFAULT_RESCHEDULE,
    DEFAULT_RETRY,
    RetryPolicy,
    deadline_capped,
    durable_delay,
    in_process_retrying,
)
from engine.transports.base import Envelope, Receipt, Transport

__all__ = ["EXPIRY_EVERY", "Transmitter"]

#: How often a transmitter looks for SENT transmissions whose acknowledgement is overdue.
EXPIRY_EVERY = dt.timedelta(seconds=1)

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
                 destination: str | None = None, max_in_flight: int = 200,
                 deadline_margin: dt.timedelta = dt.timedelta(minutes=5),
                 facts: Mapping[str, DestinationFacts] | None = None) -> None:
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
        #: Flow control: sent-but-unacknowledged transmissions allowed at once.
        self._max_in_flight = max_in_flight
        #: Per destination: the recipient and test/production mode its messages carry.
        self._facts = dict(facts or {})
        self._expired_at: dt.datetime | None = None
        #: No retry is planned later than an order's due time less this.
        self._deadline_margin = deadline_margin
        #: Destinations that answered again after failing: their waiting work goes now.
        self._recovered: set[str] = set()

    # -- rounds -----------------------------------------------------------------------------

    def run_once(self) -> int:
        """One round: resend what was never answered, then send what is due. Returns the
        number of transmissions handled."""
        now = self._clock()
        if self._expired_at is None or now - self._expired_at >= EXPIRY_EVERY:
            # A transaction of its own: once a second is enough (ack_timeout is minutes),
            # and a busy round then costs its claim, store and mark-sent only.
            self._ledger.expire_unacknowledged(older_than=self._ack_timeout,
                                               destination=self._destination)
            self._expired_at = now
        shut = [name for name, b in self.breakers.items() if b.state is BreakerState.OPEN]
        room = self._max_in_flight - self._ledger.count_in_flight(self._destination)
        if room <= 0:
            return 0  # the destination has enough to answer; wait for its acks
        limit = min(self._batch_size, room)
        claims, early = self._claim_early(limit)
        if len(claims) < limit:
            claims += self._ledger.claim_due(self.worker_id, limit=limit - len(claims),
                                             lease=self._lease,
                                             exclude_destinations=[*shut, *early],
                                             destination=self._destination)
        failing: set[str] = set()
        for claim in self._send_batches(claims, failing):
            if claim.destination in failing:
                # One failed send (after its retries) is enough news for this round: the
                # rest wait one reschedule interval instead of each retrying in turn, so a
                # dead destination costs one retry sequence per round, not one per order.
                self._defer_behind_failure(claim)
                continue
            if not self._handle(claim):
                failing.add(claim.destination)
        return len(claims)

    def _claim_early(self, limit: int) -> tuple[list[Claim], list[str]]:
        """Work claimed whatever its scheduled retry, earliest due first: all that waits for
        a destination that recovered (pull-forward), one transmission to probe a failing
        destination whose probe is due. Returns the claims and the destinations asked."""
        claims: list[Claim] = []
        asked: list[str] = []
        for name, breaker in self.breakers.items():
            if len(claims) >= limit:
                break
            if name in self._recovered:
                got = self._ledger.claim_due(self.worker_id, limit=limit - len(claims),
                                             lease=self._lease, destination=name,
                                             waiting=True)
                if not got:
                    self._recovered.discard(name)  # everything waiting has gone
            elif breaker.probe_due():
                got = self._ledger.claim_due(self.worker_id, limit=1, lease=self._lease,
                                             destination=name, waiting=True)
            else:
                continue
            asked.append(name)
            claims += got
        return claims, asked

    def _next_attempt(self, claim: Claim, planned: dt.datetime) -> dt.datetime:
        """``planned``, but never later than the order's due time less the margin, nor
        sooner than the destination's probe interval (only configured destinations are
        sent to, so their breaker exists)."""
        floor = self.breakers[claim.destination].probe_interval
        return deadline_capped(self._clock(), planned, due_at=claim.due_at,
                               margin=self._deadline_margin, floor=floor)

    def run(self, stop: threading.Event, *, poll_interval: float = 0.5,
            wake: threading.Event | None = None) -> None:
        """Send until ``stop`` is set; a round that finds nothing waits ``poll_interval``,
        or less when ``wake`` is set (new work committed in this process)."""
        while not stop.is_set():
            try:
                handled = self.run_once()
            except Exception:
                # The ledger may be down for a moment; nothing is lost (leases expire).
                log.exception("transmitter round failed; trying again")
                handled = 0
            if not handled:
                if wake is None:
                    stop.wait(poll_interval)
                elif wake.wait(poll_interval):
                    wake.clear()

    def close(self) -> None:
        for name, transport in self._transports.items():
            try:
                transport.close()
            except Exception:
                log.exception("closing transport failed", destination=name)
        self._connected.clear()

    # -- one transmission -------------------------------------------------------------------

    def _defer_behind_failure(self, claim: Claim) -> None:
        """Not attempted: its destination already failed this round, so it waits one
        reschedule interval (never past its due time) instead of retrying in turn."""
        self._ledger.mark_retry(
            claim, self.worker_id, attempted=False,
            next_attempt_at=self._next_attempt(
                claim, self._clock() + durable_delay(self._reschedule, 1)),
            error="destination failed earlier in this round")

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
        return self._deliver(claim, envelope, breaker, transport)

    def _deliver(self, claim: Claim, envelope: Envelope, breaker: CircuitBreaker,
                 transport: Transport) -> bool:
        """Send one prepared envelope with retries; False when its destination failed."""
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
            when = self._next_attempt(claim, max(self._clock() + delay, breaker.retry_at()))
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

    # -- batches (transports with send_many) --------------------------------------------------

    def _send_batches(self, claims: list[Claim], failing: set[str]) -> list[Claim]:
        """Send what can go as a batch; return the claims left for the one-by-one path."""
        by_destination: dict[str, list[Claim]] = {}
        for claim in claims:
            by_destination.setdefault(claim.destination, []).append(claim)
        rest: list[Claim] = []
        for name, group in by_destination.items():
            transport = self._transports.get(name)
            breaker = self.breakers.get(name)
            send_many = getattr(transport, "send_many", None)
            if (len(group) < 2 or send_many is None or breaker is None or transport is None
                    or breaker.state is not BreakerState.CLOSED):
                rest += group
                continue
            if not self._send_batch(name, group, send_many, breaker, transport):
                failing.add(name)
        return rest

    def _send_batch(self, name: str, claims: list[Claim],
                    send_many: Callable[[list[Envelope]], list[Receipt | Exception]],
                    breaker: CircuitBreaker, transport: Transport) -> bool:
        """One destination's claims as one batch; False when the destination failed."""
        prepared = self._envelopes(claims)
        if not prepared:
            return True
        started = time.monotonic()
        try:
            if name not in self._connected:
                transport.connect()
                self._connected.add(name)
            results: list[Receipt | Exception] = list(send_many([e for _, e in prepared]))
        except Exception as exc:
            # The whole batch failed (connection): each goes the one-by-one way, with
            # retries; any of it may have arrived, the receiver drops duplicate MCNs.
            log.warning("batch send failed; sending one by one", destination=name,
                        error_class=type(exc).__name__)
            if isinstance(exc, TransportError) and exc.transient:
                self._disconnect(name, transport)
            results = [exc] * len(prepared)
        sent = [(c, r) for (c, _), r in zip(prepared, results, strict=True)
                if isinstance(r, Receipt)]
        elapsed = (time.monotonic() - started) / len(prepared)  # not empty: returned above
        if sent:
            self._breaker_result(breaker, ok=True)
            self._ledger.mark_sent_many([c for c, _ in sent], self.worker_id)
            for claim, receipt in sent:
                call_hook(self._hooks, "after_send", claim, "sent", elapsed)
                if receipt.ack is not None:
                    self._correlator.apply_bytes(receipt.ack, claim.format)
        ok = True
        for (claim, envelope), result in zip(prepared, results, strict=True):
            if isinstance(result, Receipt):
                continue
            if not ok:
                self._defer_behind_failure(claim)
                continue
            ok = self._deliver(claim, envelope, breaker, transport)
        return ok

    def _envelopes(self, claims: list[Claim]) -> list[tuple[Claim, Envelope]]:
        """Envelopes for a batch: stored bytes, or rendered now and stored in ONE
        transaction (claims that cannot be rendered are marked INVALID, lost ones dropped)."""
        ready: list[tuple[Claim, Envelope]] = []
        to_store: list[tuple[Claim, bytes, str, dt.datetime, tuple[str, ...]]] = []
        for claim in claims:
            if claim.body is not None:
                if not self._wrong_mode(claim, claim.body):
                    ready.append((claim, self._make_envelope(claim, claim.body,
                                                             claim.content_type)))
                continue
            prepared_at = self._clock()
            rendered = self._render_or_invalid(claim, prepared_at)
            if rendered is not None:
                to_store.append((claim, rendered.body, rendered.content_type, prepared_at,
                                 tuple(rendered.warnings)))
        if to_store:
            kept = self._ledger.store_prepared_many(to_store, self.worker_id)
            stored = {item[0].transmission_id: item for item, ok in zip(to_store, kept,
                                                                        strict=True) if ok}
            ready += [(c, self._make_envelope(c, stored[c.transmission_id][1],
                                              stored[c.transmission_id][2]))
                      for c in claims if c.transmission_id in stored]
            order = {c.transmission_id: i for i, c in enumerate(claims)}
            ready.sort(key=lambda item: order[item[0].transmission_id])
        return ready

    @staticmethod
    def _make_envelope(claim: Claim, body: bytes, content_type: str | None) -> Envelope:
        return Envelope(mcn=claim.mcn, body=body, content_type=content_type or "",
                        headers={"x-engine-mcn": claim.mcn})

    def _breaker_result(self, breaker: CircuitBreaker, *, ok: bool) -> None:
        before = (breaker.state, breaker.failures)
        if ok:
            if before[1] or before[0] is not BreakerState.CLOSED:
                self._recovered.add(breaker.name)  # it answers again: pull work forward
            breaker.record_success()
        else:
            self._recovered.discard(breaker.name)  # failing again: back to probing
            breaker.record_failure()
        if (breaker.state, breaker.failures) != before:
            call_hook(self._hooks, "breaker_changed", breaker.name, breaker.state,
                      breaker.failures)

    def _render_or_invalid(self, claim: Claim, prepared_at: dt.datetime) -> Any:
        """The rendered message, or None after marking the version INVALID with why."""
        try:
            return self._render(claim, prepared_at)
        except RenderError as exc:
            errors = "; ".join(str(e) for e in exc.errors) or str(exc)
            self._ledger.mark_rejected(claim, self.worker_id, invalid=True,
                                       reason=f"cannot render as {claim.format}: {errors}")
            call_hook(self._hooks, "after_send", claim, "invalid", 0.0)
        except Exception as exc:
            self._ledger.mark_rejected(
                claim, self.worker_id, invalid=True,
                reason=f"(engine): rendering failed with {type(exc).__name__}")
        return None

    def _envelope(self, claim: Claim) -> Envelope | None:
        """The bytes to send: rendered at the first send, the same bytes for every retry."""
        body, content_type = claim.body, claim.content_type
        if body is not None and self._wrong_mode(claim, body):
            return None
        if body is None:
            prepared_at = self._clock()
            rendered = self._render_or_invalid(claim, prepared_at)
            if rendered is None:
                return None
            body, content_type = rendered.body, rendered.content_type
            if not self._ledger.store_prepared(claim, self.worker_id, body=body,
                                               content_type=content_type,
                                               prepared_at=prepared_at,
                                               warnings=rendered.warnings):
                return None  # the claim was lost (lease expired); another worker has it
        return self._make_envelope(claim, body, content_type)

    def _render(self, claim: Claim, prepared_at: dt.datetime):  # type: ignore[no-untyped-def]
        renderer = self._renderers.get(claim.format)
        if renderer is None:
            raise RenderError(f"no renderer for format {claim.format!r}")
        if claim.canonical_json is None:
            raise RenderError("the version has no canonical order")
        order = order_from_dict(json.loads(claim.canonical_json))
        facts = self._facts.get(claim.destination, DestinationFacts())
        return renderer(order, RenderContext(claim.mcn, prepared_at, claim.doj_record_id,
                                             previous_mcn=claim.previous_mcn, test=facts.test,
                                             recipient=facts.recipient))

    def _wrong_mode(self, claim: Claim, body: bytes) -> bool:
        """A stored message whose test/production mode is not its destination's (the
        destination's setting changed since it was prepared) is never sent: marked INVALID."""
        if claim.format != "niem":
            return False
        from engine.niem.render import test_indicator  # the only format with the flag

        test = test_indicator(body)
        wanted = self._facts.get(claim.destination, DestinationFacts()).test
        if test is None or test == wanted:
            return False
        mode = "a test" if test else "a production"
        self._ledger.mark_rejected(claim, self.worker_id, invalid=True,
                                   reason=f"(engine): {mode} message for a "
                                          f"{'test' if wanted else 'production'} destination")
        call_hook(self._hooks, "after_send", claim, "invalid", 0.0)
        return True

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
