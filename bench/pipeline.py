"""The engine end to end against the bare relay, on the same broker, in the same run.

Run from the repository root (``make bench`` runs the default):

    python bench/pipeline.py [--count 20000] [--mode throughput|steady|backlog]
                                             [--ledger-url URL] [--rate 200 --seconds 30]

What one run does (docs/performance.md explains the method and the last figures):

1. **Baseline**: `bench/relay_baseline.py` moves the same N order bodies from one durable
   quorum queue to another (manual acks, publisher confirms, no work), timed.
2. **Engine** (``throughput``, the default, and ``backlog``): the N canonical orders are
   queued on the engine's intake queue *before* the engine starts (the shape of a backlog
   after an outage); then ``engine run`` is started as a subprocess (its own RSS) with the
   reference receiver (``engine receiver --transport amqp``) as another. Half the courts
   go to a NIEM destination and half to a CLETS one (both AMQP, one DOJ queue, one ack
   queue each), so both renderers and validators run. The run ends when every order
   version is ACKED in the ledger.
   ``steady`` publishes at ``--rate`` orders/s for ``--seconds`` into a running engine and
   reports latency under that load.
3. **Stage costs**: each stage timed on its own in this process (µs per order), over the
   same orders, after the engine has stopped.

Throughput is the ledger's window: first intake commit to last acknowledgement recorded.
Latency is per order version: its intake commit (``order_versions.received_at``) to the
broker's confirm of the DOJ publish (``transmissions.last_attempt_at``, set right after);
in ``steady`` mode also from the moment this script published the court message.
Peak RSS is ``VmHWM`` of the engine process plus that of each of its prepare workers, and
CPU is theirs together. The machine is shared: compare ratios, and
see ``load_average`` in the results. JSON results go to ``bench/results/`` and stdout.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import datetime as dt
import hashlib
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import pika  # noqa: E402
import sqlalchemy as sa  # noqa: E402

from bench.relay_baseline import fill as relay_fill  # noqa: E402
from bench.relay_baseline import run_relay  # noqa: E402
from engine.config import AmqpConfig  # noqa: E402
from engine.intake.amqp import declare_intake_topology  # noqa: E402
from engine.ledger.schema import acknowledgements, order_versions, transmissions  # noqa: E402

DEFAULT_URL = "amqp://guest:guest@127.0.0.1:5672/%2F"
FIXTURES = ROOT / "tests" / "fixtures" / "orders"
RESULTS = ROOT / "bench" / "results"
#: Seconds without progress before a run is declared stuck.
STALL_LIMIT = 120.0

# -- orders -----------------------------------------------------------------------------------


def issue_templates() -> list[dict[str, Any]]:
    """The canonical fixtures that open an order (version 1, action issue)."""
    out = []
    for path in sorted(FIXTURES.glob("*.json")):
        data = json.loads(path.read_bytes())
        if data.get("action") == "issue" and data.get("version") == 1:
            out.append(data)
    return out


def split_courts(templates: list[dict[str, Any]]) -> dict[str, str]:
    """Court ORI -> "niem" or "clets", balancing the number of orders each way."""
    weight: dict[str, int] = {}
    for t in templates:
        weight[t["court"]["ori"]] = weight.get(t["court"]["ori"], 0) + 1
    load = {"niem": 0, "clets": 0}
    out: dict[str, str] = {}
    for ori in sorted(weight, key=lambda o: (-weight[o], o)):
        fmt = min(load, key=lambda f: (load[f], f))
        out[ori] = fmt
        load[fmt] += weight[ori]
    return out


def order_bodies(count: int, tag: str, templates: list[dict[str, Any]]
                 ) -> Iterator[tuple[str, bytes]]:
    """(order key, canonical JSON) for ``count`` distinct orders, generated as needed."""
    for i in range(count):
        data = copy.deepcopy(templates[i % len(templates)])
        data["order_id"] = f"BENCH-{tag}-{i:07d}"
        yield f"{data['court']['ori']}/{data['order_id']}", json.dumps(data).encode()


# -- broker helpers ---------------------------------------------------------------------------


def _channel(url: str) -> tuple[pika.BlockingConnection, Any]:
    conn = pika.BlockingConnection(pika.URLParameters(url))
    return conn, conn.channel()


def queue_depth(url: str, queue: str) -> tuple[int, int]:
    """(messages ready, consumers) of an existing queue."""
    conn, ch = _channel(url)
    try:
        ok = ch.queue_declare(queue, passive=True).method
        return ok.message_count, ok.consumer_count
    finally:
        conn.close()


def publish(url: str, queue: str, bodies: Iterator[tuple[str, bytes]], *,
            rate: float | None = None, sent_at: dict[str, float] | None = None) -> int:
    """Publish persistent messages to ``queue``; paced to ``rate``/s when given.

    Unpaced publishes go without confirms for speed; the caller waits for the queue depth.
    Paced ones (steady load) are confirmed, like a court CMS would.
    """
    conn, ch = _channel(url)
    if rate:
        ch.confirm_delivery()
    props = pika.BasicProperties(delivery_mode=2, content_type="application/json")
    n = 0
    start = time.perf_counter()
    for key, body in bodies:
        if rate:
            due = start + n / rate
            delay = due - time.perf_counter()
            if delay > 0:
                conn.sleep(delay)
        if sent_at is not None:
            sent_at[key] = time.time()
        ch.basic_publish("", queue, body, props)
        n += 1
        if not rate and n % 5000 == 0:
            conn.process_data_events(0)
    conn.close()
    return n


def wait_depth(url: str, queue: str, count: int, limit: float = 300.0) -> None:
    deadline = time.monotonic() + limit
    while queue_depth(url, queue)[0] < count:
        if time.monotonic() > deadline:
            raise RuntimeError(f"queue {queue} never reached {count} messages")
        time.sleep(0.2)


def delete_queues(url: str, queues: list[str], exchanges: list[str] = ()) -> None:  # type: ignore[assignment]
    with contextlib.suppress(Exception):
        conn, ch = _channel(url)
        for q in queues:
            with contextlib.suppress(Exception):
                ch.queue_delete(q)
        for x in exchanges:
            with contextlib.suppress(Exception):
                ch.exchange_delete(x)
        conn.close()


# -- processes --------------------------------------------------------------------------------


def proc_status(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (peak) of a process, in kB."""
    out = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(value.split()[0])
    except OSError:
        pass
    return out


