"""Errors pika lets out unwrapped while connecting, a TLS handshake failure (``ssl.SSLError``)
or a socket reset during connect (``ValueError``), are retried with backoff, not the end of
the intake or ack-consumer thread (found by the fault suite: the engine stopped when the
broker's certificate did not verify, and when the chaos proxy reset a link mid-connect)."""

from __future__ import annotations

import ssl
import threading

import pytest

from engine.acks import consumers as ack_intake
from engine.config import AmqpConfig
from engine.intake import amqp as intake_amqp
from engine.reliability.retry import RetryPolicy

FAST = RetryPolicy(max_retries=0, initial_interval=0.001, max_interval=0.001,
                   max_elapsed=1.0, jitter=0)


ERRORS = [ssl.SSLCertVerificationError("certificate verify failed"),
          ValueError("Expected connected socket, but getpeername() failed")]


def _failing_connections(monkeypatch: pytest.MonkeyPatch, module, stop: threading.Event,
                         attempts: list[int], error: Exception) -> None:
    def connect(_params):  # type: ignore[no-untyped-def]
        attempts.append(1)
        if len(attempts) >= 3:
            stop.set()
        raise error
    monkeypatch.setattr(module.pika, "BlockingConnection", connect)


@pytest.mark.parametrize("error", ERRORS, ids=lambda e: type(e).__name__)
def test_intake_retries_after_unwrapped_connect_errors(monkeypatch, error) -> None:
    """The intake keeps trying to connect after each such failure."""
    stop, attempts = threading.Event(), []
    monkeypatch.setattr(intake_amqp, "RECONNECT", FAST)
    _failing_connections(monkeypatch, intake_amqp, stop, attempts, error)
    intake = intake_amqp.AmqpIntake(AmqpConfig(url="amqps://u:p@localhost:5671/%2F"),
                                    pipeline=None)  # type: ignore[arg-type]
    intake.run(stop)  # returns when stopped; must not raise
    assert len(attempts) == 3


@pytest.mark.parametrize("error", ERRORS, ids=lambda e: type(e).__name__)
def test_ack_consumer_retries_after_unwrapped_connect_errors(monkeypatch, error) -> None:
    """The ack consumer keeps trying to connect after each such failure."""
    stop, attempts = threading.Event(), []
    monkeypatch.setattr(ack_intake, "_RECONNECT", FAST)
    _failing_connections(monkeypatch, ack_intake, stop, attempts, error)
    consumer = ack_intake.AmqpAckConsumer(url="amqps://u:p@localhost:5671/%2F", queue="q",
                                          fmt="niem", correlator=None)  # type: ignore[arg-type]
    consumer.run(stop)
    assert len(attempts) == 3
