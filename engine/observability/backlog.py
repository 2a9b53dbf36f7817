"""Turn the ledger's open order versions into a `BacklogSnapshot` at a given instant.

The ledger knows each version's state, due time and issuance; this pure function does the
counting the metrics need (by state, at risk, overdue, oldest unacknowledged), so the
rules for "at risk" live in one place (`engine.law.deadlines.risk_state`) and tests can drive
it with any clock.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from engine.law.deadlines import DEFAULT_POLICY, DeadlinePolicy, RiskState, risk_state
from engine.model import Action, OrderType
from engine.observability.metrics import BacklogSnapshot, SnapshotProvider

__all__ = ["DELIVERED_STATES", "LedgerView", "OpenVersion", "ledger_snapshot_provider",
           "snapshot_of"]

#: States in which the engine owes nothing more to the registry for that version: not
#: counted as unacknowledged or at risk (REJECTED and INVALID are alerted on their own).
DELIVERED_STATES = frozenset({"ACKED", "REJECTED", "INVALID", "SUPERSEDED"})


@dataclass(frozen=True, kw_only=True, slots=True)
class OpenVersion:
    """What the snapshot needs to know about one order version in the ledger."""

    order_type: OrderType
    state: str
    issued_at: dt.datetime
    #: None when no due time could be computed: counted as unacknowledged, never at risk.
    due_at: dt.datetime | None
    #: From `DeadlinePolicy.rule_for_kind(order_type, action).at_risk_window`.
    at_risk_window: dt.timedelta


def snapshot_of(versions: Iterable[OpenVersion], now: dt.datetime, *,
                by_state: Mapping[str, int] | None = None,
                dlq_depth: int | None = 0) -> BacklogSnapshot:
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
        if version.due_at is not None:
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


class LedgerView(Protocol):
    """The two ledger queries the backlog needs (`engine.ledger` provides them)."""

    def state_counts(self) -> Mapping[str, int]:
        """Order versions per state, all states."""
        ...

    def open_versions(self) -> Iterable[Mapping[str, Any]]:
        """Versions not yet delivered: order_type, action, state, issued_at, due_at."""
        ...


def ledger_snapshot_provider(ledger: LedgerView, policy: DeadlinePolicy | None = None, *,
                             dlq_depth: Callable[[], int] | None = None) -> SnapshotProvider:
    """A ``snapshot_provider(now)`` for `engine.observability.metrics.register_backlog`, over the
    ledger.

    The at-risk window of each version comes from the deadline policy's rule for its order
    type and action. A failing ``dlq_depth`` (broker down) leaves the DLQ gauge out rather
    than failing the whole snapshot: readiness reports the broker.
    """
    policy = policy or DEFAULT_POLICY

    def provide(now: dt.datetime) -> BacklogSnapshot:
        versions = [
            OpenVersion(
                order_type=OrderType(row["order_type"]), state=str(row["state"]),
                issued_at=row["issued_at"], due_at=row.get("due_at"),
                at_risk_window=policy.rule_for_kind(OrderType(row["order_type"]),
                                                    Action(row["action"])).at_risk_window)
            for row in ledger.open_versions()]
        depth: int | None = 0
        if dlq_depth is not None:
            try:
                depth = int(dlq_depth())
            except Exception:  # the broker is down: no DLQ number, not a failed scrape
                depth = None
        return snapshot_of(versions, now, by_state=ledger.state_counts(), dlq_depth=depth)

    return provide