def proc_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds the process has used."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def process_tree(pid: int) -> list[int]:
    """The process and its descendants (the engine's prepare workers)."""
    out, todo = [], [pid]
    while todo:
        current = todo.pop()
        out.append(current)
        with contextlib.suppress(OSError):
            for task in Path(f"/proc/{current}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
    return out


def tree_status(pid: int, key: str) -> int:
    """``key`` (VmRSS or VmHWM, kB) summed over the process and its workers: for VmHWM a
    sum of peaks, which is at least the peak of the sum."""
    return sum(proc_status(p).get(key, 0) for p in process_tree(pid))


def tree_cpu_seconds(pid: int) -> float:
    return sum(proc_cpu_seconds(p) for p in process_tree(pid))


def engine_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "engine", *args]


def stop_process(proc: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


# -- the ledger, read from outside ------------------------------------------------------------


class LedgerProbe:
    """Reads the engine's ledger without taking write locks (plain SQLAlchemy engine)."""

    def __init__(self, url: str) -> None:
        self.engine = sa.create_engine(url)

    def counts(self) -> dict[str, int]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(order_versions.c.state, sa.func.count())
                                .group_by(order_versions.c.state)).all()
        return {r[0]: int(r[1]) for r in rows}

    def timings(self) -> dict[str, Any]:
        """Intake-commit and publish times per order version, and the run's window."""
        v, t = order_versions.c, transmissions.c
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(v.order_key, v.received_at, t.last_attempt_at)
                                .join_from(order_versions, transmissions,
                                           t.version_id == v.id)).all()
            last_ack = conn.execute(sa.select(sa.func.max(acknowledgements.c.received_at))
                                    ).scalar_one()
        received = {r.order_key: _ts(r.received_at) for r in rows}
        published = {r.order_key: _ts(r.last_attempt_at) for r in rows
                     if r.last_attempt_at is not None}
        return {"received": received, "published": published,
                "first_intake": min(received.values()) if received else None,
                "last_publish": max(published.values()) if published else None,
                "last_ack": _ts(last_ack) if last_ack is not None else None}

    def close(self) -> None:
        self.engine.dispose()


