"""Invariant 1 and 4 under a real crash: `engine run` (AMQP intake on the REAL RabbitMQ,
file transport to `engine receiver`) is killed with SIGKILL mid-stream and started again.
Every order ends ACKED exactly once at the receiver: nothing lost, nothing registered twice.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pika
import pytest

from engine.config import AmqpConfig
from engine.intake.amqp import declare_intake_topology
from engine.ledger import Ledger, open_database
from engine.receiver.journal import Journal
from tests.services import AMQP_URL, require_broker, stop_process

pytestmark = pytest.mark.integration

URL = AMQP_URL
REPO = Path(__file__).parents[2]
FIXTURE = REPO / "tests" / "fixtures" / "orders" / "epo_issue.json"
ORDERS = 300
WAIT_LIMIT = 90.0


def _engine(config: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "engine", "run", "--config", str(config)],
                            cwd=REPO, env={**os.environ, "ENGINE_AMQP_URL": URL},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def test_sigkill_mid_stream_loses_nothing_and_registers_nothing_twice(tmp_path: Path) -> None:
    """300 orders on the intake queue; the engine is SIGKILLed mid-intake, restarted, killed
    again mid-transmission, restarted: all 300 end ACKED, the receiver accepted each order
    exactly once, and the intake queue is empty."""
    require_broker(URL)
    sfx = uuid.uuid4().hex
    amqp = AmqpConfig(url=URL, intake_queue=f"test.core.crash.{sfx}",
                      dead_letter_exchange=f"test.core.crash.dlx.{sfx}",
                      dead_letter_queue=f"test.core.crash.dlq.{sfx}")
    config = tmp_path / "engine.yaml"
    config.write_text(json.dumps({
        "amqp": {"intake_queue": amqp.intake_queue,
                 "dead_letter_exchange": amqp.dead_letter_exchange,
                 "dead_letter_queue": amqp.dead_letter_queue,
                 "prefetch": 50, "batch_size": 25, "batch_ms": 20},
        "ledger": {"url": f"sqlite:///{tmp_path / 'ledger.db'}"},
        "courts": {"*": {"destination": "doj"}},
        "destinations": {"doj": {"transport": "file", "format": "niem", "settings": {
            "outbox": str(tmp_path / "outbox"), "inbox": str(tmp_path / "inbox")}}},
        # A short lease: the killed engine's claims expire quickly for the restarted one.
        "transmitter": {"poll_interval": 0.05, "ack_timeout": 5, "lease_seconds": 3},
        "metrics_port": None,
    }), encoding="utf-8")
    connection = pika.BlockingConnection(pika.URLParameters(URL))
    channel = connection.channel()
    declare_intake_topology(channel, amqp)
    channel.confirm_delivery()
    base = json.loads(FIXTURE.read_text(encoding="utf-8"))
    for i in range(ORDERS):
        channel.basic_publish("", amqp.intake_queue,
                              json.dumps({**base, "order_id": f"CRASH-{i:03d}"}).encode(),
                              pika.BasicProperties(delivery_mode=2), mandatory=True)
    journal_path = tmp_path / "journal.db"
    receiver = subprocess.Popen(
        [sys.executable, "-m", "engine", "receiver", "--transport", "file", "--format", "niem",
         "--pickup", str(tmp_path / "outbox"), "--acks", str(tmp_path / "inbox"),
         "--journal", str(journal_path), "--quiet"],
        cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    engine = _engine(config)
    ledger_url = f"sqlite:///{tmp_path / 'ledger.db'}"

    def counts() -> dict[str, int]:
        if not (tmp_path / "ledger.db").exists():
            return {}
        return Ledger(open_database(ledger_url)).state_counts()

    def kill_when(ready: Callable[[dict[str, int]], bool], what: str) -> dict[str, int]:
        deadline = time.monotonic() + WAIT_LIMIT
        while not ready(now := counts()):
            assert engine.poll() is None, "the engine died by itself"
            assert time.monotonic() < deadline, f"never reached: {what} ({now})"
            time.sleep(0.02)
        engine.send_signal(signal.SIGKILL)
        engine.wait(30)
        return counts()

    try:
        # 1. mid-intake: some orders recorded, others still unacked on the queue
        at_kill = kill_when(lambda c: sum(c.values()) >= 25, "25 orders recorded")
        assert sum(at_kill.values()) < ORDERS, "the first kill came too late"
        engine = _engine(config)
        # 2. mid-transmission: some ACKED, others claimed, sent or waiting
        at_kill = kill_when(lambda c: c.get("ACKED", 0) >= 5, "5 orders ACKED")
        assert at_kill.get("ACKED", 0) < ORDERS, "the second kill came too late"
        engine = _engine(config)
        ledger = Ledger(open_database(ledger_url))
        deadline = time.monotonic() + WAIT_LIMIT
        while ledger.state_counts().get("ACKED", 0) < ORDERS:
            assert engine.poll() is None, "the restarted engine died"
            assert time.monotonic() < deadline, f"not all ACKED: {ledger.state_counts()}"
            time.sleep(0.1)
        assert ledger.state_counts() == {"ACKED": ORDERS}
        accepted = Journal(journal_path).entries(outcome="accepted")
        assert len(accepted) == ORDERS == len({e.order_key for e in accepted})
        assert channel.queue_declare(amqp.intake_queue, passive=True).method.message_count == 0
    finally:
        for proc in (engine, receiver):
            stop_process(proc)
        channel.queue_delete(amqp.intake_queue)
        channel.queue_delete(amqp.dead_letter_queue)
        channel.exchange_delete(amqp.dead_letter_exchange)
        connection.close()
