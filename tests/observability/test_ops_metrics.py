"""Engine metrics: bounded labels, the scrape-time backlog collector, the HTTP endpoints."""

from __future__ import annotations

import datetime as dt
import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from engine.canonical import decode_order
from engine.model import Order, OrderType
from engine.observability import metrics
from engine.observability.metrics import (
    REGISTRY,
    BacklogCollector,
    BacklogSnapshot,
    BreakerState,
    InvalidStage,
    Outcome,
    register_backlog,
    start_http,
)

FIXTURES = sorted((Path(__file__).parents[1] / "fixtures" / "orders").glob("*.json"))
NOW = dt.datetime(2026, 11, 23, 18, 0, tzinfo=dt.UTC)


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.fixture
def fresh_destinations(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test sees an empty set of destination names."""
    monkeypatch.setattr(metrics, "_seen_destinations", set())


class TestEventMetrics:
    def test_each_record_function_counts_with_its_labels(self) -> None:
        """Each record_* call moves exactly its own series by one."""
        def counts() -> dict[str, float]:
            return {
                "recv": sample("po_engine_orders_received_total", order_type="dv_tro"),
                "deliv": sample("po_engine_orders_delivered_total", order_type="epo",
                                destination="carpos"),
                "rej": sample("po_engine_orders_rejected_total", order_type="dv_tro",
                              destination="carpos"),
                "inv": sample("po_engine_orders_invalid_total", order_type="unknown",
                              stage="decode"),
                "att": sample("po_engine_transmission_attempts_total", destination="carpos"),
                "out": sample("po_engine_transmission_outcomes_total", destination="carpos",
                              outcome="unavailable"),
                "ack": sample("po_engine_ack_latency_seconds_count", destination="carpos"),
                "i2a": sample("po_engine_issue_to_ack_seconds_count", order_type="epo"),
                "send": sample("po_engine_send_latency_seconds_count", destination="carpos"),
            }

        before = counts()
        metrics.record_received(OrderType.DV_TRO)
        metrics.record_delivered(OrderType.EMERGENCY, "carpos", ack_latency_seconds=2.0,
                                 issue_to_ack_seconds=600)
        metrics.record_rejected("dv_tro", "carpos")
        metrics.record_invalid(None, InvalidStage.DECODE)
        metrics.record_attempt("carpos")
        metrics.record_outcome("carpos", Outcome.UNAVAILABLE)
        metrics.observe_send_latency("carpos", 0.2)
        after = counts()
        assert {k: after[k] - before[k] for k in before} == dict.fromkeys(before, 1.0)

    def test_breaker_and_failure_gauges_are_set(self) -> None:
        """The breaker gauge holds the state's number; failures in a row are kept."""
        metrics.set_breaker_state("ncic", BreakerState.OPEN)
        metrics.set_consecutive_failures("ncic", 7)
        assert sample("po_engine_circuit_breaker_state", destination="ncic") == 2
        assert sample("po_engine_destination_consecutive_failures", destination="ncic") == 7
        metrics.set_breaker_state("ncic", "half_open")
        assert sample("po_engine_circuit_breaker_state", destination="ncic") == 1
        metrics.set_breaker_state("ncic", BreakerState.CLOSED)
        assert sample("po_engine_circuit_breaker_state", destination="ncic") == 0

    def test_unknown_outcome_and_stage_are_refused(self) -> None:
        """An outcome or stage outside the enums is a bug and raises, not a new series."""
        with pytest.raises(ValueError):
            metrics.record_outcome("carpos", "kinda-worked")
        with pytest.raises(ValueError):
            metrics.record_invalid("dv_tro", "somewhere")


class TestLabelHygiene:
    @pytest.mark.usefixtures("fresh_destinations")
    def test_unsafe_destination_names_become_other(self) -> None:
        """A destination name that is not a plain configured name is labelled ``other``."""
        assert metrics.destination_label("carpos") == "carpos"
        assert metrics.destination_label("García López") == "other"
        assert metrics.destination_label("CASE-26-0001") == "other"
        assert metrics.destination_label("x" * 40) == "other"

    @pytest.mark.usefixtures("fresh_destinations")
    def test_destination_count_is_capped(self) -> None:
        """Past MAX_DESTINATIONS distinct names, new names are labelled ``other``."""
        names = [f"dest{i}" for i in range(metrics.MAX_DESTINATIONS + 5)]
        labels = [metrics.destination_label(n) for n in names]
        assert labels[: metrics.MAX_DESTINATIONS] == names[: metrics.MAX_DESTINATIONS]
        assert set(labels[metrics.MAX_DESTINATIONS:]) == {"other"}

    def test_unknown_order_type_is_unknown(self) -> None:
        """Anything not an OrderType code is labelled ``unknown``."""
        assert metrics.order_type_label("Ana Ramírez") == "unknown"
        assert metrics.order_type_label(OrderType.CH_TRO) == "ch_tro"

    @pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.stem)
    def test_no_case_order_or_person_data_in_exposition(self, path: Path) -> None:
        """After recording a fixture order everywhere, no identifying value is exposed."""
        order = decode_order(path.read_bytes())
        metrics.record_received(order.order_type)
        metrics.record_delivered(order.order_type, order.court.ori)
        metrics.record_invalid(order.order_type, InvalidStage.CHECK)
        text = generate_latest(REGISTRY).decode()
        for secret in _identifying_values(order):
            assert secret not in text