def _ts(value: Any) -> float:
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return float(value.timestamp())


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


@contextlib.contextmanager
def ledger_database(url: str | None, workdir: Path, tag: str) -> Iterator[str]:
    """A fresh ledger: SQLite in ``workdir``, or a new schema in the PostgreSQL database."""
    if url is None or url.startswith("sqlite"):
        yield url or f"sqlite:///{workdir / 'ledger.db'}"
        return
    schema = f"bench_{tag}"
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in url else "?"
    try:
        yield f"{url}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


# -- one engine run ---------------------------------------------------------------------------


def engine_config(*, tag: str, ledger_url: str, courts: dict[str, str],
                  tuning: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    names = {
        "intake": f"bench.intake.{tag}", "dlx": f"bench.intake.dlx.{tag}",
        "dlq": f"bench.intake.dlq.{tag}", "doj": f"bench.doj.{tag}",
        "acks_niem": f"bench.acks.niem.{tag}", "acks_clets": f"bench.acks.clets.{tag}",
    }

    def destination(fmt: str) -> dict[str, Any]:
        return {"transport": "amqp", "format": fmt, "settings": {
            "url": DEFAULT_URL, "allow_plaintext": True, "queue": names["doj"],
            "reply_to": names[f"acks_{fmt}"],
            "declare_queue": True}}

    config = {
        "amqp": {"intake_queue": names["intake"], "dead_letter_exchange": names["dlx"],
                 "dead_letter_queue": names["dlq"], **tuning.get("amqp", {})},
        "ledger": {"url": ledger_url},
        "courts": {ori: {"destination": f"doj-{fmt}"} for ori, fmt in courts.items()},
        "destinations": {"doj-niem": destination("niem"), "doj-clets": destination("clets")},
        "transmitter": {"poll_interval": 0.05, **tuning.get("transmitter", {})},
        "metrics_port": None,
    }
    return config, names


class EngineRun:
    """The reference receiver and ``engine run`` as subprocesses, around one ledger."""

    def __init__(self, url: str, workdir: Path, tag: str, ledger_url: str,
                 courts: dict[str, str], tuning: dict[str, Any]) -> None:
        self.url = url
        self.workdir = workdir
        self.config, self.names = engine_config(tag=tag, ledger_url=ledger_url, courts=courts,
                                                tuning=tuning)
        self.config_path = workdir / "engine.json"
        self.config_path.write_text(json.dumps(self.config, indent=2))
        self.ledger_url = ledger_url
        self.engine: subprocess.Popen[bytes] | None = None
        self.receiver: subprocess.Popen[bytes] | None = None
        self.rss_samples: list[int] = []
        self.started_at = 0.0

    def declare_intake(self) -> None:
        conn, ch = _channel(self.url)
        amqp = self.config["amqp"]
        declare_intake_topology(ch, AmqpConfig(
            url=self.url, intake_queue=amqp["intake_queue"],
            dead_letter_exchange=amqp["dead_letter_exchange"],
            dead_letter_queue=amqp["dead_letter_queue"],
            **{k: v for k, v in amqp.items() if k == "delivery_limit"}))
        for q in (self.names["acks_niem"], self.names["acks_clets"]):
            ch.queue_declare(q, durable=True, arguments={"x-queue-type": "quorum"})
        conn.close()

    def start_receiver(self) -> None:
        log = open(self.workdir / "receiver.log", "wb")  # noqa: SIM115 - closed with the process
        self.receiver = subprocess.Popen(engine_cmd(
            "receiver", "--transport", "amqp", "--queue",
            self.names["doj"], "--quiet", "--json"), cwd=ROOT, stdout=subprocess.PIPE,
            stderr=log, env={**os.environ, "ENGINE_RECEIVER_AMQP_URL": self.url})
        self._wait_consumer(self.names["doj"], self.receiver, "receiver")

    def start_engine(self) -> None:
        env = {**os.environ, "ENGINE_AMQP_URL": self.url}
        log = open(self.workdir / "engine.log", "wb")  # noqa: SIM115 - closed with the process
        self.started_at = time.time()
        self.engine = subprocess.Popen(engine_cmd(
            "run", "--config", str(self.config_path), "--log-level", "WARNING"), cwd=ROOT,
            env=env, stdout=subprocess.DEVNULL, stderr=log)

    def wait_engine_consuming(self) -> None:
        assert self.engine is not None
        self._wait_consumer(self.config["amqp"]["intake_queue"], self.engine, "engine")

    def _wait_consumer(self, queue: str, proc: subprocess.Popen[bytes], what: str) -> None:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"{what} exited with {proc.returncode}; see "
                                   f"{self.workdir}/{what}.log")
            with contextlib.suppress(Exception):
                if queue_depth(self.url, queue)[1] > 0:
                    return
            if time.monotonic() > deadline:
                raise RuntimeError(f"{what} never consumed {queue}")
            time.sleep(0.1)

    def sample_rss(self) -> None:
        if self.engine is not None:
            rss = tree_status(self.engine.pid, "VmRSS")
            if rss:
                self.rss_samples.append(rss)

    def wait_all_acked(self, probe: LedgerProbe, count: int) -> dict[str, int]:
        """Poll the ledger until ``count`` versions are ACKED (or final otherwise)."""
        assert self.engine is not None
        last_progress, last_done = time.monotonic(), -1
        counts: dict[str, int] = {}
        while True:
            self.sample_rss()
            if self.engine.poll() is not None:
                raise RuntimeError(f"engine exited with {self.engine.returncode}; see "
                                   f"{self.workdir}/engine.log")
            # Until the engine has migrated the ledger there are no tables to read.
            with contextlib.suppress(sa.exc.OperationalError, sa.exc.ProgrammingError):
                counts = probe.counts()
                final = sum(counts.get(s, 0) for s in ("ACKED", "REJECTED", "INVALID"))
                if final >= count:
                    return counts
                if final != last_done:
                    last_done, last_progress = final, time.monotonic()
            if time.monotonic() - last_progress > STALL_LIMIT:
                raise RuntimeError(f"no progress for {STALL_LIMIT:.0f} s: {counts}")
            time.sleep(0.25)

    def peak_rss_kb(self) -> int:
        assert self.engine is not None
        return tree_status(self.engine.pid, "VmHWM")

    def stop(self) -> dict[str, Any]:
        totals: dict[str, Any] = {}
        if self.engine is not None:
            stop_process(self.engine)
        if self.receiver is not None:
            stop_process(self.receiver)
            out = self.receiver.stdout.read().decode() if self.receiver.stdout else ""
            for line in reversed(out.splitlines()):
                with contextlib.suppress(ValueError):
                    totals = json.loads(line)
                    break
            if self.receiver.stdout:
                self.receiver.stdout.close()
        return totals

    def cleanup(self) -> None:
        n = self.names
        delete_queues(self.url, [n["intake"], n["dlq"], n["doj"], f"{n['doj']}.dead",
                                 n["acks_niem"], n["acks_clets"]],
                      [n["dlx"], f"{n['doj']}.dlx"])


