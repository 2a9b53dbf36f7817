"""Prometheus metrics: what on-call staff watch to know an order will be late, before it is.

Two kinds of numbers:

- **Events**, counted where they happen (orders received, delivered, rejected, invalid;
  transmission attempts and outcomes; send and acknowledgement latency). The engine calls
  the small ``record_*`` functions below; they clean every label first.
- **State**, read from the ledger at scrape time (backlog by state, orders at risk and
  overdue, the oldest unacknowledged order's age, DLQ depth): a `BacklogCollector` calls a
  ``snapshot_provider(now) -> BacklogSnapshot`` (the ledger provides it) with a clock that
  tests inject. Reading at scrape time means the numbers are never stale after a restart
  and need no background thread.

Labels are bounded on purpose: order types, actions, states and outcomes are enums;
destinations are the configured destination names (a safe-name pattern and a cap, beyond
which they count as ``other``). Never a person's name, a case number or an order id:
those identify people and would make a series per order.

`start_http` serves ``/metrics``, ``/healthz`` (the process answers) and ``/readyz`` (503
while the readiness check says the broker or the ledger is down) on a daemon thread.
"""

from __future__ import annotations

import datetime as dt
import enum
import json
import re
import threading
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    Info,
    disable_created_metrics,
    make_wsgi_app,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from engine import __version__
from engine.model import OrderType

__all__ = [
    "ACK_LATENCY",
    "BREAKER_STATE",
    "BUILD_INFO",
    "CONSECUTIVE_FAILURES",
    "ISSUE_TO_ACK",
    "METRIC_NAMES",
    "ORDERS_DELIVERED",
    "ORDERS_INVALID",
    "ORDERS_RECEIVED",
    "ORDERS_REJECTED",
    "REGISTRY",
    "SEND_LATENCY",
    "TRANSMISSION_ATTEMPTS",
    "TRANSMISSION_OUTCOMES",
    "BacklogCollector",
    "BacklogSnapshot",
    "BreakerState",
    "InvalidStage",
    "MetricsServer",
    "Outcome",
    "SnapshotProvider",
    "destination_label",
    "init_destination",
    "observe_send_latency",
    "order_type_label",
    "record_attempt",
    "record_delivered",
    "record_invalid",
    "record_outcome",
    "record_received",
    "record_rejected",
    "register_backlog",
    "set_breaker_state",
    "set_consecutive_failures",
    "start_http",
]

# ``*_created`` series would double the series count and no rule or dashboard reads them.
disable_created_metrics()  # type: ignore[no-untyped-call]  # unannotated in prometheus_client

#: The engine's own registry: only engine metrics, nothing another library registers.
REGISTRY = CollectorRegistry(auto_describe=True)


class Outcome(enum.StrEnum):
    """What one transmission attempt ended as (before the DOJ's acknowledgement)."""

    SENT = "sent"                #: the destination took the message; an ack is awaited
    UNAVAILABLE = "unavailable"  #: transient: refused, reset, timed out, 5xx; will retry
    REJECTED = "rejected"        #: the destination refused the message for good
    ERROR = "error"              #: anything else (a bug): alerted like a rejection


class InvalidStage(enum.StrEnum):
    """Where an order was found unusable."""

    DECODE = "decode"
    MAP = "map"
    CHECK = "check"
    RENDER = "render"


class BreakerState(enum.IntEnum):
    """Circuit breaker state as a gauge value: 0 closed, 1 half-open, 2 open."""

    CLOSED = 0
    HALF_OPEN = 1
    OPEN = 2


# -- labels ---------------------------------------------------------------------------------

#: Most distinct destination label values; later ones count as ``other``.
MAX_DESTINATIONS = 32
_DESTINATION = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
_seen_destinations: set[str] = set()
_destinations_lock = threading.Lock()


def destination_label(name: str) -> str:
    """A configured destination name as a label; anything unsafe or excess is ``other``."""
    if not isinstance(name, str) or not _DESTINATION.match(name):
        return "other"
    with _destinations_lock:
        if name in _seen_destinations:
            return name
        if len(_seen_destinations) >= MAX_DESTINATIONS:
            return "other"
        _seen_destinations.add(name)
        return name