def _identifying_values(order: Order) -> set[str]:
    values = {order.case_number, order.order_id, order.key}
    for person in (*order.restrained_persons, *order.protected_persons):
        values |= {p for p in (person.name.surname, person.name.given, person.name.middle)
                   if p}
        if person.birth_date:
            values.add(person.birth_date.isoformat())
    return values


class TestBacklogSnapshot:
    def test_state_names_must_be_safe_labels(self) -> None:
        """A state that is not a short lowercase word is refused."""
        with pytest.raises(ValueError, match="safe label"):
            BacklogSnapshot(by_state={"Ana Ramírez": 1})

    def test_counts_must_be_order_types_and_non_negative(self) -> None:
        """At-risk keys must be order types and counts cannot be negative."""
        with pytest.raises(ValueError):
            BacklogSnapshot(at_risk={"CASE-1": 1})  # type: ignore[dict-item]
        with pytest.raises(ValueError, match="negative"):
            BacklogSnapshot(overdue={OrderType.DV_TRO: -1})

    def test_totals(self) -> None:
        """Totals add the per-type counts."""
        snap = BacklogSnapshot(at_risk={OrderType.DV_TRO: 2, OrderType.EMERGENCY: 1},
                               overdue={OrderType.CH_TRO: 4})
        assert (snap.at_risk_total, snap.overdue_total) == (3, 4)


class TestBacklogCollector:
    def _registry(self, provider, clock=lambda: NOW) -> CollectorRegistry:  # type: ignore[no-untyped-def]
        registry = CollectorRegistry()
        registry.register(BacklogCollector(provider, clock))
        return registry

    def test_provider_gets_the_injected_clock(self) -> None:
        """The provider is called with the injected clock's time at each scrape."""
        seen: list[dt.datetime] = []

        def provider(now: dt.datetime) -> BacklogSnapshot:
            seen.append(now)
            return BacklogSnapshot()

        generate_latest(self._registry(provider))
        assert seen == [NOW]

    def test_snapshot_becomes_gauges(self) -> None:
        """States, at-risk, overdue, ages and DLQ depth appear with the snapshot's values."""
        snap = BacklogSnapshot(by_state={"queued": 3, "sent": 2, "acked": 40},
                               at_risk={OrderType.DV_TRO: 2}, overdue={OrderType.EMERGENCY: 1},
                               oldest_unacked_age_seconds=5400.0,
                               oldest_unacked_emergency_age_seconds=1800.0, dlq_depth=4)
        registry = self._registry(lambda now: snap)
        get = registry.get_sample_value
        assert get("po_engine_backlog_up") == 1
        assert get("po_engine_ledger_orders", {"state": "queued"}) == 3
        assert get("po_engine_orders_at_risk", {"order_type": "dv_tro"}) == 2
        assert get("po_engine_orders_at_risk", {"order_type": "epo"}) == 0
        assert get("po_engine_orders_overdue", {"order_type": "epo"}) == 1
        assert get("po_engine_oldest_unacked_age_seconds") == 5400
        assert get("po_engine_oldest_unacked_emergency_age_seconds") == 1800
        assert get("po_engine_dlq_depth") == 4

    def test_every_order_type_has_a_series(self) -> None:
        """At-risk and overdue have one series per order type even when all are zero."""
        registry = self._registry(lambda now: BacklogSnapshot())
        for order_type in OrderType:
            assert registry.get_sample_value("po_engine_orders_overdue",
                                             {"order_type": order_type.value}) == 0

    def test_failing_provider_reports_backlog_down(self) -> None:
        """A ledger that cannot be read gives po_engine_backlog_up 0, not a failed scrape."""
        def provider(now: dt.datetime) -> BacklogSnapshot:
            raise ConnectionError("ledger down")

        registry = self._registry(provider)
        assert registry.get_sample_value("po_engine_backlog_up") == 0
        assert registry.get_sample_value("po_engine_dlq_depth") is None

    def test_unknown_dlq_depth_is_left_out(self) -> None:
        """A snapshot without a DLQ count exposes no DLQ gauge rather than a false 0."""
        registry = self._registry(lambda now: BacklogSnapshot(dlq_depth=None))
        assert registry.get_sample_value("po_engine_backlog_up") == 1
        assert registry.get_sample_value("po_engine_dlq_depth") is None

    def test_register_backlog_replaces_the_previous_provider(self) -> None:
        """Registering a provider twice keeps only the latest one on the registry."""
        registry = CollectorRegistry()
        register_backlog(lambda now: BacklogSnapshot(dlq_depth=1), registry=registry,
                         clock=lambda: NOW)
        register_backlog(lambda now: BacklogSnapshot(dlq_depth=2), registry=registry,
                         clock=lambda: NOW)
        assert registry.get_sample_value("po_engine_dlq_depth") == 2

    def test_metric_names_lists_what_is_exposed(self) -> None:
        """METRIC_NAMES is exactly the set of sample names the engine exposes."""
        registry = CollectorRegistry()
        register_backlog(lambda now: BacklogSnapshot(by_state={"queued": 1}),
                         registry=registry, clock=lambda: NOW)
        metrics.record_received("dv_tro")
        metrics.record_delivered("dv_tro", "carpos", ack_latency_seconds=1,
                                 issue_to_ack_seconds=1)
        metrics.record_rejected("dv_tro", "carpos")
        metrics.record_invalid("dv_tro", "check")
        metrics.record_attempt("carpos")
        metrics.record_outcome("carpos", "sent")
        metrics.observe_send_latency("carpos", 0.1)
        metrics.set_breaker_state("carpos", BreakerState.CLOSED)
        metrics.set_consecutive_failures("carpos", 0)
        names = {s.name for reg in (REGISTRY, registry) for m in reg.collect()
                 for s in m.samples}
        assert names == metrics.METRIC_NAMES


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - local test
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        with exc:  # closes the error's response, or a ResourceWarning fails a later test
            return exc.code, exc.read().decode()


