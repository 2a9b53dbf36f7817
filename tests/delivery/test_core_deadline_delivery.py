"""Deadline-aware delivery: retries never planned past the due time less a margin, a down
destination probed at a bounded interval, and on recovery everything waiting for it pulled
forward at once, earliest due first (issue #18)."""

from __future__ import annotations

import datetime as dt

import pytest

from engine.acks.correlator import Correlator
from engine.delivery.transmitter import Transmitter
from engine.ledger import State
from engine.receiver.stand_ins import parse_stand_in_ack, stand_in_render
from engine.reliability.breaker import BreakerPolicy, CircuitBreaker
from engine.reliability.retry import RetryPolicy, deadline_capped
from tests.core.core_harness import Core, FakeClock, order_message

#: A long backoff (5 min, up to 15) and a short probe interval (30 s): the case where
#: waiting for the backoff after a recovery costs minutes.
RESCHEDULE = RetryPolicy(max_retries=0, initial_interval=300, max_interval=900, jitter=0)
PROBE = 30.0
MARGIN = dt.timedelta(minutes=5)


def _transmitter(core: Core, *, max_in_flight: int = 200) -> Transmitter:
    correlator = Correlator(core.ledger, {"niem": parse_stand_in_ack}, reschedule=RESCHEDULE)
    return Transmitter(
        core.ledger, transports={"doj": core.receiver.transport()},
        renderers={"niem": stand_in_render}, correlator=correlator,
        retry=RetryPolicy(max_retries=0, initial_interval=0, max_interval=0, jitter=0),
        reschedule=RESCHEDULE,
        breaker=BreakerPolicy(failure_threshold=3, reset_timeout=PROBE),
        clock=core.clock, sleep=core.sleeps.append, batch_size=50,
        max_in_flight=max_in_flight, deadline_margin=MARGIN)


def _issued(core: Core, due_in: dt.timedelta) -> dict[str, str]:
    """issued_at (and a matching effective date) that make the core's due rule (issued +
    1 day) fall ``due_in`` from now."""
    issued = core.clock.now - dt.timedelta(days=1) + due_in
    return {"issued_at": issued.isoformat(), "effective_date": issued.date().isoformat()}


def _rounds(tx: Transmitter, n: int = 10) -> None:
    for _ in range(n):
        if not tx.run_once():
            return


class TestPullForward:
    def test_recovery_sends_all_waiting_at_once_earliest_due_first(self, core: Core) -> None:
        """After an outage, the orders go within one probe interval of the destination
        answering again, not at their scheduled retries (5 min away), earliest due first."""
        tx = _transmitter(core)
        core.receiver.down = True
        dues = [5, 1, 4, 2, 3]  # hours from now, intake order != due order
        core.intake(*(order_message(f"LA-DV-{i}", **_issued(
            core, dt.timedelta(hours=h))) for i, h in enumerate(dues)))
        _rounds(tx)
        assert core.ledger.state_counts() == {"RETRY_SCHEDULED": 5}
        core.receiver.down = False
        core.clock.advance(PROBE + 1)  # one probe interval; every backoff is 300 s or more
        _rounds(tx)
        assert core.ledger.state_counts() == {"ACKED": 5}
        by_due = [f"CA019015J/LA-DV-{i}" for i, _ in sorted(enumerate(dues),
                                                             key=lambda p: p[1])]
        assert [a.order_key for a in core.receiver.arrivals] == by_due

    def test_a_down_destination_is_probed_at_the_probe_interval(self, core: Core) -> None:
        """While it stays down, one send per probe interval tests it (not one per order,
        not one per backoff)."""
        tx = _transmitter(core)
        core.receiver.down = True
        core.intake(*(order_message(f"LA-DV-{i}", **_issued(core, dt.timedelta(hours=5)))
                      for i in range(5)))
        _rounds(tx)
        first = core.receiver.attempts
        for _ in range(4):
            core.clock.advance(PROBE)
            _rounds(tx)
        assert core.receiver.attempts - first == 4

    def test_versions_stay_in_order_and_keep_their_mcn(self, core: Core) -> None:
        """Pull-forward keeps invariants 2 and 4: version 2 goes after version 1 is ACKED,
        and each transmission is retried with the MCN of its first attempt."""
        tx = _transmitter(core)
        core.receiver.down = True
        core.intake(order_message("LA-DV-1"), order_message("LA-DV-1", version=2))
        _rounds(tx)
        mcn_before = {t["version"]: t["mcn"] for t in
                      core.ledger.transmissions_for("CA019015J/LA-DV-1")}
        core.receiver.down = False
        core.clock.advance(PROBE + 1)
        _rounds(tx)
        assert [(a.version, a.mcn) for a in core.receiver.arrivals] == [
            (1, mcn_before[1]), (2, mcn_before[2])]
        assert core.state("CA019015J/LA-DV-1", 2) == State.ACKED

    def test_pull_forward_respects_max_in_flight(self, core: Core) -> None:
        """Bounded concurrency: with asynchronous acks, no more than max_in_flight are SENT
        and unanswered at once while the backlog drains."""
        tx = _transmitter(core, max_in_flight=4)
        core.receiver.down = True
        core.intake(*(order_message(f"LA-DV-{i}") for i in range(10)))
        _rounds(tx)
        core.receiver.down = False
        core.receiver.asynchronous = True
        core.clock.advance(PROBE + 1)
        seen = []
        for _ in range(20):
            tx.run_once()
            seen.append(core.ledger.state_counts().get("SENT", 0))
            for ack in core.receiver.pending_acks:
                tx._correlator.apply_bytes(ack, "niem")
            core.receiver.pending_acks.clear()
        assert core.ledger.state_counts() == {"ACKED": 10}
        assert max(seen) == 4


