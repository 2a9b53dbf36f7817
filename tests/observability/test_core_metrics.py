"""The core's metrics hooks: each event becomes the right `engine.observability.metrics` call,
with only
order type, destination and outcome as labels."""

from __future__ import annotations

from typing import Any

from engine.observability.core_metrics import MetricsHooks
from tests.core.core_harness import Core, order_message


class FakeMetrics:
    """Stands in for the `engine.observability.metrics` module: records each call."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[Any, ...]]] = []

    def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
        def record(*args: Any, **kwargs: Any) -> None:
            self.calls.append((name, args))
        return record


def attach(core: Core, hooks: MetricsHooks) -> None:
    core.pipeline.hooks = hooks
    core.transmitter._hooks = hooks
    core.correlator._hooks = hooks


class TestMetricsHooks:
    def test_a_delivered_order_is_counted_by_type_and_destination(self, core: Core) -> None:
        """Received, attempted, sent and delivered are counted for the order's type and
        destination."""
        metrics = FakeMetrics()
        attach(core, MetricsHooks(metrics))  # type: ignore[arg-type]
        core.intake(order_message())
        core.drain()
        names = [(name, args[:2]) for name, args in metrics.calls
                 if name != "observe_send_latency"]
        assert names == [("record_received", ("dv_tro",)), ("record_attempt", ("doj",)),
                         ("record_outcome", ("doj", "sent")),
                         ("record_delivered", ("dv_tro", "doj"))]

    def test_invalid_and_rejected_orders_are_counted(self, core: Core) -> None:
        """An unreadable message counts as invalid at decode; a refused one as rejected."""
        from engine.intake.pipeline import IntakeMessage

        metrics = FakeMetrics()
        attach(core, MetricsHooks(metrics))  # type: ignore[arg-type]
        core.receiver.refuse.add("CA019015J/LA-DV-1")
        core.intake(IntakeMessage(b"junk"), order_message())
        core.drain()
        calls = [(name, args) for name, args in metrics.calls]
        assert ("record_invalid", (None, "decode")) in calls
        assert ("record_rejected", ("dv_tro", "doj")) in calls

    def test_labels_never_carry_order_keys_or_mcns(self, core: Core) -> None:
        """No metric call gets an order key, an MCN or a name."""
        metrics = FakeMetrics()
        attach(core, MetricsHooks(metrics))  # type: ignore[arg-type]
        core.intake(order_message())
        core.drain()
        [t] = core.ledger.transmissions_for("CA019015J/LA-DV-1")
        flat = " ".join(str(a) for _, args in metrics.calls for a in args)
        assert "LA-DV-1" not in flat and t["mcn"] not in flat and "Brien" not in flat
