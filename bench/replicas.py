"""Throughput of 1, 2 and 3 engine replicas sharing one PostgreSQL ledger.

Each run is the real thing end to end: ``engine run`` processes (NIEM rendering, PostgreSQL
ledger in a fresh schema) compete on one quorum intake queue on the local RabbitMQ and send
over HTTP to the DOJ reference receiver (``engine receiver``, another process, validating
every message against the NIEM schema). The queue is filled before the replicas start;
the clock starts when the first order version lands in the ledger and stops when the last
one is ACKED. Every version is checked ACKED and the receiver's journal is checked for
duplicate effects, so a fast wrong run cannot pass as a result.

The figures that matter are the ratios between replica counts (and the CPU each version
costs), not the absolute rates: they depend on the machine and on what else runs on it.
On a 2-core machine, replicas, the receiver, RabbitMQ and PostgreSQL all share the same
two cores, so extra replicas cannot add CPU; see docs/performance-replicas.md.

    python -m bench.replicas --orders 5000 --replicas 1,2,3 [--versions 2] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import pika
import psycopg

from engine.config import AmqpConfig
from engine.intake.amqp import declare_intake_topology
from engine.ledger import Ledger, State, open_database
from engine.receiver.journal import Journal

__all__ = ["run_replicas"]

REPO = Path(__file__).parents[1]
FIXTURES = REPO / "tests" / "fixtures" / "orders"
AMQP_URL = os.environ.get("ENGINE_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/%2F")
DSN = os.environ.get("ENGINE_TEST_PG_DSN", "host=127.0.0.1 port=5432 user=postgres dbname=test")
PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def _bodies(orders: int, versions: int) -> list[bytes]:
    """An entry per order, plus a modify when ``versions`` is 2 (it waits for the entry's
    acknowledgement, so per-order sequencing is part of the measured work)."""
    issue = json.loads((FIXTURES / "dv_tro_issue.json").read_text(encoding="utf-8"))
    # The modified TRO still ends within the 25 days the law allows (Fam. Code 242).
    modify = {**issue, "version": 2, "action": "modify",
              "issued_at": "2026-11-22T10:00:00-08:00", "effective_date": "2026-11-22",
              "expiration_date": "2026-12-16"}
    chain = [issue, modify][:versions]
    return [json.dumps({**v, "order_id": f"BENCH-{n:05d}", "case_number": f"24STRO{n:05d}"})
            .encode() for v in chain for n in range(orders)]


def _cpu_seconds(proc: subprocess.Popen[bytes]) -> float:
    """Stop a child with SIGTERM and return the CPU time (user + system) it used."""
    proc.send_signal(signal.SIGTERM)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return usage.ru_utime + usage.ru_stime


def _spawn(*args: str, **kwargs: Any) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "engine", *args], cwd=REPO,
                            env={**os.environ, "ENGINE_AMQP_URL": AMQP_URL}, **kwargs)


def run_replicas(replicas: int, orders: int, *, versions: int = 1,
                 limit: float = 900.0) -> dict[str, Any]:
    """One measured run with ``replicas`` engine processes; returns its figures."""
    sfx = uuid.uuid4().hex[:12]
    schema = f"bench_rep_{sfx}"
    admin = psycopg.connect(DSN, autocommit=True)
    admin.execute(f'CREATE SCHEMA "{schema}"')
    ledger_url = f"{PG_URL}?options=-csearch_path%3D{schema}"
    amqp = AmqpConfig(url=AMQP_URL, intake_queue=f"bench.replicas.{sfx}",
                      dead_letter_exchange=f"bench.replicas.dlx.{sfx}",
                      dead_letter_queue=f"bench.replicas.dlq.{sfx}")
    work = Path(tempfile.mkdtemp(prefix="bench-replicas-"))
    receiver = _spawn("receiver", "--transport", "http", "--port", "0", "--format", "niem",
                      "--journal", str(work / "journal.db"), "--quiet",
                      stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    procs: list[subprocess.Popen[bytes]] = []
    connection = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
    try:
        assert receiver.stdout is not None
        url = receiver.stdout.readline().decode().split(" on ", 1)[1].split()[0].rstrip(",")
        config = work / "engine.yaml"
        config.write_text(json.dumps({
            "amqp": {"intake_queue": amqp.intake_queue,
                     "dead_letter_exchange": amqp.dead_letter_exchange,
                     "dead_letter_queue": amqp.dead_letter_queue},
            "ledger": {"url": ledger_url},
            "courts": {"*": {"destination": "doj"}},
            "destinations": {"doj": {"transport": "https", "format": "niem",
                                     "settings": {"url": url, "allow_plain_http": True}}},
            "transmitter": {"poll_interval": 0.05},
            "metrics_port": None,
        }), encoding="utf-8")
        Ledger(open_database(ledger_url)).engine.dispose()  # migrated before the clock
        channel = connection.channel()
        declare_intake_topology(channel, amqp)
        channel.confirm_delivery()
        bodies = _bodies(orders, versions)
        for body in bodies:
            channel.basic_publish("", amqp.intake_queue, body,
                                  pika.BasicProperties(delivery_mode=2))
        connection.close()
        ledger = Ledger(open_database(ledger_url))
        procs = [_spawn("run", "--config", str(config), stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL) for _ in range(replicas)]
        deadline = time.monotonic() + limit
        while not ledger.state_counts():
            if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
                raise RuntimeError("the replicas never started recording")
            time.sleep(0.01)
        started = time.perf_counter()
        while ledger.state_counts().get(State.ACKED, 0) < len(bodies):
            if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
                raise RuntimeError(f"not all ACKED: {ledger.state_counts()}")
            time.sleep(0.02)
        elapsed = time.perf_counter() - started
        engine_cpu = sum(_cpu_seconds(p) for p in procs)
        receiver_cpu = _cpu_seconds(receiver)
        journal = Journal(work / "journal.db")
        accepted = len(journal.accepted())
        duplicate_effects = len(journal.duplicate_effects())
        journal.close()
        if accepted != len(bodies) or duplicate_effects:
            raise RuntimeError(f"wrong run: {accepted} accepted of {len(bodies)}, "
                               f"{duplicate_effects} duplicate effects")
        ledger.engine.dispose()
        return {"replicas": replicas, "orders": orders, "versions": len(bodies),
                "seconds": round(elapsed, 2),
                "versions_per_second": round(len(bodies) / elapsed, 1),
                "engine_cpu_ms_per_version": round(1000 * engine_cpu / len(bodies), 2),
                "receiver_cpu_ms_per_version": round(1000 * receiver_cpu / len(bodies), 2),
                "cores": os.cpu_count(),
                # Other work on the machine during the run (1-minute load average at its end).
                "load_average": round(os.getloadavg()[0], 1)}
    finally:
        for proc in [*procs, receiver]:
            if proc.returncode is None and proc.poll() is None:
                proc.kill()
                proc.wait(10)
        if receiver.stdout:
            receiver.stdout.close()
        cleanup = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
        channel = cleanup.channel()
        channel.queue_delete(amqp.intake_queue)
        channel.queue_delete(amqp.dead_letter_queue)
        channel.exchange_delete(amqp.dead_letter_exchange)
        cleanup.close()
        admin.execute(f'DROP SCHEMA "{schema}" CASCADE')
        admin.close()
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=5000)
    parser.add_argument("--replicas", default="1,2,3", help="comma-separated counts")
    parser.add_argument("--versions", type=int, choices=(1, 2), default=1,
                        help="1: an entry per order; 2: entry and modify (sequenced)")
    parser.add_argument("--json", action="store_true", help="one JSON line per run")
    args = parser.parse_args()
    results = []
    for count in (int(c) for c in args.replicas.split(",")):
        result = run_replicas(count, args.orders, versions=args.versions)
        results.append(result)
        if args.json:
            print(json.dumps(result), flush=True)
    if args.json:
        return
    base = results[0]["versions_per_second"]
    print(f"{args.orders} orders, {results[0]['versions']} versions, "
          f"{results[0]['cores']} cores")
    print("| replicas | versions/s | vs first | engine CPU ms/version | "
          "receiver CPU ms/version | load average |")
    print("| --- | --- | --- | --- | --- | --- |")
    for r in results:
        print(f"| {r['replicas']} | {r['versions_per_second']} | "
              f"{r['versions_per_second'] / base:.2f}x | {r['engine_cpu_ms_per_version']} | "
              f"{r['receiver_cpu_ms_per_version']} | {r['load_average']} |")


if __name__ == "__main__":
    main()