class TestDeadlineCap:
    def test_no_retry_is_planned_after_due_less_margin(self, core: Core) -> None:
        """An order due in 8 minutes with a 5-minute backoff: its next attempt is planned
        at the latest 5 minutes (the margin) before it is due."""
        tx = _transmitter(core)
        core.receiver.down = True
        core.intake(order_message("LA-DV-1", **_issued(core, dt.timedelta(minutes=8))))
        _rounds(tx)
        [t] = core.ledger.transmissions_for("CA019015J/LA-DV-1")
        due = core.clock.now + dt.timedelta(minutes=8)
        assert t["state"] == State.RETRY_SCHEDULED
        assert _aware(t["next_attempt_at"]) <= due - MARGIN

    def test_past_the_margin_it_is_tried_every_probe_interval(self, core: Core) -> None:
        """Inside the margin (or overdue) the order is tried again within a probe interval."""
        tx = _transmitter(core)
        core.receiver.down = True
        core.intake(order_message("LA-DV-1", **_issued(core, dt.timedelta(minutes=2))))
        _rounds(tx)
        [t] = core.ledger.transmissions_for("CA019015J/LA-DV-1")
        assert _aware(t["next_attempt_at"]) <= core.clock.now + dt.timedelta(seconds=PROBE)

    @pytest.mark.parametrize("due_in, expected", [
        (None, 900), (3600, 900), (900, 600), (360, 60), (200, 30), (-60, 30)])
    def test_deadline_capped(self, due_in: int | None, expected: int) -> None:
        """The cap: the backoff, or due less margin, or the floor once that has passed."""
        now = dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.UTC)
        due = None if due_in is None else now + dt.timedelta(seconds=due_in)
        got = deadline_capped(now, now + dt.timedelta(seconds=900), due_at=due,
                              margin=MARGIN, floor=dt.timedelta(seconds=30))
        assert got == now + dt.timedelta(seconds=expected)


class TestProbe:
    def test_probe_due_after_interval_since_last_failure(self) -> None:
        clock = FakeClock()
        breaker = CircuitBreaker("doj", BreakerPolicy(failure_threshold=5, reset_timeout=30),
                                 clock=clock)
        assert not breaker.probe_due()  # healthy: nothing to probe
        breaker.record_failure()
        assert not breaker.probe_due()
        clock.advance(30)
        assert breaker.probe_due()
        breaker.record_success()
        assert not breaker.probe_due()


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


class TestConfig:
    def test_the_margin_comes_from_the_config(self, tmp_path) -> None:  # type: ignore[no-untyped-def]
        """`transmitter.deadline_margin` (seconds) reaches every destination's transmitter."""
        from engine.config import parse_config
        from engine.receiver.stand_ins import StandInReceiver
        from engine.runner import EngineRunner, Parts

        config = parse_config({
            "ledger": {"url": f"sqlite:///{tmp_path / 'l.db'}"},
            "spool_dir": str(tmp_path / "spool"), "metrics_port": None,
            "courts": {"*": {"destination": "doj"}},
            "destinations": {"doj": {"transport": "mock", "format": "niem"}},
            "transmitter": {"deadline_margin": 120}}, env={})
        assert config.transmitter.deadline_margin == 120.0
        runner = EngineRunner(config, Parts(
            renderers={"niem": stand_in_render}, ack_parsers={"niem": parse_stand_in_ack},
            transport_factory=lambda dest: StandInReceiver().transport()))
        assert [t._deadline_margin for t in runner.transmitters] == [dt.timedelta(minutes=2)]
        runner.ledger.engine.dispose()
