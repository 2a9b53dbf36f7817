"""The core's metrics: `engine.observability.metrics` (counters, gauges, the backlog) fed
from the core's hooks and the ledger. Only labels the metrics module allows (order type,
destination, outcome): never an order key, MCN or anything personal.

`install_metrics(ledger, port)` returns the hooks to pass to the core and the HTTP server.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from types import ModuleType
from typing import Any

import structlog

from engine.ledger import AckKind, AckResult, Claim, IntakeOutcome, IntakeResult, Ledger, State
from engine.observability.hooks import EngineHooks
from engine.reliability.breaker import BreakerState

__all__ = ["MetricsHooks", "install_metrics"]

log = structlog.get_logger(__name__)

#: Transmitter outcomes -> `engine.observability.metrics.Outcome` values.
_SEND_OUTCOMES = {"sent": "sent", "retry": "unavailable", "rejected": "rejected"}


def _stage(reason: str | None, order_type: str | None) -> str:
    """Which stage found an order unusable, from its recorded reason."""
    if order_type is None:
        return "decode"
    if reason and reason.startswith("cannot render"):
        return "render"
    return "check"


class MetricsHooks(EngineHooks):
    """Counts what happens to orders in `engine.observability.metrics`."""

    def __init__(self, metrics: ModuleType) -> None:
        self._m = metrics

    def after_intake(self, result: IntakeResult, order_type: str | None) -> None:
        kind = order_type if order_type and order_type != "unknown" else None
        if result.outcome in (IntakeOutcome.NEW, IntakeOutcome.REPLACED,
                              IntakeOutcome.INVALID) and kind:
            self._m.record_received(kind)
        if result.state is State.INVALID and result.outcome is not IntakeOutcome.DUPLICATE:
            self._m.record_invalid(kind, _stage(result.reason, kind))
        elif result.outcome is IntakeOutcome.CONFLICT:
            self._m.record_invalid(kind, "check")

    def after_send(self, claim: Claim, outcome: str, seconds: float) -> None:
        if outcome == "invalid":
            self._m.record_invalid(claim.order_type or None, "render")
            return
        if outcome not in _SEND_OUTCOMES:
            return  # breaker_open: nothing was attempted
        self._m.record_attempt(claim.destination)
        self._m.record_outcome(claim.destination, _SEND_OUTCOMES[outcome])
        self._m.observe_send_latency(claim.destination, seconds)
        if outcome == "rejected":
            self._m.record_rejected(claim.order_type, claim.destination)

    def after_ack(self, result: AckResult) -> None:
        if result.order_type is None or result.destination is None:
            return
        if result.kind not in (AckKind.ACCEPTED, AckKind.REJECTED, AckKind.LATE):
            return
        if result.state is State.ACKED:
            latency = issue_to_ack = None
            if result.sent_at is not None or result.issued_at is not None:
                now = dt.datetime.now(dt.UTC)
                latency = (now - result.sent_at).total_seconds() if result.sent_at else None
                issue_to_ack = ((now - result.issued_at).total_seconds()
                                if result.issued_at else None)
            self._m.record_delivered(result.order_type, result.destination,
                                     ack_latency_seconds=latency,
                                     issue_to_ack_seconds=issue_to_ack)
        elif result.state is State.REJECTED:
            self._m.record_rejected(result.order_type, result.destination)

    def breaker_changed(self, destination: str, state: BreakerState, failures: int) -> None:
        self._m.set_breaker_state(destination, state.value)
        self._m.set_consecutive_failures(destination, failures)


def install_metrics(ledger: Ledger, port: int | None, *,
                    destinations: list[str] | None = None,
                    readiness_check: Callable[[], Mapping[str, bool]] | None = None,
                    dlq_depth: Callable[[], int] | None = None,
                    host: str = "127.0.0.1") -> tuple[MetricsHooks, Any]:
    """Register the backlog over ``ledger`` (with the DLQ depth asked at scrape time),
    serve /metrics, /healthz and /readyz on ``port`` (None: do not serve), and return
    (hooks, server)."""
    from engine.observability import backlog, metrics

    metrics.register_backlog(backlog.ledger_snapshot_provider(ledger, dlq_depth=dlq_depth))
    for name in destinations or []:
        metrics.init_destination(name)
    server = (metrics.start_http(port, readiness_check=readiness_check, host=host)
              if port is not None else None)
    return MetricsHooks(metrics), server