def run_engine(args: argparse.Namespace, *, count: int, mode: str, tag: str,
               workdir: Path) -> dict[str, Any]:
    """One engine run (throughput/backlog: queued first; steady: paced) -> results."""
    templates = issue_templates()
    courts = split_courts(templates)
    tuning = json.loads(args.tuning) if args.tuning else {}
    with ledger_database(args.ledger_url, workdir, tag) as ledger_url:
        run = EngineRun(args.url, workdir, tag, ledger_url, courts, tuning)
        probe: LedgerProbe | None = None
        try:
            run.declare_intake()
            run.start_receiver()
            sent_at: dict[str, float] | None = None
            load_before = os.getloadavg()
            if mode == "steady":
                run.start_engine()
                run.wait_engine_consuming()
                sent_at = {}
                count = int(args.rate * args.seconds)
                t0 = time.perf_counter()
                publish(args.url, run.names["intake"], order_bodies(count, tag, templates),
                        rate=args.rate, sent_at=sent_at)
                publish_seconds = time.perf_counter() - t0
            else:
                t0 = time.perf_counter()
                publish(args.url, run.names["intake"], order_bodies(count, tag, templates))
                wait_depth(args.url, run.names["intake"], count)
                fill_seconds = time.perf_counter() - t0
                run.start_engine()
            cpu_start = 0.0
            probe = LedgerProbe(ledger_url)
            counts = run.wait_all_acked(probe, count)
            drained_at = time.time()
            assert run.engine is not None
            cpu = tree_cpu_seconds(run.engine.pid) - cpu_start
            workers = len(process_tree(run.engine.pid)) - 1
            peak_kb = run.peak_rss_kb()
            load_after = os.getloadavg()
            timings = probe.timings()
        finally:
            receiver_totals = run.stop()
            if probe is not None:
                probe.close()
            run.cleanup()
    received, published = timings["received"], timings["published"]
    lat_ms = [(published[k] - received[k]) * 1000 for k in published if k in received]
    window = timings["last_ack"] - timings["first_intake"]
    result: dict[str, Any] = {
        "mode": mode, "orders": count, "states": counts,
        "formats": {fmt: sum(1 for i in range(count)
                             if courts[templates[i % len(templates)]["court"]["ori"]] == fmt)
                    for fmt in ("niem", "clets")},
        "engine_orders_per_second": count / window if window > 0 else None,
        "window_seconds": window,
        "publish_window_seconds": timings["last_publish"] - timings["first_intake"],
        "drain_seconds_from_engine_start": drained_at - run.started_at,
        "intake_to_publish_ms": {"p50": percentile(lat_ms, 50), "p99": percentile(lat_ms, 99),
                                 "max": max(lat_ms) if lat_ms else None},
        "peak_rss_mb": peak_kb / 1024,
        "rss_samples_mb": {"first": run.rss_samples[0] / 1024 if run.rss_samples else None,
                           "median": (statistics.median(run.rss_samples) / 1024
                                      if run.rss_samples else None)},
        "engine_cpu_seconds": cpu,
        "engine_worker_processes": workers,
        "engine_cpu_us_per_order": cpu / count * 1e6,
        "receiver": receiver_totals,
        "load_average": {"before": load_before, "after": load_after},
        "ledger": "postgresql" if ledger_url.startswith("postgresql") else "sqlite",
        "tuning": tuning,
    }
    if mode == "steady":
        assert sent_at is not None
        e2e = [(published[k] - sent_at[k]) * 1000 for k in published if k in sent_at]
        result["rate"] = args.rate
        result["publish_seconds"] = publish_seconds
        result["court_publish_to_doj_publish_ms"] = {
            "p50": percentile(e2e, 50), "p99": percentile(e2e, 99), "max": max(e2e)}
    else:
        result["fill_seconds"] = fill_seconds
    return result