def order_type_label(order_type: OrderType | str | None) -> str:
    """An order type code as a label; ``unknown`` for anything not an `OrderType`."""
    if order_type is None:
        return "unknown"
    try:
        return OrderType(order_type).value
    except ValueError:
        return "unknown"


# -- event metrics ---------------------------------------------------------------------------

#: Orders taken off the intake queue and committed to the ledger, by order type.
ORDERS_RECEIVED = Counter(
    "po_engine_orders_received", "Order versions received and committed to the ledger.",
    ["order_type"], registry=REGISTRY)
#: Order versions the destination acknowledged (ACKED), by order type and destination.
ORDERS_DELIVERED = Counter(
    "po_engine_orders_delivered", "Order versions acknowledged by the destination.",
    ["order_type", "destination"], registry=REGISTRY)
#: Order versions the destination rejected (REJECTED: a person must look).
ORDERS_REJECTED = Counter(
    "po_engine_orders_rejected", "Order versions rejected by the destination.",
    ["order_type", "destination"], registry=REGISTRY)
#: Order versions recorded INVALID, by order type (``unknown`` if undecodable) and stage.
ORDERS_INVALID = Counter(
    "po_engine_orders_invalid", "Order versions recorded as invalid, by stage.",
    ["order_type", "stage"], registry=REGISTRY)
#: Transmission attempts started, per destination (retries included).
TRANSMISSION_ATTEMPTS = Counter(
    "po_engine_transmission_attempts", "Transmission attempts started.",
    ["destination"], registry=REGISTRY)
#: Transmission attempts finished, by destination and `Outcome`.
TRANSMISSION_OUTCOMES = Counter(
    "po_engine_transmission_outcomes", "Transmission attempts finished, by outcome.",
    ["destination", "outcome"], registry=REGISTRY)
#: Seconds one ``Transport.send`` took (connect excluded).
SEND_LATENCY = Histogram(
    "po_engine_send_latency_seconds", "Seconds to hand one message to the destination.",
    ["destination"], registry=REGISTRY,
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))
#: Seconds from the first send of a message to the destination's acknowledgement.
ACK_LATENCY = Histogram(
    "po_engine_ack_latency_seconds", "Seconds from first send to the destination's ack.",
    ["destination"], registry=REGISTRY,
    buckets=(0.1, 0.5, 1, 5, 15, 30, 60, 300, 900, 3600, 4 * 3600, 24 * 3600))
#: Seconds from the court's issuance to the registry's acknowledgement: the deadline view.
ISSUE_TO_ACK = Histogram(
    "po_engine_issue_to_ack_seconds", "Seconds from issuance to the destination's ack.",
    ["order_type"], registry=REGISTRY,
    buckets=(60, 300, 900, 1800, 3600, 4 * 3600, 8 * 3600, 24 * 3600, 2 * 24 * 3600,
             3 * 24 * 3600, 7 * 24 * 3600))
#: Circuit breaker per destination: 0 closed, 1 half-open, 2 open (`BreakerState`).
BREAKER_STATE = Gauge(
    "po_engine_circuit_breaker_state", "Circuit breaker state: 0 closed, 1 half-open, 2 open.",
    ["destination"], registry=REGISTRY)
#: Failed attempts in a row per destination; reset to 0 by a success.
CONSECUTIVE_FAILURES = Gauge(
    "po_engine_destination_consecutive_failures", "Failed transmission attempts in a row.",
    ["destination"], registry=REGISTRY)
#: The running engine's version (one series, value 1).
BUILD_INFO = Info("po_engine_build", "Engine build information.", registry=REGISTRY)
BUILD_INFO.info({"version": __version__})


def _order_type_labels() -> list[str]:
    return [t.value for t in OrderType] + ["unknown"]