class TestHttpServer:
    @pytest.fixture
    def readiness(self) -> dict[str, bool]:
        return {"broker": True, "ledger": True}

    @pytest.fixture
    def base_url(self, readiness: dict[str, bool]) -> Iterator[str]:
        registry = CollectorRegistry()
        register_backlog(lambda now: BacklogSnapshot(dlq_depth=3), registry=registry,
                         clock=lambda: NOW)
        server = start_http(0, registry, lambda: readiness, host="127.0.0.1")
        yield f"http://127.0.0.1:{server.port}"
        server.stop()

    def test_metrics_endpoint_serves_the_registry(self, base_url: str) -> None:
        """/metrics serves the given registry in the Prometheus text format."""
        status, body = _get(f"{base_url}/metrics")
        assert status == 200
        assert "po_engine_dlq_depth 3.0" in body

    def test_healthz_is_ok_while_the_process_runs(self, base_url: str,
                                                  readiness: dict[str, bool]) -> None:
        """/healthz answers 200 even when dependencies are down."""
        readiness["broker"] = False
        assert _get(f"{base_url}/healthz")[0] == 200

    def test_readyz_follows_the_readiness_check(self, base_url: str,
                                                readiness: dict[str, bool]) -> None:
        """/readyz is 200 when broker and ledger are up, 503 naming the one that is down."""
        assert _get(f"{base_url}/readyz")[0] == 200
        readiness["ledger"] = False
        status, body = _get(f"{base_url}/readyz")
        assert status == 503
        assert json.loads(body) == {"ready": False,
                                    "components": {"broker": True, "ledger": False}}

    def test_readyz_is_503_when_the_check_raises(self) -> None:
        """A readiness check that raises counts as not ready."""
        def check() -> bool:
            raise RuntimeError("boom")

        server = start_http(0, CollectorRegistry(), check, host="127.0.0.1")
        try:
            status, body = _get(f"http://127.0.0.1:{server.port}/readyz")
        finally:
            server.stop()
        assert status == 503
        assert json.loads(body)["error"] == "RuntimeError"

    def test_unknown_path_is_404(self, base_url: str) -> None:
        """Paths other than the three endpoints are 404."""
        assert _get(f"{base_url}/admin")[0] == 404

    def test_stop_closes_the_port(self) -> None:
        """After stop() the port no longer accepts connections."""
        server = start_http(0, CollectorRegistry(), None, host="127.0.0.1")
        url = f"http://127.0.0.1:{server.port}/healthz"
        assert _get(url)[0] == 200
        server.stop()
        with pytest.raises(urllib.error.URLError):
            urllib.request.urlopen(url, timeout=2)


class TestSeriesStartAtZero:
    def test_invalid_counters_exist_before_any_event(self) -> None:
        """Every order type x stage invalid counter is exposed at 0 from import on."""
        for order_type in [*OrderType, "unknown"]:
            for stage in InvalidStage:
                kind = getattr(order_type, "value", order_type)
                assert REGISTRY.get_sample_value(
                    "po_engine_orders_invalid_total",
                    {"order_type": kind, "stage": stage.value}) is not None

    @pytest.mark.usefixtures("fresh_destinations")
    def test_init_destination_creates_its_series_at_zero(self) -> None:
        """After init_destination, delivered/rejected/outcome/breaker series exist at 0."""
        metrics.init_destination("fresh")
        assert REGISTRY.get_sample_value("po_engine_orders_rejected_total",
                                         {"order_type": "epo", "destination": "fresh"}) == 0
        assert REGISTRY.get_sample_value("po_engine_transmission_outcomes_total",
                                         {"destination": "fresh", "outcome": "rejected"}) == 0
        assert REGISTRY.get_sample_value("po_engine_circuit_breaker_state",
                                         {"destination": "fresh"}) == 0