# -- baseline ---------------------------------------------------------------------------------


def run_baseline(args: argparse.Namespace, count: int, tag: str) -> dict[str, Any]:
    templates = issue_templates()
    source, target = f"bench.relay.in.{tag}", f"bench.relay.out.{tag}"
    try:
        relay_fill(args.url, source, [b for _, b in order_bodies(count, tag, templates)])
        cpu = time.process_time()
        result = run_relay(args.url, source, target, count)
        # CPU per message: a figure the other processes on a shared machine disturb less.
        result["cpu_us_per_message"] = (time.process_time() - cpu) / count * 1e6
        return result
    finally:
        delete_queues(args.url, [source, target])


# -- stage costs ------------------------------------------------------------------------------


def _per_order_us(func: Callable[[], Any], n: int) -> float:
    start = time.perf_counter()
    func()
    return (time.perf_counter() - start) / n * 1e6


def stage_costs(url: str, n: int, tag: str, workdir: Path) -> dict[str, float]:
    """µs per order for each stage, measured alone in this process over ``n`` orders."""
    from lxml import etree

    from engine.canonical import decode_order, order_from_dict
    from engine.clets import render_clets, validate_clets
    from engine.formats import RenderContext
    from engine.intake.pipeline import canonical_json
    from engine.law.checks import check_order
    from engine.ledger import IntakeRecord, open_ledger
    from engine.model import Action
    from engine.niem.render import build_message
    from engine.niem.schema import message_schema
    from engine.transports.amqp_publish import ConfirmingPublisher, OutgoingMessage

    templates = issue_templates()
    bodies = [b for _, b in order_bodies(n, tag, templates)]
    out: dict[str, float] = {}
    orders: list[Any] = []
    out["decode"] = _per_order_us(lambda: orders.extend(decode_order(b) for b in bodies), n)
    out["check"] = _per_order_us(lambda: [check_order(o) for o in orders], n)
    now = dt.datetime.now(dt.UTC)

    def ctx(o: Any) -> RenderContext:
        return RenderContext("TRIAL0000000", now,
                             None if o.action is Action.ISSUE else "H000000000")

    trees: list[Any] = []
    out["render_niem_build"] = _per_order_us(
        lambda: trees.extend(build_message(o, ctx(o)) for o in orders), n)
    schema = message_schema()
    out["validate_niem"] = _per_order_us(lambda: [schema.errors(t) for t in trees], n)
    out["serialize_niem"] = _per_order_us(lambda: [etree.tostring(
        t, xml_declaration=True, encoding="UTF-8", pretty_print=True) for t in trees], n)
    texts: list[bytes] = []
    total_clets = _per_order_us(
        lambda: texts.extend(render_clets(o, ctx(o)).body for o in orders), n)
    out["validate_clets"] = _per_order_us(
        lambda: [validate_clets(t, o.action) for t, o in zip(texts, orders, strict=True)], n)
    out["render_clets_build"] = max(0.0, total_clets - out["validate_clets"])
    records: list[Any] = []

    def prepare() -> None:
        for b, o in zip(bodies, orders, strict=True):
            text = canonical_json(o)
            records.append(IntakeRecord(
                raw_hash=hashlib.sha256(b).hexdigest(), order_key=o.key, version=o.version,
                court_ori=o.court.ori, case_number=o.case_number,
                order_type=o.order_type.value, action=o.action.value,
                content_hash=hashlib.sha256(text.encode()).hexdigest(), canonical_json=text,
                destination="doj", format="niem", issued_at=o.issued_at))

    out["canonical_json_and_hashes"] = _per_order_us(prepare, n)
    out["transmit_decode_stored_order"] = _per_order_us(lambda: [order_from_dict(json.loads(
        r.canonical_json)) for r in records], n)
    ledger = open_ledger(f"sqlite:///{workdir / 'stages.db'}")
    probe = open_ledger(f"sqlite:///{workdir / 'intake.db'}")
    out["ledger_intake_commit_batch100"] = _per_order_us(
        lambda: [probe.record_intake(records[i:i + 100]) for i in range(0, n, 100)], n)
    probe.engine.dispose()
    claims: list[Any] = []

    def claim() -> None:
        while batch := ledger.claim_due("bench", limit=50, lease=dt.timedelta(minutes=2)):
            claims.extend(batch)
            for c in batch:
                ledger.store_prepared(c, "bench", body=b"x", content_type="text/plain",
                                      prepared_at=now)
                ledger.mark_sent(c, "bench")

    half = n // 2
    first, second = records[:half], records[half:]
    ledger.record_intake([])

    def claim_batched() -> None:
        while batch := ledger.claim_due("bench", limit=50, lease=dt.timedelta(minutes=2)):
            claims.extend(batch)
            ledger.store_prepared_many([(c, b"x", "text/plain", now, ()) for c in batch],
                                       "bench")
            ledger.mark_sent_many(batch, "bench")

    # One by one (the path a failing destination takes) on the first half, batched (the
    # engine's path for AMQP) on the second.
    for i in range(0, len(first), 100):
        ledger.record_intake(first[i:i + 100])
    out["ledger_claim_store_mark_sent_each"] = _per_order_us(claim, len(first))
    out["ledger_ack_commit_each"] = _per_order_us(lambda: [ledger.record_acknowledgement(
        mcn=c.mcn, accepted=True, record_id="H000000001") for c in claims], len(claims))
    for i in range(0, len(second), 100):
        ledger.record_intake(second[i:i + 100])
    claims.clear()
    out["ledger_claim_store_mark_sent_batch50"] = _per_order_us(claim_batched, len(second))
    out["ledger_ack_commit_batch100"] = _per_order_us(lambda: [ledger.record_acknowledgements(
        [{"mcn": c.mcn, "accepted": True, "record_id": "H000000001"}
         for c in claims[i:i + 100]]) for i in range(0, len(claims), 100)], len(claims))
    ledger.engine.dispose()
    queue = f"bench.stage.{tag}"
    publisher = ConfirmingPublisher(url)
    try:
        publisher.channel.queue_declare(queue, durable=True,
                                        arguments={"x-queue-type": "quorum"})
        payload = bodies[0]
        out["publish_confirmed_each"] = _per_order_us(lambda: [publisher.publish(
            routing_key=queue, body=payload, message_id=str(i)) for i in range(n)], n)
        publish_many = getattr(publisher, "publish_many", None)
        if publish_many is not None:
            def pipelined() -> None:
                for i in range(0, n, 50):
                    publish_many([OutgoingMessage(routing_key=queue, body=payload,
                                                  message_id=str(j))
                                  for j in range(i, min(n, i + 50))])
            out["publish_confirmed_batch50"] = _per_order_us(pipelined, n)
    finally:
        with contextlib.suppress(Exception):
            publisher.channel.queue_delete(queue)
        publisher.close()
    return out


