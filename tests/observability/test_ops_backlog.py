"""Backlog snapshots from ledger rows: what counts as unacknowledged, at risk and overdue."""

from __future__ import annotations

import datetime as dt

from engine.model import OrderType
from engine.observability.backlog import OpenVersion, ledger_snapshot_provider, snapshot_of

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


class FakeLedger:
    """The two queries the real ledger answers, over fixed rows."""

    def __init__(self, rows: list[dict[str, object]], counts: dict[str, int]) -> None:
        self.rows, self.counts = rows, counts

    def state_counts(self) -> dict[str, int]:
        return self.counts

    def open_versions(self) -> list[dict[str, object]]:
        return self.rows


class TestLedgerSnapshotProvider:
    def _ledger(self) -> FakeLedger:
        return FakeLedger(
            [{"order_type": "epo", "action": "issue", "state": "SENT",
              "issued_at": NOW - dt.timedelta(minutes=40), "due_at": NOW + 20 * dt.timedelta(
                  minutes=1)},
             {"order_type": "dv_tro", "action": "modify", "state": "RETRY_SCHEDULED",
              "issued_at": NOW - 2 * HOUR, "due_at": NOW + 26 * HOUR},
             {"order_type": "dv_tro", "action": "issue", "state": "READY",
              "issued_at": NOW - HOUR, "due_at": None}],
            {"ACKED": 50, "SENT": 1, "RETRY_SCHEDULED": 1, "READY": 1})

    def test_windows_come_from_the_policy(self) -> None:
        """An EPO 20 minutes from due is at risk (30-minute window); a DV-TRO 26 h away is not
        (at risk only on the court day it is due: a 24-hour window)."""
        snap = ledger_snapshot_provider(self._ledger())(NOW)
        assert snap.at_risk == {OrderType.EMERGENCY: 1}
        assert snap.overdue == {}
        assert snap.oldest_unacked_age_seconds == 2 * 3600
        assert snap.oldest_unacked_emergency_age_seconds == 40 * 60
        assert snap.by_state["acked"] == 50

    def test_failing_dlq_count_leaves_the_gauge_out(self) -> None:
        """A DLQ count that raises (broker down) gives dlq_depth None, not a failed snapshot."""
        def broken() -> int:
            raise ConnectionError("broker down")

        assert ledger_snapshot_provider(self._ledger(), dlq_depth=broken)(NOW).dlq_depth is None
        assert ledger_snapshot_provider(self._ledger(), dlq_depth=lambda: 3)(NOW).dlq_depth == 3
