"""Hooks: where cross-cutting work (metrics, alerts) attaches to the core, without being
sprinkled through it. Like dramatiq's middleware, every hook does nothing by default;
an observer overrides the ones it needs. A hook must not raise: the core catches and logs
anything a hook throws, so a metrics bug can never stop an order.
"""

from __future__ import annotations

import structlog

from engine.ledger import AckResult, Claim, IntakeResult
from engine.reliability.breaker import BreakerState

__all__ = ["EngineHooks", "call_hook"]

log = structlog.get_logger(__name__)


class EngineHooks:
    """Do-nothing hooks; subclass and override."""

    def after_intake(self, result: IntakeResult, order_type: str | None) -> None:
        """An intake message was recorded (new, duplicate, conflict, replaced, invalid)."""

    def after_send(self, claim: Claim, outcome: str, seconds: float) -> None:
        """A send attempt ended: ``sent``, ``retry``, ``rejected``, ``invalid`` or
        ``breaker_open``; ``seconds`` is how long the transport took."""

    def after_ack(self, result: AckResult) -> None:
        """An acknowledgement was applied or recorded."""

    def breaker_changed(self, destination: str, state: BreakerState, failures: int) -> None:
        """A destination's breaker moved (or its failure count changed)."""


def call_hook(hooks: EngineHooks | None, name: str, *args: object) -> None:
    """Call ``hooks.name(*args)``; a failing hook is logged, never raised."""
    if hooks is None:
        return
    try:
        getattr(hooks, name)(*args)
    except Exception:
        log.exception("hook failed", hook=name)
