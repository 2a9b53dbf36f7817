"""Beyond one box, acceptance (issue 10): three `engine run` PROCESSES compete on one REAL
RabbitMQ quorum intake queue and share one REAL PostgreSQL ledger; the destination is the
DOJ reference receiver (`engine receiver --transport http`) on a real socket, whose journal
records every arrival in order. One replica is SIGKILLed mid-run.

Checked at the receiver and in the ledger: zero lost (every published version accepted),
zero duplicate effects (no version registered under two MCNs), each order's versions
accepted in sequence (the receiver itself refuses a modify or cancel before its entry), and
every version ACKED.

Size: ``ENGINE_REPLICAS_ORDERS`` orders, default 1,000 (2,000 versions, about 30 s on this
2-core machine), so CI stays within its budget. The acceptance run is 5,000 orders (10,000
versions); it passed here in 4 min 27 s on the same 2 cores while other benchmarks ran
(load average 6), too long to repeat on every CI run::

    ENGINE_REPLICAS_ORDERS=5000 python -m pytest -q -s tests/integration/test_replicas_acceptance.py

Queues and the ledger schema are uuid-named and dropped after; waits are bounded.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pika
import pytest

from engine.intake.amqp import declare_intake_topology
from engine.ledger import Ledger, State, open_database
from engine.receiver.journal import Journal
from tests.services import AMQP_URL, postgres_schema_url, require_broker, stop_process

pytestmark = pytest.mark.integration

REPO = Path(__file__).parents[2]
FIXTURES = REPO / "tests" / "fixtures" / "orders"
ORDERS = int(os.environ.get("ENGINE_REPLICAS_ORDERS", "1000"))
REPLICAS = 3
#: Generous bound for the whole run (10 min for 5,000 orders); the waits end as soon as done.
WAIT_LIMIT = 120.0 + ORDERS * 0.1


def _fixture(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / name).read_text(encoding="utf-8"))
    return data


def order_versions(n: int) -> list[dict[str, Any]]:
    """The versions of test order ``n``: 40% an entry only, 30% entry and modify, 20% entry,
    modify and cancel, 10% entry, serve, extend and terminate."""
    issue = _fixture("dv_tro_issue.json")
    # The modified TRO still ends within the 25 days the law allows (Fam. Code 242).
    modify = {**issue, "version": 2, "action": "modify",
              "issued_at": "2026-11-22T10:00:00-08:00", "effective_date": "2026-11-22",
              "expiration_date": "2026-12-16"}
    cancel = {**_fixture("dv_tro_terminate_v4.json"), "version": 3, "action": "cancel"}
    kind = n % 10
    if kind < 4:
        chain = [issue]
    elif kind < 7:
        chain = [issue, modify]
    elif kind < 9:
        chain = [issue, modify, cancel]
    else:
        chain = [issue] + [_fixture(f) for f in ("dv_tro_serve_v2.json", "dv_tro_extend_v3.json",
                                                  "dv_tro_terminate_v4.json")]
    return [{**v, "order_id": f"REP-{n:05d}", "case_number": f"24STRO{n:05d}"} for v in chain]


def publish_order(n: int) -> list[dict[str, Any]]:
    """Versions in publishing order: every third multi-version order newest first."""
    versions = order_versions(n)
    return versions[::-1] if n % 3 == 0 else versions


def write_config(path: Path, *, sfx: str, ledger_url: str, receiver_url: str) -> None:
    path.write_text(json.dumps({
        "amqp": {"intake_queue": f"test.replicas.intake.{sfx}",
                 "dead_letter_exchange": f"test.replicas.dlx.{sfx}",
                 "dead_letter_queue": f"test.replicas.dlq.{sfx}",
                 "prefetch": 100, "batch_size": 50, "batch_ms": 20},
        "ledger": {"url": ledger_url},
        "courts": {"*": {"destination": "doj"}},
        "destinations": {"doj": {"transport": "https", "format": "niem", "settings": {
            "url": receiver_url, "allow_plain_http": True}}},
        # Short lease and ack timeout: the killed replica's claims come back within seconds.
        "transmitter": {"poll_interval": 0.05, "batch_size": 25, "lease_seconds": 15,
                        "ack_timeout": 20},
        "retry": {"max_retries": 2, "initial_interval": 0.05, "max_interval": 0.2,
                  "max_elapsed": 2, "jitter": 0.05},
        "reschedule": {"initial_interval": 0.5, "max_interval": 2, "jitter": 0.2},
        "metrics_port": None,
    }), encoding="utf-8")


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A ledger URL in a fresh PostgreSQL schema, dropped after."""
    require_broker()
    with postgres_schema_url("replicas") as url:
        yield url


def _engine(*args: str, **kwargs: Any) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "engine", *args], cwd=REPO,
                            env={**os.environ, "ENGINE_AMQP_URL": AMQP_URL}, **kwargs)


def _queue_counts(*queues: str) -> list[int]:
    """Messages waiting in each queue, on a fresh connection (the test's own would have
    missed its heartbeats while it waited)."""
    connection = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
    try:
        channel = connection.channel()
        return [channel.queue_declare(q, passive=True).method.message_count for q in queues]
    finally:
        connection.close()