# -- main -------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=["throughput", "steady", "backlog"],
                        default="throughput")
    parser.add_argument("--count", type=int, default=None,
                        help="orders (default 20,000; backlog 100,000)")
    parser.add_argument("--url", default=DEFAULT_URL, help="RabbitMQ URL")
    parser.add_argument("--ledger-url", default=None,
                        help="ledger (default a fresh SQLite file; a postgresql+psycopg:// URL "
                             "gets a fresh schema, dropped after)")
    parser.add_argument("--rate", type=float, default=200.0, help="steady: orders per second")
    parser.add_argument("--seconds", type=float, default=30.0, help="steady: how long")
    parser.add_argument("--no-baseline", action="store_true",
                        help="skip the relay baseline (steady mode skips it anyway)")
    parser.add_argument("--no-stages", action="store_true", help="skip the stage costs")
    parser.add_argument("--stage-count", type=int, default=2000)
    parser.add_argument("--tuning", default=None,
                        help='JSON merged into the engine config, e.g. \'{"amqp": '
                             '{"prefetch": 400, "batch_size": 200}}\'')
    args = parser.parse_args(argv)
    count = args.count or (100_000 if args.mode == "backlog" else 20_000)
    if args.mode == "steady":
        count = int(args.rate * args.seconds)
    tag = uuid.uuid4().hex[:10]
    result: dict[str, Any] = {
        "benchmark": "pipeline", "mode": args.mode,
        "started": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(), "cpus": os.cpu_count(),
        "load_average_at_start": os.getloadavg(),
    }
    with tempfile.TemporaryDirectory(prefix="bench-pipeline-") as tmp:
        workdir = Path(tmp)
        if args.mode != "steady" and not args.no_baseline:
            print(f"baseline: bare relay, {count} messages ...", file=sys.stderr)
            result["baseline"] = run_baseline(args, count, tag)
            print(f"  {result['baseline']['per_second']:.0f} msg/s", file=sys.stderr)
        print(f"engine: {args.mode}, {count} orders ...", file=sys.stderr)
        try:
            result["engine"] = run_engine(args, count=count, mode=args.mode, tag=tag,
                                          workdir=workdir)
        except RuntimeError:
            for name in ("engine.log", "receiver.log"):
                with contextlib.suppress(OSError):
                    print(f"--- {name} (tail)\n" + (workdir / name).read_text()[-3000:],
                          file=sys.stderr)
            raise
        if "baseline" in result and result["engine"]["engine_orders_per_second"]:
            result["ratio_engine_to_baseline"] = (result["engine"]["engine_orders_per_second"]
                                                  / result["baseline"]["per_second"])
        RESULTS.mkdir(parents=True, exist_ok=True)
        path = RESULTS / f"pipeline-{args.mode}-{result['started'].replace(':', '')}.json"
        path.write_text(json.dumps(result, indent=2))  # kept even if the stages fail
        if not args.no_stages:
            print("stage costs ...", file=sys.stderr)
            result["stage_us_per_order"] = stage_costs(args.url, args.stage_count, tag, workdir)
    result["load_average_at_end"] = os.getloadavg()
    path.write_text(json.dumps(result, indent=2))
    print_summary(result)
    print(json.dumps(result, indent=2))
    print(f"written: {path.relative_to(ROOT)}", file=sys.stderr)
    return 0