# Counters that alerts take increase() of start at 0, so the first event is an increase.
for _kind in _order_type_labels():
    ORDERS_RECEIVED.labels(_kind)
    for _stage in InvalidStage:
        ORDERS_INVALID.labels(_kind, _stage.value)


def init_destination(destination: str) -> None:
    """Create a destination's series at zero (call once per configured destination at start):
    without it the first rejection is the series' first sample and ``increase()`` misses it,
    and a destination that never failed has no breaker series to graph."""
    dest = destination_label(destination)
    for kind in _order_type_labels():
        ORDERS_DELIVERED.labels(kind, dest)
        ORDERS_REJECTED.labels(kind, dest)
    TRANSMISSION_ATTEMPTS.labels(dest)
    for outcome in Outcome:
        TRANSMISSION_OUTCOMES.labels(dest, outcome.value)
    BREAKER_STATE.labels(dest).set(int(BreakerState.CLOSED))
    CONSECUTIVE_FAILURES.labels(dest).set(0)


def record_received(order_type: OrderType | str) -> None:
    ORDERS_RECEIVED.labels(order_type_label(order_type)).inc()


def record_invalid(order_type: OrderType | str | None, stage: InvalidStage | str) -> None:
    ORDERS_INVALID.labels(order_type_label(order_type), InvalidStage(stage).value).inc()


def record_attempt(destination: str) -> None:
    TRANSMISSION_ATTEMPTS.labels(destination_label(destination)).inc()


def record_outcome(destination: str, outcome: Outcome | str) -> None:
    TRANSMISSION_OUTCOMES.labels(destination_label(destination), Outcome(outcome).value).inc()


def observe_send_latency(destination: str, seconds: float) -> None:
    SEND_LATENCY.labels(destination_label(destination)).observe(max(seconds, 0.0))


def record_delivered(order_type: OrderType | str, destination: str, *,
                     ack_latency_seconds: float | None = None,
                     issue_to_ack_seconds: float | None = None) -> None:
    """An ACKED order version, with the latencies the caller knows."""
    dest = destination_label(destination)
    kind = order_type_label(order_type)
    ORDERS_DELIVERED.labels(kind, dest).inc()
    if ack_latency_seconds is not None:
        ACK_LATENCY.labels(dest).observe(max(ack_latency_seconds, 0.0))
    if issue_to_ack_seconds is not None:
        ISSUE_TO_ACK.labels(kind).observe(max(issue_to_ack_seconds, 0.0))


def record_rejected(order_type: OrderType | str, destination: str, *,
                    ack_latency_seconds: float | None = None) -> None:
    dest = destination_label(destination)
    ORDERS_REJECTED.labels(order_type_label(order_type), dest).inc()
    if ack_latency_seconds is not None:
        ACK_LATENCY.labels(dest).observe(max(ack_latency_seconds, 0.0))


def set_breaker_state(destination: str, state: BreakerState | str) -> None:
    """Set the breaker gauge from a `BreakerState` or its name (``closed``, ``half_open``,
    ``open``, as `engine.reliability.breaker` calls them)."""
    value = state if isinstance(state, BreakerState) else BreakerState[str(state).upper()]
    BREAKER_STATE.labels(destination_label(destination)).set(int(value))


def set_consecutive_failures(destination: str, count: int) -> None:
    CONSECUTIVE_FAILURES.labels(destination_label(destination)).set(max(count, 0))


# -- backlog state, read at scrape time ----------------------------------------------------

_STATE = re.compile(r"^[a-z][a-z0-9_]{0,31}$")


