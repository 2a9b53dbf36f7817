"""Fixtures for the core's fast tests (the harness itself is in core_harness.py)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from engine.acks.correlator import Correlator
from engine.delivery.transmitter import Transmitter
from engine.intake.pipeline import Pipeline
from engine.ledger import Ledger, open_database
from engine.receiver.stand_ins import StandInReceiver, parse_stand_in_ack, stand_in_render
from engine.reliability.breaker import BreakerPolicy
from engine.reliability.retry import RetryPolicy
from tests.core.core_harness import Core, FakeClock, core_config


@pytest.fixture
def clock() -> FakeClock:
    """A clock tests move by hand."""
    return FakeClock()


@pytest.fixture
def core(tmp_path: Path, clock: FakeClock) -> Core:
    """The core wired to a SQLite ledger and the stand-in receiver, no real waiting."""
    config = core_config()
    ledger = Ledger(open_database(f"sqlite:///{tmp_path / 'ledger.db'}"), clock=clock)
    receiver = StandInReceiver()
    renderers = {"niem": stand_in_render}
    correlator = Correlator(ledger, {"niem": parse_stand_in_ack},
                            reschedule=RetryPolicy(initial_interval=10, max_interval=60,
                                                   jitter=0))
    sleeps: list[float] = []
    transmitter = Transmitter(
        ledger, transports={"doj": receiver.transport()}, renderers=renderers,
        correlator=correlator,
        retry=RetryPolicy(max_retries=2, initial_interval=0.1, max_interval=1, jitter=0),
        reschedule=RetryPolicy(initial_interval=10, max_interval=60, jitter=0),
        breaker=BreakerPolicy(failure_threshold=3, reset_timeout=30),
        clock=clock, sleep=sleeps.append, ack_timeout=dt.timedelta(minutes=5))
    pipeline = Pipeline.build(config, ledger, renderers=renderers, clock=clock,
                              due_at=lambda order: order.issued_at + dt.timedelta(days=1))
    return Core(clock, config, ledger, receiver, pipeline, correlator, transmitter, sleeps)