def print_summary(r: dict[str, Any]) -> None:
    e = r["engine"]
    lines = [f"mode {r['mode']}: {e['orders']} orders "
             f"({e['formats']['niem']} NIEM, {e['formats']['clets']} CLETS), "
             f"ledger {e['ledger']}, load average {r['load_average_at_start'][0]:.2f}"]
    if "baseline" in r:
        lines.append(f"bare relay        {r['baseline']['per_second']:8.0f} msg/s")
    if e["engine_orders_per_second"]:
        lines.append(f"engine            {e['engine_orders_per_second']:8.0f} orders/s "
                     f"(intake to last ack {e['window_seconds']:.1f} s)")
    if "ratio_engine_to_baseline" in r:
        lines.append(f"ratio engine/relay {r['ratio_engine_to_baseline']:7.2f}")
    lat = e["intake_to_publish_ms"]
    lines.append(f"intake->publish   p50 {lat['p50']:.1f} ms  p99 {lat['p99']:.1f} ms")
    if "court_publish_to_doj_publish_ms" in e:
        c = e["court_publish_to_doj_publish_ms"]
        lines.append(f"court->DOJ publish p50 {c['p50']:.1f} ms  p99 {c['p99']:.1f} ms "
                     f"at {e['rate']:.0f}/s")
    if "baseline" in r:
        lines.append(f"CPU per order: engine {e['engine_cpu_us_per_order']:.0f} us, relay "
                     f"{r['baseline']['cpu_us_per_message']:.0f} us per message")
    lines.append(f"drain from engine start {e['drain_seconds_from_engine_start']:.1f} s; "
                 f"peak RSS {e['peak_rss_mb']:.0f} MB; engine CPU {e['engine_cpu_seconds']:.0f} s")
    for stage, us in r.get("stage_us_per_order", {}).items():
        lines.append(f"  {stage:<32}{us:9.1f} us/order")
    print("\n".join(lines), file=sys.stderr)


if __name__ == "__main__":
    raise SystemExit(main())
