"""Acknowledgement correlation: the DOJ's answers applied to transmissions by MCN.

One function for every path an answer takes: synchronous transports hand it back in the
`Receipt`, asynchronous ones (an AMQP ack queue, a file inbox) feed `Correlator.apply_bytes`
from their consumers. Accepted -> ACKED with the DOJ record id (and the order's next version
is released); rejected-retryable -> rescheduled; rejected -> REJECTED with the reason.
Late, duplicate, unknown and malformed answers are each recorded in the acknowledgements
table and change nothing they should not; none of them raises.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import structlog

from engine.ack_types import Accepted, Acknowledgement, Rejected
from engine.errors import AckError
from engine.ledger import AckKind, AckResult, Ledger
from engine.observability.hooks import EngineHooks, call_hook
from engine.reliability.retry import DEFAULT_RESCHEDULE, RetryPolicy, durable_delay

__all__ = ["AckParser", "Correlator"]

#: Parses one format's acknowledgement bytes (`parse_niem_ack`, `parse_clets_ack`).
AckParser = Callable[[bytes], Acknowledgement]

log = structlog.get_logger(__name__)


class Correlator:
    """Applies acknowledgements to the ledger; safe to call from any thread."""

    def __init__(self, ledger: Ledger, parsers: Mapping[str, AckParser], *,
                 reschedule: RetryPolicy = DEFAULT_RESCHEDULE,
                 hooks: EngineHooks | None = None) -> None:
        self._ledger = ledger
        self._parsers = dict(parsers)
        self._reschedule = reschedule
        self._hooks = hooks

    def _retry_after(self, attempts: int) -> dt.timedelta:
        return durable_delay(self._reschedule, max(1, attempts))

    def apply(self, ack: Acknowledgement) -> AckResult:
        """Apply one parsed acknowledgement by its MCN."""
        if isinstance(ack, Accepted):
            result = self._ledger.record_acknowledgement(
                mcn=ack.mcn, accepted=True, record_id=ack.record_id)
        elif isinstance(ack, Rejected):
            result = self._ledger.record_acknowledgement(
                mcn=ack.mcn, accepted=False, code=ack.code, reason=ack.reason,
                retryable=ack.retryable, retry_after=self._retry_after)
        else:  # pragma: no cover - the type says this cannot happen
            return self.record_malformed(f"not an acknowledgement: {type(ack).__name__}")
        self._report(result, ack.mcn)
        return result

    def _parse(self, data: bytes, fmt: str) -> Acknowledgement | str:
        """The parsed acknowledgement, or why it is malformed."""
        parser = self._parsers.get(fmt)
        if parser is None:
            return f"no acknowledgement parser for format {fmt!r}"
        try:
            return parser(data)
        except AckError as exc:
            return str(exc)
        except Exception as exc:  # a parser bug must not stop the ack consumer
            return f"ack parser failed with {type(exc).__name__}"

    def _ledger_args(self, ack: Acknowledgement | str) -> dict[str, Any]:
        if isinstance(ack, str):
            return {"mcn": None, "accepted": None, "reason": ack}
        if isinstance(ack, Accepted):
            return {"mcn": ack.mcn, "accepted": True, "record_id": ack.record_id}
        return {"mcn": ack.mcn, "accepted": False, "code": ack.code, "reason": ack.reason,
                "retryable": ack.retryable, "retry_after": self._retry_after}

    def apply_many(self, data: Sequence[bytes], fmt: str) -> list[AckResult]:
        """Parse and apply a batch of acknowledgements in ONE ledger transaction (in
        order; malformed ones recorded). Raises `LedgerError` when nothing was recorded."""
        parsed = [self._parse(d, fmt) for d in data]
        results = self._ledger.record_acknowledgements([self._ledger_args(a) for a in parsed])
        for ack, result in zip(parsed, results, strict=True):
            self._report(result, None if isinstance(ack, str) else ack.mcn)
        return results

    def apply_bytes(self, data: bytes, fmt: str) -> AckResult:
        """Parse ``data`` with the format's ack parser and apply it; malformed is recorded."""
        parser = self._parsers.get(fmt)
        if parser is None:
            return self.record_malformed(f"no acknowledgement parser for format {fmt!r}")
        try:
            ack = parser(data)
        except AckError as exc:
            return self.record_malformed(str(exc))
        except Exception as exc:  # a parser bug must not stop the ack consumer
            return self.record_malformed(f"ack parser failed with {type(exc).__name__}")
        return self.apply(ack)

    def record_malformed(self, reason: str) -> AckResult:
        result = self._ledger.record_acknowledgement(mcn=None, accepted=None, reason=reason)
        self._report(result, None)
        return result

    def _report(self, result: AckResult, mcn: str | None) -> None:
        if result.kind in (AckKind.ACCEPTED, AckKind.REJECTED):
            log.debug("acknowledgement applied", mcn=mcn, kind=str(result.kind),
                     order=result.order_key, version=result.version)
        else:
            log.warning("acknowledgement recorded without a normal match", mcn=mcn,
                        kind=str(result.kind), order=result.order_key, version=result.version)
        call_hook(self._hooks, "after_ack", result)
