"""Turn the ledger's open order versions into a `BacklogSnapshot` at a given instant.

The ledger knows each version's state, due time and issuance; this pure function does the
counting the metrics need (by state, at risk, overdue, oldest unacknowledged), so the
rules for "at risk" live in one place (`engine.deadlines.risk_state`) and tests can drive
it with any clock.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from engine.deadlines import RiskState, risk_state
from engine.metrics import BacklogSnapshot
from engine.model import OrderType

__all__ = ["DELIVERED_STATES", "OpenVersion", "snapshot_of"]

#: States in which the engine owes nothing more to the registry for that version: not
#: counted as unacknowledged or at risk (REJECTED and INVALID are alerted on their own).
DELIVERED_STATES = frozenset({"ACKED", "REJECTED", "INVALID", "SUPERSEDED"})


@dataclass(frozen=True, kw_only=True, slots=True)
class OpenVersion:
    """What the snapshot needs to know about one order version in the ledger."""

    order_type: OrderType
    state: str
    issued_at: dt.datetime
    due_at: dt.datetime
    #: From `DeadlinePolicy.rule_for_kind(order_type, action).at_risk_window`.
    at_risk_window: dt.timedelta


def snapshot_of(versions: Iterable[OpenVersion], now: dt.datetime, *,
                by_state: Mapping[str, int] | None = None,
                dlq_depth: int = 0) -> BacklogSnapshot:
    """The backlog at ``now``: risk of every version not yet delivered, oldest age by issuance.

    ``by_state`` (counts of *all* versions, ACKED included) is passed through when the
    ledger counts states itself; otherwise the given versions are counted.
    """
    states: Counter[str] = Counter()
    at_risk: Counter[OrderType] = Counter()
    overdue: Counter[OrderType] = Counter()
    oldest: dt.datetime | None = None
    oldest_emergency: dt.datetime | None = None
    for version in versions:
        states[str(version.state).lower()] += 1
        if str(version.state).upper() in DELIVERED_STATES:
            continue
        order_type = OrderType(version.order_type)
        state = risk_state(version.due_at, now, version.at_risk_window)
        if state is RiskState.OVERDUE:
            overdue[order_type] += 1
        elif state is RiskState.AT_RISK:
            at_risk[order_type] += 1
        if oldest is None or version.issued_at < oldest:
            oldest = version.issued_at
        if order_type.is_emergency and (oldest_emergency is None
                                        or version.issued_at < oldest_emergency):
            oldest_emergency = version.issued_at

    def age(since: dt.datetime | None) -> float | None:
        return None if since is None else max((now - since).total_seconds(), 0.0)

    return BacklogSnapshot(
        by_state={str(k).lower(): v for k, v in by_state.items()} if by_state is not None
        else dict(states),
        at_risk=dict(at_risk), overdue=dict(overdue),
        oldest_unacked_age_seconds=age(oldest),
        oldest_unacked_emergency_age_seconds=age(oldest_emergency),
        dlq_depth=dlq_depth)