def test_three_replica_processes_one_killed_lose_nothing_and_register_nothing_twice(
        pg_url: str, tmp_path: Path) -> None:
    """ORDERS orders (about 2 versions each, a third of the multi-version ones published
    newest first) through 3 `engine run` processes, one SIGKILLed mid-run: the receiver
    accepted every version once, each order's versions in sequence, and the ledger holds
    every version ACKED with the intake queue empty."""
    sfx = uuid.uuid4().hex
    journal_path = tmp_path / "journal.db"
    receiver = _engine("receiver", "--transport", "http", "--port", "0", "--format", "niem",
                       "--journal", str(journal_path), "--quiet",
                       stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    replicas: list[subprocess.Popen[bytes]] = []
    ledger: Ledger | None = None
    journal: Journal | None = None
    connection = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
    channel = connection.channel()
    config = tmp_path / "engine.yaml"
    try:
        assert receiver.stdout is not None
        first_line = receiver.stdout.readline().decode()
        # "... on URL, ... (PLAINTEXT ...)": the URL is the word after " on "
        receiver_url = first_line.split(" on ", 1)[1].split()[0].rstrip(",")
        assert receiver_url.startswith("http://127.0.0.1:"), first_line
        write_config(config, sfx=sfx, ledger_url=pg_url, receiver_url=receiver_url)
        from engine.config import load_config

        amqp = load_config(config, env={"ENGINE_AMQP_URL": AMQP_URL}).amqp
        assert amqp is not None
        declare_intake_topology(channel, amqp)
        replicas = [_engine("run", "--config", str(config), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL) for _ in range(REPLICAS)]
        deadline = time.monotonic() + 60
        while channel.queue_declare(amqp.intake_queue, passive=True
                                    ).method.consumer_count < REPLICAS:
            assert all(p.poll() is None for p in replicas), "a replica died while starting"
            assert time.monotonic() < deadline, "the replicas never all consumed the queue"
            time.sleep(0.1)

        expected: dict[str, list[int]] = {}
        messages: list[dict[str, Any]] = []
        for n in range(ORDERS):
            versions = publish_order(n)
            expected[f"CA019015J/REP-{n:05d}"] = sorted(v["version"] for v in versions)
            messages.extend(versions)
        # Orders interleave on the queue; each order keeps the publishing order chosen above.
        rng = random.Random(10)
        queues = [list(publish_order(n)) for n in range(ORDERS)]
        channel.confirm_delivery()
        total = len(messages)
        while queues:
            i = rng.randrange(len(queues))
            channel.basic_publish("", amqp.intake_queue,
                                  json.dumps(queues[i].pop(0)).encode(),
                                  pika.BasicProperties(delivery_mode=2), mandatory=True)
            if not queues[i]:
                queues[i] = queues[-1]
                queues.pop()
        connection.close()

        ledger = Ledger(open_database(pg_url))
        deadline = time.monotonic() + WAIT_LIMIT
        # Kill one replica with about a quarter of the versions ACKED: mid-intake and
        # mid-transmission at once (its prefetched messages and leased claims are in flight).
        while (acked := ledger.state_counts().get(State.ACKED, 0)) < total // 4:
            assert all(p.poll() is None for p in replicas), "a replica died by itself"
            assert time.monotonic() < deadline, f"too slow: {ledger.state_counts()}"
            time.sleep(0.05)
        replicas[0].send_signal(signal.SIGKILL)
        replicas[0].wait(30)
        acked_at_kill = ledger.state_counts().get(State.ACKED, 0)
        assert acked_at_kill < total, "the kill came after the end"
        while (counts := ledger.state_counts()).get(State.ACKED, 0) < total:
            assert all(p.poll() is None for p in replicas[1:]), "a surviving replica died"
            assert time.monotonic() < deadline, f"not all ACKED in time: {counts}"
            time.sleep(0.2)

        assert counts == {State.ACKED: total}, counts
        assert _queue_counts(amqp.intake_queue, amqp.dead_letter_queue) == [0, 0]
        for proc in replicas[1:]:
            stop_process(proc)
        stop_process(receiver)

        journal = Journal(journal_path)
        accepted = journal.entries(outcome="accepted")
        by_order: dict[str, list[int]] = defaultdict(list)
        for entry in accepted:  # arrival order
            assert entry.order_key is not None and entry.version is not None
            by_order[entry.order_key].append(entry.version)
        assert journal.duplicate_effects() == []                         # no double effect
        assert len(accepted) == total                                    # none lost ...
        assert dict(by_order) == expected                                # ... each in order
        assert journal.entries(outcome="rejected") == []
        print(f"\nreplicas acceptance: {ORDERS} orders, {total} versions, replica killed "
              f"at {acked}/{total} ACKED; receiver duplicates answered: {journal.duplicates}")
    finally:
        # Closed on every path: a failed run must not leave a PostgreSQL connection for the
        # garbage collector to find during a later test.
        if journal is not None:
            journal.close()
        if ledger is not None:
            ledger.engine.dispose()
        for proc in [*replicas, receiver]:
            stop_process(proc)
        if receiver.stdout:
            receiver.stdout.close()
        if connection.is_open:
            connection.close()
        cleanup = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
        channel = cleanup.channel()
        channel.queue_delete(f"test.replicas.intake.{sfx}")
        channel.queue_delete(f"test.replicas.dlq.{sfx}")
        channel.exchange_delete(f"test.replicas.dlx.{sfx}")
        cleanup.close()
