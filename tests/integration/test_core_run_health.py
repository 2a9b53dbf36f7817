"""`engine run` serves /healthz, /readyz and /metrics: readiness names the broker and the
ledger, and the DLQ gauge counts real dead letters."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pika
import pytest

pytestmark = pytest.mark.integration

REPO = Path(__file__).parents[2]
AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/%2F"
WAIT_LIMIT = 60.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - loopback
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()
    except urllib.error.URLError:  # not listening yet
        return 0, ""


def _wait_for(predicate, what: str, engine: subprocess.Popen) -> None:
    deadline = time.monotonic() + WAIT_LIMIT
    while not predicate():
        assert engine.poll() is None, engine.stderr.read().decode()[-2000:]
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.2)


def _gauge(text: str, name: str) -> float | None:
    for line in text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return float(line.rsplit(" ", 1)[1])
    return None


def test_health_readiness_and_dlq_depth_over_amqp(tmp_path: Path) -> None:
    """With AMQP intake: /healthz is 200, /readyz is 200 with broker and ledger up, and a
    message dead-lettered on the engine's DLQ shows in po_engine_dlq_depth."""
    tag = uuid.uuid4().hex[:10]
    port = _free_port()
    intake, dlx, dlq = f"health.intake.{tag}", f"health.dlx.{tag}", f"health.dlq.{tag}"
    config = tmp_path / "engine.yaml"
    config.write_text(json.dumps({
        "amqp": {"intake_queue": intake, "dead_letter_exchange": dlx,
                 "dead_letter_queue": dlq},
        "ledger": {"url": f"sqlite:///{tmp_path / 'ledger.db'}"},
        "metrics_port": port,
    }), encoding="utf-8")
    engine = subprocess.Popen(
        [sys.executable, "-m", "engine", "run", "--config", str(config)], cwd=REPO,
        env={**os.environ, "ENGINE_AMQP_URL": AMQP_URL},
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_for(lambda: _get(base + "/readyz")[0] == 200, "readiness", engine)
        assert _get(base + "/healthz")[0] == 200
        ready = json.loads(_get(base + "/readyz")[1])
        assert ready["components"] == {"broker": True, "ledger": True}

        connection = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
        channel = connection.channel()
        channel.confirm_delivery()
        channel.basic_publish(dlx, intake, b"poison", pika.BasicProperties(delivery_mode=2))
        connection.close()
        _wait_for(lambda: _gauge(_get(base + "/metrics")[1], "po_engine_dlq_depth") == 1.0,
                  "the DLQ gauge to count the dead letter", engine)
    finally:
        if engine.poll() is None:
            engine.terminate()
            engine.wait(30)
        engine.stderr.close()
        connection = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
        channel = connection.channel()
        for queue in (intake, dlq):
            channel.queue_delete(queue)
        channel.exchange_delete(dlx)
        connection.close()
