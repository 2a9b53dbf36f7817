"""Hooks: metrics and alerts see every intake, send, ack and breaker change; a failing hook
never stops an order."""

from __future__ import annotations

from engine.observability.hooks import EngineHooks
from tests.core.core_harness import Core, order_message


class Recorder(EngineHooks):
    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []

    def after_intake(self, result, order_type) -> None:  # type: ignore[no-untyped-def]
        self.events.append(("intake", f"{result.outcome}:{order_type}"))

    def after_send(self, claim, outcome, seconds) -> None:  # type: ignore[no-untyped-def]
        self.events.append(("send", outcome))

    def after_ack(self, result) -> None:  # type: ignore[no-untyped-def]
        self.events.append(("ack", str(result.kind)))

    def breaker_changed(self, destination, state, failures) -> None:  # type: ignore[no-untyped-def]
        self.events.append(("breaker", f"{state}:{failures}"))


class Exploding(EngineHooks):
    def after_intake(self, result, order_type) -> None:  # type: ignore[no-untyped-def]
        raise RuntimeError("metrics bug")

    def after_send(self, claim, outcome, seconds) -> None:  # type: ignore[no-untyped-def]
        raise RuntimeError("metrics bug")


def attach(core: Core, hooks: EngineHooks) -> None:
    core.pipeline.hooks = hooks
    core.transmitter._hooks = hooks
    core.correlator._hooks = hooks


class TestHooks:
    def test_hooks_see_the_whole_life_of_an_order(self, core: Core) -> None:
        """Intake, a failed send (breaker counts it), a retry that succeeds, and the ack."""
        recorder = Recorder()
        attach(core, recorder)
        core.receiver.fail_next = 3  # all three in-process tries of the first claim fail
        core.intake(order_message())
        core.drain(rounds=5, step=60)
        assert recorder.events == [
            ("intake", "new:dv_tro"), ("breaker", "closed:1"), ("send", "retry"),
            ("breaker", "closed:0"), ("send", "sent"), ("ack", "accepted")]

    def test_a_failing_hook_does_not_stop_the_order(self, core: Core) -> None:
        """Hooks that raise are logged; the order is still recorded, sent and ACKED."""
        attach(core, Exploding())
        core.intake(order_message())
        core.drain()
        assert core.state("CA019015J/LA-DV-1", 1) == "ACKED"
