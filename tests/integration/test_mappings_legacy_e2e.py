"""A court's legacy record export through the running engine, on both intakes.

`engine run` as a real process, configured in its engine.yaml with the Tulare court's
mapping (`courts.CA054015J.mapping: tulare-pipe-records`), delivers through the file
transport to `engine receiver` (the DOJ reference receiver) as another process:

- AMQP (the REAL broker): the export published with ``x-court-ori: CA054015J`` ends ACKED;
  a truncated export is recorded INVALID and lands in the dead-letter queue with the
  mapping's reason (line and rule).
- Spool: the same files dropped in ``incoming/CA054015J/`` end ACKED, and in ``invalid/``
  with a ``.reason`` file.

Queues are uuid-named and deleted after; every wait is bounded.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pika
import pytest

from engine.config import AmqpConfig, EngineConfig
from engine.intake.dead_letters import list_dead_letters
from engine.ledger import Ledger, open_database
from tests.services import AMQP_URL, require_broker, stop_process

pytestmark = pytest.mark.integration

REPO = Path(__file__).parents[2]
CASES = REPO / "config" / "mappings" / "tulare-pipe-records" / "tests"
GOOD = CASES / "ch_tro_issue_not_served.input.txt"
TRUNCATED = CASES / "truncated_file.input.txt"
ORDER_KEY = "CA054015J/TUL-CH-0933-1"
WAIT_LIMIT = 60.0


def _config(tmp_path: Path, amqp: dict[str, str] | None) -> Path:
    config = tmp_path / "engine.yaml"
    config.write_text(json.dumps({
        **({"amqp": amqp} if amqp else {}),
        "ledger": {"url": f"sqlite:///{tmp_path / 'ledger.db'}"},
        "spool_dir": str(tmp_path / "spool"),
        "mappings_dir": str(REPO / "config" / "mappings"),
        "courts": {"CA054015J": {"mapping": "tulare-pipe-records", "destination": "doj"}},
        "destinations": {"doj": {"transport": "file", "format": "niem", "settings": {
            "outbox": str(tmp_path / "outbox"), "inbox": str(tmp_path / "inbox")}}},
        "transmitter": {"poll_interval": 0.1},
        "metrics_port": None,
        # AMQP: the mapping runs in a prepare worker process, as in production; spool: in
        # the engine process. Both paths load the court's mapping by name.
        "prepare_workers": 1 if amqp else 0,
    }), encoding="utf-8")
    return config


@pytest.fixture
def receiver(tmp_path: Path) -> Iterator[None]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "engine", "receiver", "--transport", "file", "--format", "niem",
         "--pickup", str(tmp_path / "outbox"), "--acks", str(tmp_path / "inbox"), "--quiet"],
        cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    yield
    stop_process(proc)


def _engine(config: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "engine", "run", "--config", str(config)],
                            cwd=REPO, env={**os.environ, **env},
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _wait_for(condition, what: str, engine: subprocess.Popen[bytes]) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + WAIT_LIMIT
    while not condition():
        if engine.poll() is not None:
            assert engine.stderr is not None
            pytest.fail(f"engine exited: {engine.stderr.read().decode()[-2000:]}")
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.1)


def _state(ledger: Ledger, key: str) -> str | None:
    try:
        history = ledger.history(key)
    except LookupError:
        return None
    if not history or not history.get("versions"):
        return None
    return str(history["versions"][0]["state"])


def _invalid_count(ledger: Ledger) -> int:
    return int(ledger.state_counts().get("INVALID", 0))


def test_legacy_export_over_amqp_ends_acked_and_a_broken_one_is_dead_lettered(
        tmp_path: Path, receiver: None) -> None:
    """Published with the court's ORI header, the pipe-delimited export is mapped, sent and
    ACKED; the truncated export is INVALID and in the DLQ with line and rule."""
    require_broker(AMQP_URL)
    tag = uuid.uuid4().hex[:12]
    queues = {"intake_queue": f"test.i17.intake.{tag}",
              "dead_letter_exchange": f"test.i17.dlx.{tag}",
              "dead_letter_queue": f"test.i17.dlq.{tag}"}
    engine = _engine(_config(tmp_path, queues), {"ENGINE_AMQP_URL": AMQP_URL})
    try:
        _wait_for(lambda: _queue_exists(queues["intake_queue"]), "the intake queue", engine)
        ledger = Ledger(open_database(f"sqlite:///{tmp_path / 'ledger.db'}"))
        connection = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
        channel = connection.channel()
        channel.confirm_delivery()
        for body, message_id in ((GOOD.read_bytes(), "tulare-good"),
                                 (TRUNCATED.read_bytes(), "tulare-truncated")):
            channel.basic_publish("", queues["intake_queue"], body, pika.BasicProperties(
                delivery_mode=2, message_id=message_id, content_type="text/plain",
                headers={"x-court-ori": "CA054015J"}), mandatory=True)
        connection.close()
        _wait_for(lambda: _state(ledger, ORDER_KEY) == "ACKED", "the order to be ACKED",
                  engine)
        _wait_for(lambda: _invalid_count(ledger) == 1, "the broken file recorded", engine)
        dlq_config = EngineConfig(amqp=AmqpConfig(url=AMQP_URL, **queues))
        _wait_for(lambda: len(list_dead_letters(dlq_config)) == 1, "the dead letter", engine)
        [dead] = list_dead_letters(dlq_config)
        assert dead["id"] == "tulare-truncated"
        assert dead["size"] == len(TRUNCATED.read_bytes())
        assert "line 7: the file must end with a TRL record" in dead["reason"]
        assert "(rule source.structure.last)" in dead["reason"]
        history = ledger.history(ORDER_KEY)
        assert history["doj_record_id"]
    finally:
        stop_process(engine)
        if engine.stderr:
            engine.stderr.close()
        connection = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
        channel = connection.channel()
        for queue in (queues["intake_queue"], queues["dead_letter_queue"]):
            channel.queue_delete(queue)
        channel.exchange_delete(queues["dead_letter_exchange"])
        connection.close()


def _queue_exists(name: str) -> bool:
    connection = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
    try:
        connection.channel().queue_declare(name, passive=True)
        return True
    except pika.exceptions.ChannelClosedByBroker:
        return False
    finally:
        if connection.is_open:
            connection.close()


def test_legacy_export_in_the_court_spool_folder_ends_acked(tmp_path: Path,
                                                            receiver: None) -> None:
    """Dropped in incoming/CA054015J/, the export is ACKED and the truncated one lands in
    invalid/ with a reason naming the line and rule."""
    engine = _engine(_config(tmp_path, None), {"ENGINE_AMQP_URL": ""})
    try:
        incoming = tmp_path / "spool" / "incoming"
        _wait_for(incoming.is_dir, "the spool intake", engine)
        ledger = Ledger(open_database(f"sqlite:///{tmp_path / 'ledger.db'}"))
        court = incoming / "CA054015J"
        court.mkdir()
        for source, name in ((GOOD, "order-0933.txt"), (TRUNCATED, "order-0417.txt")):
            (court / f".{name}").write_bytes(source.read_bytes())
            (court / f".{name}").rename(court / name)
        _wait_for(lambda: _state(ledger, ORDER_KEY) == "ACKED", "the order to be ACKED",
                  engine)
        # Files are filed away under generated names (the spool never trusts a file name).
        invalid, done = tmp_path / "spool" / "invalid", tmp_path / "spool" / "done"
        _wait_for(lambda: any(invalid.glob("*.reason")), "the refused file in invalid/",
                  engine)
        [reason] = invalid.glob("*.reason")
        text = reason.read_text(encoding="utf-8")
        assert "line 7: the file must end with a TRL record" in text
        assert len(list(done.iterdir())) == 1  # the good export, filed as done
    finally:
        stop_process(engine)
        if engine.stderr:
            engine.stderr.close()