@dataclass(frozen=True, kw_only=True)
class BacklogSnapshot:
    """The ledger's backlog at one instant: what the state gauges show.

    ``by_state`` keys are the ledger's state names (an enum: bounded). At-risk and overdue
    counts are *undelivered* order versions by order type, judged with
    `engine.law.deadlines.risk_state` at the snapshot's ``now``.
    """

    by_state: Mapping[str, int] = field(default_factory=dict)
    at_risk: Mapping[OrderType, int] = field(default_factory=dict)
    overdue: Mapping[OrderType, int] = field(default_factory=dict)
    #: Age of the oldest order version not yet acknowledged (None: there is none).
    oldest_unacked_age_seconds: float | None = None
    #: The same, among emergency order types only: these are due within the hour.
    oldest_unacked_emergency_age_seconds: float | None = None
    #: Messages parked in the dead-letter queue, waiting for a person (None: unknown, e.g.
    #: the broker is unreachable; the gauge is then left out).
    dlq_depth: int | None = 0

    def __post_init__(self) -> None:
        for state in self.by_state:
            if not _STATE.match(str(state).lower()):
                raise ValueError(f"ledger state {state!r} is not a safe label value")
        for name, counts in (("at_risk", self.at_risk), ("overdue", self.overdue)):
            for order_type in counts:
                OrderType(order_type)  # raises ValueError for anything else
            if any(n < 0 for n in counts.values()):
                raise ValueError(f"{name} counts cannot be negative")

    @property
    def at_risk_total(self) -> int:
        return sum(self.at_risk.values())

    @property
    def overdue_total(self) -> int:
        return sum(self.overdue.values())


SnapshotProvider = Callable[[dt.datetime], BacklogSnapshot]
Clock = Callable[[], dt.datetime]


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class BacklogCollector(Collector):
    """Turns a `BacklogSnapshot` from the ledger into gauges at each scrape.

    If the provider fails (the ledger is down), the scrape still succeeds with
    ``po_engine_backlog_up 0`` and no backlog gauges, so an alert on that fires instead of
    the scrape erroring out.
    """

    def __init__(self, snapshot_provider: SnapshotProvider, clock: Clock = _utc_now) -> None:
        self._provider = snapshot_provider
        self._clock = clock

    def describe(self) -> Iterable[Any]:
        return []  # unchecked collector: names vary with the snapshot only in label values

    def collect(self) -> Iterator[GaugeMetricFamily]:
        up = GaugeMetricFamily("po_engine_backlog_up",
                               "1 if the ledger backlog could be read at this scrape.")
        try:
            snapshot = self._provider(self._clock())
        except Exception:  # a scrape must not fail: report the ledger as unreadable
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up

        by_state = GaugeMetricFamily("po_engine_ledger_orders",
                                     "Order versions in the ledger by state.",
                                     labels=["state"])
        for state, count in sorted(snapshot.by_state.items()):
            by_state.add_metric([str(state).lower()], count)
        yield by_state

        for name, doc, counts in (
            ("po_engine_orders_at_risk",
             "Undelivered order versions due within their at-risk window.", snapshot.at_risk),
            ("po_engine_orders_overdue",
             "Undelivered order versions past their due time.", snapshot.overdue),
        ):
            family = GaugeMetricFamily(name, doc, labels=["order_type"])
            for order_type in OrderType:  # every type, zeros included: series never vanish
                family.add_metric([order_type.value], counts.get(order_type, 0))
            yield family

        yield GaugeMetricFamily(
            "po_engine_oldest_unacked_age_seconds",
            "Age of the oldest order version not yet acknowledged (0 if none).",
            value=snapshot.oldest_unacked_age_seconds or 0.0)
        yield GaugeMetricFamily(
            "po_engine_oldest_unacked_emergency_age_seconds",
            "Age of the oldest emergency order version not yet acknowledged (0 if none).",
            value=snapshot.oldest_unacked_emergency_age_seconds or 0.0)
        if snapshot.dlq_depth is not None:
            yield GaugeMetricFamily("po_engine_dlq_depth",
                                    "Messages waiting in the dead-letter queue.",
                                    value=snapshot.dlq_depth)


_backlog_lock = threading.Lock()
_registered_backlog: weakref.WeakKeyDictionary[CollectorRegistry, BacklogCollector] = (
    weakref.WeakKeyDictionary())


