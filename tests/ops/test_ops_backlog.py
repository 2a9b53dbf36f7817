"""Backlog snapshots from ledger rows: what counts as unacknowledged, at risk and overdue."""

from __future__ import annotations

import datetime as dt

from engine.backlog import OpenVersion, snapshot_of
from engine.model import OrderType

UTC = dt.UTC
NOW = dt.datetime(2026, 11, 23, 18, 0, tzinfo=UTC)
HOUR = dt.timedelta(hours=1)


def version(state: str, *, order_type: OrderType = OrderType.DV_TRO, issued_hours_ago: float,
            due_in_hours: float, window_hours: float = 4) -> OpenVersion:
    return OpenVersion(order_type=order_type, state=state,
                       issued_at=NOW - issued_hours_ago * HOUR, due_at=NOW + due_in_hours * HOUR,
                       at_risk_window=window_hours * HOUR)


class TestSnapshotOf:
    def test_counts_risk_only_for_undelivered_versions(self) -> None:
        """ACKED, REJECTED and INVALID versions are never at risk, overdue or the oldest."""
        snap = snapshot_of([
            version("SENT", issued_hours_ago=20, due_in_hours=2),             # at risk
            version("RETRY_SCHEDULED", issued_hours_ago=30, due_in_hours=-1),  # overdue
            version("READY", issued_hours_ago=1, due_in_hours=23),            # ok
            version("ACKED", issued_hours_ago=90, due_in_hours=-50),
            version("REJECTED", issued_hours_ago=80, due_in_hours=-40),
            version("INVALID", issued_hours_ago=70, due_in_hours=-30),
        ], NOW)
        assert snap.at_risk == {OrderType.DV_TRO: 1}
        assert snap.overdue == {OrderType.DV_TRO: 1}
        assert snap.oldest_unacked_age_seconds == 30 * 3600
        assert snap.by_state == {"sent": 1, "retry_scheduled": 1, "ready": 1, "acked": 1,
                                 "rejected": 1, "invalid": 1}

    def test_oldest_emergency_age_is_separate(self) -> None:
        """The emergency age only looks at emergency order types."""
        snap = snapshot_of([
            version("SENT", issued_hours_ago=5, due_in_hours=10),
            version("SENT", order_type=OrderType.GV_EMERGENCY, issued_hours_ago=0.25,
                    due_in_hours=0.75, window_hours=0.5),
        ], NOW)
        assert snap.oldest_unacked_age_seconds == 5 * 3600
        assert snap.oldest_unacked_emergency_age_seconds == 900

    def test_nothing_open_means_no_age(self) -> None:
        """With every version delivered there is no oldest unacknowledged age."""
        snap = snapshot_of([version("ACKED", issued_hours_ago=3, due_in_hours=-1)], NOW,
                           dlq_depth=2)
        assert snap.oldest_unacked_age_seconds is None
        assert (snap.at_risk_total, snap.overdue_total, snap.dlq_depth) == (0, 0, 2)

    def test_ledger_state_counts_pass_through(self) -> None:
        """State counts the ledger computed itself replace the counted ones, lower-cased."""
        snap = snapshot_of([], NOW, by_state={"ACKED": 1200, "SENT": 3})
        assert snap.by_state == {"acked": 1200, "sent": 3}
