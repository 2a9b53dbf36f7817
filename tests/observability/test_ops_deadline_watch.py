"""End to end: with the receiver down, one order's at-risk and overdue gauges move as an
injected clock passes its thresholds, read over HTTP from /metrics (nothing sleeps)."""

from __future__ import annotations

import datetime as dt
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from engine.canonical import decode_order
from engine.errors import TransportUnavailable
from engine.law.deadlines import DEFAULT_POLICY, due_at
from engine.model import Order
from engine.observability.backlog import OpenVersion, snapshot_of
from engine.observability.metrics import (
    BacklogSnapshot,
    MetricsServer,
    register_backlog,
    start_http,
)
from engine.transports.base import Envelope, MockTransport, Receipt

FIXTURES = Path(__file__).parents[1] / "fixtures" / "orders"
LA = dt.timezone(dt.timedelta(hours=-8))  # November: Pacific standard time
UTC = dt.UTC


@dataclass
class FakeClock:
    now: dt.datetime

    def __call__(self) -> dt.datetime:
        return self.now


@dataclass
class Receiver:
    """The DOJ endpoint stand-in: down until ``up`` is set."""

    up: bool = False

    def handle(self, envelope: Envelope) -> Receipt:
        if not self.up:
            raise TransportUnavailable("connection refused")
        return Receipt(mcn=envelope.mcn, ack=b"accepted")


@dataclass
class TinyLedger:
    """Just enough ledger for the watch: one row per order version, with its state."""

    rows: dict[str, tuple[Order, str]] = field(default_factory=dict)

    def receive(self, order: Order) -> None:
        self.rows[order.version_key] = (order, "READY")

    def transmit(self, transport: MockTransport) -> None:
        for key, (order, state) in self.rows.items():
            if state not in ("READY", "RETRY_SCHEDULED"):
                continue
            try:
                transport.send(Envelope(mcn=f"M{len(key)}", body=b"<order/>",
                                        content_type="application/xml"))
            except TransportUnavailable:
                self.rows[key] = (order, "RETRY_SCHEDULED")
            else:
                self.rows[key] = (order, "ACKED")

    def snapshot(self, now: dt.datetime) -> BacklogSnapshot:
        return snapshot_of(
            [OpenVersion(order_type=o.order_type, state=s, issued_at=o.issued_at,
                         due_at=due_at(o),
                         at_risk_window=DEFAULT_POLICY.rule_for_kind(
                             o.order_type, o.action).at_risk_window)
             for o, s in self.rows.values()], now)


@dataclass
class Watch:
    clock: FakeClock
    ledger: TinyLedger
    receiver: Receiver
    transport: MockTransport
    server: MetricsServer


@pytest.fixture
def watch() -> Iterator[Watch]:
    """A ledger, a down receiver and the metrics server, all on one injected clock."""
    clock = FakeClock(dt.datetime(2026, 1, 1, tzinfo=UTC))
    ledger = TinyLedger()
    receiver = Receiver()
    registry = CollectorRegistry()
    register_backlog(ledger.snapshot, clock=clock, registry=registry)
    server = start_http(0, registry, lambda: True, host="127.0.0.1")
    yield Watch(clock, ledger, receiver, MockTransport(receiver.handle), server)
    server.stop()


Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(server: MetricsServer) -> Samples:
    with urllib.request.urlopen(f"http://127.0.0.1:{server.port}/metrics",
                                timeout=5) as response:
        text = response.read().decode()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def gauge(values: Samples, name: str, **labels: str) -> float:
    return values[(name, tuple(sorted(labels.items())))]


class TestDeadlineWatch:
    def test_business_day_order_goes_at_risk_then_overdue_then_clears(self,
                                                                      watch: Watch) -> None:
        """A DV-TRO issued Friday 15:42 with the receiver down: ok through Sunday, at risk
        for all of Monday (the court day it is due), overdue from midnight ending Monday
        (Fam. Code 6380, CCP 12); delivered, both gauges drop to 0."""
        clock, ledger, receiver, transport, server = (watch.clock, watch.ledger, watch.receiver,
                                                      watch.transport, watch.server)
        order = decode_order((FIXTURES / "dv_tro_issue.json").read_bytes())
        assert order.issued_at == dt.datetime(2026, 11, 20, 15, 42, tzinfo=LA)

        clock.now = order.issued_at + dt.timedelta(minutes=5)
        ledger.receive(order)
        ledger.transmit(transport)  # receiver down: rescheduled
        m = scrape(server)
        assert gauge(m, "po_engine_ledger_orders", state="retry_scheduled") == 1
        assert gauge(m, "po_engine_orders_at_risk", order_type="dv_tro") == 0
        assert gauge(m, "po_engine_orders_overdue", order_type="dv_tro") == 0
        assert gauge(m, "po_engine_oldest_unacked_age_seconds") == 300

        clock.now = dt.datetime(2026, 11, 22, 23, 59, tzinfo=LA)  # a minute before the window
        ledger.transmit(transport)
        m = scrape(server)
        assert gauge(m, "po_engine_orders_at_risk", order_type="dv_tro") == 0

        clock.now = dt.datetime(2026, 11, 23, 0, 0, tzinfo=LA)  # due midnight minus 24 hours
        m = scrape(server)
        assert gauge(m, "po_engine_orders_at_risk", order_type="dv_tro") == 1
        assert gauge(m, "po_engine_orders_overdue", order_type="dv_tro") == 0

        clock.now = dt.datetime(2026, 11, 24, 0, 0, tzinfo=LA)  # the due time
        m = scrape(server)
        assert gauge(m, "po_engine_orders_at_risk", order_type="dv_tro") == 0
        assert gauge(m, "po_engine_orders_overdue", order_type="dv_tro") == 1

        receiver.up = True
        clock.now += dt.timedelta(minutes=10)
        ledger.transmit(transport)
        m = scrape(server)
        assert gauge(m, "po_engine_orders_overdue", order_type="dv_tro") == 0
        assert gauge(m, "po_engine_ledger_orders", state="acked") == 1
        assert gauge(m, "po_engine_oldest_unacked_age_seconds") == 0

    def test_emergency_order_crosses_its_thresholds_within_the_hour(self, watch: Watch) -> None:
        """An EPO issued 02:15 with the receiver down: the emergency age passes the 15-minute
        page threshold at 02:31, at risk from 02:45, overdue from 03:15."""
        clock, ledger, transport, server = (watch.clock, watch.ledger, watch.transport,
                                            watch.server)
        order = decode_order((FIXTURES / "epo_issue.json").read_bytes())
        issued = order.issued_at
        clock.now = issued
        ledger.receive(order)
        ledger.transmit(transport)

        clock.now = issued + dt.timedelta(minutes=16)
        m = scrape(server)
        assert gauge(m, "po_engine_oldest_unacked_emergency_age_seconds") == 960
        assert gauge(m, "po_engine_orders_at_risk", order_type="epo") == 0

        clock.now = issued + dt.timedelta(minutes=30)
        m = scrape(server)
        assert gauge(m, "po_engine_orders_at_risk", order_type="epo") == 1

        clock.now = issued + dt.timedelta(hours=1)
        m = scrape(server)
        assert gauge(m, "po_engine_orders_at_risk", order_type="epo") == 0
        assert gauge(m, "po_engine_orders_overdue", order_type="epo") == 1