def register_backlog(snapshot_provider: SnapshotProvider, *, clock: Clock = _utc_now,
                     registry: CollectorRegistry = REGISTRY) -> BacklogCollector:
    """Register the ledger's snapshot provider; replaces the one registered before."""
    collector = BacklogCollector(snapshot_provider, clock)
    with _backlog_lock:
        previous = _registered_backlog.pop(registry, None)
        if previous is not None:
            registry.unregister(previous)
        registry.register(collector)
        _registered_backlog[registry] = collector
    return collector


#: Every metric name this module exports (as Prometheus exposes them), for dashboards,
#: alert rules and their tests.
METRIC_NAMES = frozenset({
    "po_engine_orders_received_total",
    "po_engine_orders_delivered_total",
    "po_engine_orders_rejected_total",
    "po_engine_orders_invalid_total",
    "po_engine_transmission_attempts_total",
    "po_engine_transmission_outcomes_total",
    "po_engine_send_latency_seconds_bucket",
    "po_engine_send_latency_seconds_count",
    "po_engine_send_latency_seconds_sum",
    "po_engine_ack_latency_seconds_bucket",
    "po_engine_ack_latency_seconds_count",
    "po_engine_ack_latency_seconds_sum",
    "po_engine_issue_to_ack_seconds_bucket",
    "po_engine_issue_to_ack_seconds_count",
    "po_engine_issue_to_ack_seconds_sum",
    "po_engine_circuit_breaker_state",
    "po_engine_destination_consecutive_failures",
    "po_engine_build_info",
    "po_engine_backlog_up",
    "po_engine_ledger_orders",
    "po_engine_orders_at_risk",
    "po_engine_orders_overdue",
    "po_engine_oldest_unacked_age_seconds",
    "po_engine_oldest_unacked_emergency_age_seconds",
    "po_engine_dlq_depth",
})


# -- HTTP: /metrics, /healthz, /readyz -----------------------------------------------------

#: What a readiness check returns: a bool, or component name -> up (e.g. broker, ledger).
Readiness = bool | Mapping[str, bool]
ReadinessCheck = Callable[[], Readiness]


class _ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Scrapes every 15 s would flood stderr; access logging is not wanted here."""


def _http_app(registry: CollectorRegistry,
              check: ReadinessCheck | None) -> Callable[..., Any]:
    metrics_app = make_wsgi_app(registry)

    def respond(start_response: Callable[..., Any], status: str,
                body: dict[str, Any]) -> list[bytes]:
        data = json.dumps(body, sort_keys=True).encode()
        start_response(status, [("Content-Type", "application/json"),
                                ("Content-Length", str(len(data)))])
        return [data]

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        path = environ.get("PATH_INFO", "")
        if path == "/healthz":
            return respond(start_response, "200 OK", {"status": "alive"})
        if path == "/readyz":
            try:
                result = check() if check is not None else True
            except Exception as exc:  # a broken check means not ready, never a crash
                return respond(start_response, "503 Service Unavailable",
                               {"ready": False, "error": type(exc).__name__})
            components = {"engine": result} if isinstance(result, bool) else dict(result)
            ready = all(components.values())
            return respond(start_response, "200 OK" if ready else "503 Service Unavailable",
                           {"ready": ready, "components": components})
        if path in ("/metrics", "/"):
            return metrics_app(environ, start_response)
        return respond(start_response, "404 Not Found", {"error": "not found"})

    return app


@dataclass
class MetricsServer:
    """A running metrics/health HTTP server; `stop` shuts it down and joins its thread."""

    host: str
    port: int
    _server: WSGIServer
    _thread: threading.Thread

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)


def start_http(port: int, registry: CollectorRegistry = REGISTRY,
               readiness_check: ReadinessCheck | None = None, *,
               host: str = "127.0.0.1") -> MetricsServer:
    """Serve /metrics, /healthz and /readyz on a daemon thread; port 0 picks a free port."""
    server = make_server(host, port, _http_app(registry, readiness_check),
                         server_class=_ThreadingWSGIServer, handler_class=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, name="metrics-http", daemon=True)
    thread.start()
    return MetricsServer(host=host, port=server.server_port, _server=server, _thread=thread)
