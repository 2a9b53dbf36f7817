"""The Grafana dashboard: valid JSON whose queries use only metrics the engine exports."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from engine.observability.metrics import METRIC_NAMES

DASHBOARD = Path(__file__).parents[2] / "config" / "grafana" / "po-engine-dashboard.json"
_METRIC = re.compile(r"\bpo_engine_[a-z0-9_]+")


@pytest.fixture(scope="module")
def dashboard() -> dict[str, Any]:
    return json.loads(DASHBOARD.read_text(encoding="utf-8"))


def _panels(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for panel in panels:
        yield panel
        yield from _panels(panel.get("panels", []))


def _expressions(dashboard: dict[str, Any]) -> list[str]:
    exprs = [t["expr"] for p in _panels(dashboard["panels"]) for t in p.get("targets", [])]
    for var in dashboard["templating"]["list"]:
        query = var.get("query")
        exprs.append(query["query"] if isinstance(query, dict) else str(query or ""))
    exprs += [a.get("expr", "") for a in dashboard["annotations"]["list"]]
    return exprs


class TestDashboard:
    def test_every_metric_in_a_query_is_exported(self, dashboard: dict[str, Any]) -> None:
        """Each po_engine_ name in any panel, variable or annotation query is in METRIC_NAMES."""
        used = {m for e in _expressions(dashboard) for m in _METRIC.findall(e)}
        assert used, "the dashboard queries no engine metric"
        assert used - METRIC_NAMES == set()

    @pytest.mark.parametrize("needed", [
        "po_engine_orders_received_total", "po_engine_orders_delivered_total",
        "po_engine_orders_rejected_total", "po_engine_ledger_orders",
        "po_engine_orders_at_risk", "po_engine_orders_overdue",
        "po_engine_oldest_unacked_age_seconds", "po_engine_send_latency_seconds_bucket",
        "po_engine_ack_latency_seconds_bucket", "po_engine_circuit_breaker_state",
        "po_engine_dlq_depth",
    ])
    def test_covers_what_on_call_needs(self, dashboard: dict[str, Any], needed: str) -> None:
        """Throughput, backlog, deadlines, age, latency, breaker and DLQ each have a panel."""
        assert any(needed in e for e in _expressions(dashboard))

    def test_panels_have_unique_ids_and_positions(self, dashboard: dict[str, Any]) -> None:
        """Panel ids are unique and every panel has a grid position and a title."""
        panels = list(_panels(dashboard["panels"]))
        ids = [p["id"] for p in panels]
        assert len(ids) == len(set(ids))
        assert all({"x", "y", "w", "h"} <= set(p["gridPos"]) and p["title"] for p in panels)

    def test_queries_use_the_datasource_variable(self, dashboard: dict[str, Any]) -> None:
        """Every query panel reads the ${DS_PROMETHEUS} data source, so it imports anywhere."""
        for panel in _panels(dashboard["panels"]):
            if panel.get("targets"):
                assert panel["datasource"]["uid"] == "${DS_PROMETHEUS}", panel["title"]

    def test_percentile_panels_use_buckets(self, dashboard: dict[str, Any]) -> None:
        """histogram_quantile is only applied to _bucket series, summed by le."""
        for expr in _expressions(dashboard):
            if "histogram_quantile" in expr:
                assert "_bucket" in expr and "le" in expr.split("by (")[1]
