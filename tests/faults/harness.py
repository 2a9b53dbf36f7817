"""The fault suite's rig: the real `engine run` process, real RabbitMQ, a real DOJ endpoint.

A `FaultRun` declares uuid-named intake queues on the shared broker, starts the reference
receiver (`engine.receiver`) on a real loopback socket (HTTP, TCP) or queue (AMQP) in this
process, writes a config with short retry intervals, and runs ``python -m engine run`` as
a subprocess that tests kill, cut off and restart. `order_stream` makes many distinct
orders (issue, modify, cancel versions) from the fixtures.

`FaultRun.check` is the oracle: it compares what was published with what the receiver's
journal accepted and with the ledger, and returns a `Report` (printed as one ``REPORT``
line and appended to ``bench/results/faults-last.json``). Tests assert on it.

Waits are bounded (`WAIT_LIMIT`); they fail when it runs out and assert no timing.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pika
import pika.exceptions

from engine.config import AmqpConfig
from engine.intake.amqp import declare_intake_topology
from engine.ledger import Ledger, open_database
from engine.ledger.states import FINAL_STATES, State
from engine.receiver import (
    AmqpReceiver,
    FaultPlan,
    HttpReceiverServer,
    Journal,
    Receiver,
    ServerTls,
    TcpReceiverServer,
)
from engine.transports.amqp_settings import connection_parameters
from tests import services
from tests.services import require_broker, require_postgres

__all__ = [
    "BROKER_URL",
    "PG_DSN",
    "PG_URL",
    "REPO",
    "RESULTS",
    "WAIT_LIMIT",
    "FaultRun",
    "Published",
    "Report",
    "order_stream",
    "require_broker",
    "require_postgres",
    "wait_until",
]

BROKER_URL = services.AMQP_URL
PG_DSN = services.PG_DSN
PG_URL = "postgresql+psycopg://postgres@127.0.0.1:{port}/test"
REPO = Path(__file__).parents[2]
RESULTS = REPO / "bench" / "results" / "faults-last.json"
FIXTURES = REPO / "tests" / "fixtures" / "orders"
#: Upper bound for any one wait; a healthy run needs a fraction of it.
WAIT_LIMIT = 120.0

#: Short intervals so outages and crashes resolve in seconds, not minutes.
FAST_POLICIES: dict[str, Any] = {
    "retry": {"max_retries": 2, "initial_interval": 0.05, "max_interval": 0.2,
              "max_elapsed": 2.0, "jitter": 0.05},
    "reschedule": {"initial_interval": 0.2, "max_interval": 1.0, "jitter": 0.1},
    "breaker": {"failure_threshold": 5, "reset_timeout": 0.5},
    # A short lease: a killed engine's claims come back quickly; a short ack timeout: a
    # lost or garbled answer is asked for again (same MCN) within seconds.
    "transmitter": {"poll_interval": 0.05, "batch_size": 50, "lease_seconds": 2,
                    "ack_timeout": 3},
}


wait_until = functools.partial(services.wait_until, limit=WAIT_LIMIT)


# -- the stream of orders ----------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Published:
    """One order version as published to the intake queue."""

    order_key: str
    version: int
    action: str
    body: bytes


def _issue_fixtures() -> list[dict[str, Any]]:
    out = []
    for path in sorted(FIXTURES.glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("version") == 1 and data.get("action") == "issue":
            out.append(data)
    assert out, "no issue fixtures found"
    return out


def order_stream(prefix: str, orders: int, *, seed: int = 0) -> list[Published]:
    """``orders`` distinct orders, each an issue, some then a modify, some then a cancel;
    interleaved across orders, each order's versions in sequence."""
    rng = random.Random(seed)
    bases = _issue_fixtures()
    per_order: list[list[Published]] = []
    for i in range(orders):
        base = bases[i % len(bases)]
        order_id = f"{prefix}-{i:04d}"
        key = f"{base['court']['ori']}/{order_id}"
        actions = ["issue", "modify", "cancel"][:rng.choice((1, 2, 2, 3, 3))]
        versions = []
        for version, action in enumerate(actions, start=1):
            body = json.dumps({**base, "order_id": order_id, "version": version,
                               "action": action}).encode()
            versions.append(Published(key, version, action, body))
        per_order.append(versions)
    stream: list[Published] = []
    while per_order:
        pick = rng.randrange(len(per_order))
        stream.append(per_order[pick].pop(0))
        if not per_order[pick]:
            per_order.pop(pick)
    return stream


# -- the report ----------------------------------------------------------------------------

@dataclass
class Report:
    """What the oracle found after one scenario."""

    scenario: str
    orders: int
    versions: int
    crashes: int
    outages: int
    lost: int
    duplicate_effects: int
    duplicates_dropped_by_mcn: int
    out_of_order: int
    not_terminal: int
    states: dict[str, int] = field(default_factory=dict)
    notes: dict[str, Any] = field(default_factory=dict)

    def line(self) -> str:
        return (f"REPORT {self.scenario}: orders published {self.orders} "
                f"({self.versions} versions), crashes injected {self.crashes}, outages "
                f"injected {self.outages}, lost {self.lost}, duplicate effects "
                f"{self.duplicate_effects}, duplicates dropped by MCN "
                f"{self.duplicates_dropped_by_mcn}, out of order {self.out_of_order}, "
                f"not terminal {self.not_terminal}")

    def save(self) -> None:
        """Print the line and append the report to ``bench/results/faults-last.json``."""
        print(self.line())
        REPORT_LINES.append(self.line())
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        try:
            runs = json.loads(RESULTS.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            runs = []
        runs.append({"at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), **asdict(self)})
        RESULTS.write_text(json.dumps(runs, indent=1), encoding="utf-8")


#: Every REPORT line of this pytest session (the conftest prints them at the end).
REPORT_LINES: list[str] = []


# -- the engine process ----------------------------------------------------------------------

class EngineProcess:
    """``python -m engine run`` with its output collected (a pipe, not a file: the disk-full
    scenario limits file sizes, and the secrets test scans the output)."""

    def __init__(self, config: Path, env: dict[str, str],
                 preexec_fn: Callable[[], None] | None = None) -> None:
        self.output: list[str] = []
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "engine", "run", "--config", str(config)], cwd=REPO,
            env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, preexec_fn=preexec_fn)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self._proc.stdout is not None
        with self._proc.stdout:
            for raw in self._proc.stdout:
                self.output.append(raw.decode("utf-8", "replace"))

    @property
    def pid(self) -> int:
        return self._proc.pid

    def alive(self) -> bool:
        return self._proc.poll() is None

    def kill(self) -> None:
        """SIGKILL: no cleanup, no flush, no goodbye."""
        self._proc.send_signal(signal.SIGKILL)
        self._proc.wait(30)
        self._reader.join(10)

    def terminate(self) -> None:
        if self._proc.poll() is None:
            self._proc.send_signal(signal.SIGTERM)
            try:
                self._proc.wait(30)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(10)
        self._reader.join(10)

    def tail(self, lines: int = 30) -> str:
        return "".join(self.output[-lines:])


# -- one scenario's rig --------------------------------------------------------------------

class FaultRun:
    """Queues, receiver, config and engine process for one scenario; `close()` cleans up.

    ``endpoint``: ``http`` or ``tcp`` (the receiver on a loopback socket), ``amqp`` (the
    receiver consuming a DOJ queue on the shared broker). ``broker_url`` is the broker the
    intake queue lives on (default the shared one; the TLS test brings its own node).
    ``engine_amqp_url`` lets a test put a chaos proxy between the engine and the broker;
    ``ledger_url`` a PostgreSQL ledger (``check_ledger_url`` is how the test itself
    reads it, bypassing any proxy).
    """

    def __init__(self, tmp_path: Path, scenario: str, *, endpoint: str = "http",
                 engine_amqp_url: str = BROKER_URL, ledger_url: str | None = None,
                 check_ledger_url: str | None = None, heartbeat: int = 30,
                 read_timeout: float = 2.0, seed: int = 0,
                 extra_config: dict[str, Any] | None = None,
                 broker_url: str = BROKER_URL,
                 https_tls: dict[str, Path | None] | None = None) -> None:
        if broker_url == BROKER_URL:
            require_broker()
        self.tmp = tmp_path
        self.scenario = scenario
        self.suffix = uuid.uuid4().hex[:12]
        self.prefix = f"F{self.suffix[:6].upper()}"
        self.amqp = AmqpConfig(url=broker_url, intake_queue=f"test.faults.{self.suffix}",
                               dead_letter_exchange=f"test.faults.dlx.{self.suffix}",
                               dead_letter_queue=f"test.faults.dlq.{self.suffix}")
        self.engine_amqp_url = engine_amqp_url
        self.ledger_url = ledger_url or f"sqlite:///{tmp_path / 'ledger.db'}"
        self.check_ledger_url = check_ledger_url or self.ledger_url
        self.published: list[Published] = []
        self.crashes = 0
        self.outages = 0
        self.engines: list[EngineProcess] = []
        self._ledger: Ledger | None = None
        self._extra_queues: list[str] = []

        self._connection = pika.BlockingConnection(connection_parameters(broker_url))
        self._channel = self._connection.channel()
        self._channel.confirm_delivery()
        declare_intake_topology(self._channel, self.amqp)

        self.receiver = Receiver(format="niem", journal=Journal(tmp_path / "journal.db"),
                                 faults=FaultPlan(seed=seed))
        self.endpoint = endpoint
        self.server: HttpReceiverServer | TcpReceiverServer | AmqpReceiver
        settings: dict[str, Any]
        if endpoint == "http":
            self.server = HttpReceiverServer(self.receiver).up()
            settings = {"url": self.server.url, "allow_plain_http": True,
                        "connect_timeout": 1.0, "read_timeout": read_timeout}
            transport = "https"
        elif endpoint == "https":
            # Mutual TLS: https_tls names ca, server_cert, server_key, and the engine's
            # client_cert / client_key (None: the engine presents no certificate).
            assert https_tls is not None, "endpoint https needs https_tls"
            server_tls = ServerTls(cert_file=Path(str(https_tls["server_cert"])),
                                   key_file=Path(str(https_tls["server_key"])),
                                   ca_file=Path(str(https_tls["ca"])),
                                   require_client_cert=True)
            self.server = HttpReceiverServer(self.receiver, tls=server_tls).up()
            settings = {"url": self.server.url, "ca_file": str(https_tls["ca"]),
                        "connect_timeout": 1.0, "read_timeout": read_timeout}
            if https_tls.get("client_cert"):
                settings |= {"cert_file": str(https_tls["client_cert"]),
                             "key_file": str(https_tls["client_key"])}
            transport = "https"
        elif endpoint == "tcp":
            self.server = TcpReceiverServer(self.receiver).up()
            settings = {"host": "127.0.0.1", "port": self.server.port,
                        "tls": False, "allow_plaintext": True, "connect_timeout": 1.0,
                        "read_timeout": read_timeout}
            transport = "tcp"
        elif endpoint == "amqp":
            doj, acks = f"test.faults.doj.{self.suffix}", f"test.faults.acks.{self.suffix}"
            self._extra_queues += [doj, f"{doj}.dead", acks]
            self.server = AmqpReceiver(self.receiver, queue=doj, settings=BROKER_URL).up()
            settings = {"url": BROKER_URL, "allow_plaintext": True, "queue": doj,
                        "reply_to": acks}
            transport = "amqp"
        else:
            raise ValueError(f"unknown endpoint {endpoint!r}")

        self.config_path = tmp_path / "engine.yaml"
        config: dict[str, Any] = {
            "amqp": {"intake_queue": self.amqp.intake_queue,
                     "dead_letter_exchange": self.amqp.dead_letter_exchange,
                     "dead_letter_queue": self.amqp.dead_letter_queue,
                     "prefetch": 100, "batch_size": 50, "batch_ms": 20,
                     "heartbeat": heartbeat},
            "ledger": {"url": self.ledger_url},
            "courts": {"*": {"mapping": "canonical", "destination": "doj"}},
            "destinations": {"doj": {"transport": transport, "format": "niem",
                                     "settings": settings}},
            "metrics_port": None,
            **FAST_POLICIES,
            **(extra_config or {}),
        }
        # JSON is YAML; the AMQP URL is not in the file (secrets come from the environment).
        self.config_path.write_text(json.dumps(config, indent=1), encoding="utf-8")

    # -- engine ----------------------------------------------------------------------------

    def start_engine(self, *, env: dict[str, str] | None = None,
                     preexec_fn: Callable[[], None] | None = None) -> EngineProcess:
        full_env = {**os.environ, "ENGINE_AMQP_URL": self.engine_amqp_url, **(env or {})}
        engine = EngineProcess(self.config_path, full_env, preexec_fn)
        self.engines.append(engine)
        return engine

    @property
    def engine(self) -> EngineProcess:
        return self.engines[-1]

    def kill_engine(self) -> None:
        assert self.engine.alive(), "the engine died by itself:\n" + self.engine.tail()
        self.engine.kill()
        self.crashes += 1

    # -- broker ----------------------------------------------------------------------------

    def publish(self, items: Iterable[Published]) -> None:
        """Publish persistent, with publisher confirms, in the given order."""
        for item in items:
            self.publish_raw(item.body)
            self.published.append(item)

    def publish_raw(self, body: bytes, **properties: Any) -> str:
        """Publish one message as it is; returns its message id."""
        message_id = uuid.uuid4().hex
        self._channel.basic_publish(
            "", self.amqp.intake_queue, body,
            pika.BasicProperties(delivery_mode=2, message_id=message_id, **properties),
            mandatory=True)
        return message_id

    def queue_depth(self, queue: str | None = None) -> int:
        name = queue or self.amqp.intake_queue
        return int(self._channel.queue_declare(name, passive=True).method.message_count)

    def queue_totals(self) -> dict[str, int]:
        """Ready and unacknowledged messages of the intake queue (the broker's own count)."""
        out = subprocess.run(["rabbitmqctl", "-q", "list_queues", "name",
                              "messages_ready", "messages_unacknowledged"],
                             capture_output=True, text=True, check=True, timeout=60).stdout
        for line in out.splitlines():
            parts = line.split("\t")
            if parts[0] == self.amqp.intake_queue:
                return {"ready": int(parts[1]), "unacked": int(parts[2])}
        raise AssertionError(f"queue {self.amqp.intake_queue} not listed")

    # -- ledger ----------------------------------------------------------------------------

    def ledger(self) -> Ledger:
        if self._ledger is None:
            self._ledger = Ledger(open_database(self.check_ledger_url))
        return self._ledger

    def versions(self) -> dict[tuple[str, int], dict[str, Any]]:
        """The ledger's rows for this run's orders, by (order key, version)."""
        if self.ledger_url.startswith("sqlite") and not (self.tmp / "ledger.db").exists():
            return {}
        rows = self.ledger().find_versions(limit=1_000_000)
        return {(r["order_key"], r["version"]): r for r in rows
                if self.prefix in r["order_key"] or r["order_key"].startswith("UNKNOWN/")}

    def intake_record(self, message_id: str) -> dict[str, Any] | None:
        """What the ledger recorded for one intake message (outcome, reason), if anything."""
        import sqlalchemy as sa

        from engine.ledger.schema import intake_messages

        with self.ledger().engine.connect() as conn:
            row = conn.execute(sa.select(intake_messages).where(
                intake_messages.c.message_id == message_id)).first()
        return row._asdict() if row else None

    def acked(self) -> int:
        return self.progress().get(State.ACKED, 0)

    def wait_more_acked(self, than: int | None = None, *, by: int = 1) -> int:
        """Wait until at least ``by`` more versions are ACKED than ``than`` (default: now)."""
        start = self.acked() if than is None else than
        wait_until(lambda: self.acked() >= start + by, f"{by} more ACKED versions",
                   describe=lambda: f"ledger {self.progress()}\n{self.engine.tail()}")
        return self.acked()

    def wait_more_recorded(self, *, by: int = 1) -> None:
        """Wait until the intake has recorded ``by`` more versions (it is consuming)."""
        start = sum(self.progress().values())
        wait_until(lambda: sum(self.progress().values()) >= start + by,
                   f"{by} more recorded versions",
                   describe=lambda: f"ledger {self.progress()}\n{self.engine.tail()}")

    def progress(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for row in self.versions().values():
            counts[row["state"]] = counts.get(row["state"], 0) + 1
        return counts

    @staticmethod
    def _held_for_a_person(rows: dict[tuple[str, int], dict[str, Any]]
                           ) -> set[tuple[str, int]]:
        """WAITING versions behind a REJECTED or INVALID earlier version of their order:
        visible (state WAITING, alerted through the earlier one), waiting for a person."""
        stuck = {k for k, r in rows.items() if r["state"] in (State.REJECTED, State.INVALID)}
        return {(key, v) for (key, v), r in rows.items() if r["state"] == State.WAITING
                and any(sk == key and sv < v for sk, sv in stuck)}

    def settled(self) -> bool:
        rows = self.versions()
        held = self._held_for_a_person(rows)
        return (all((p.order_key, p.version) in rows for p in self.published)
                and all(r["state"] in FINAL_STATES or k in held for k, r in rows.items()))

    def wait_settled(self, *, limit: float = WAIT_LIMIT) -> None:
        def done() -> bool:
            assert self.engine.alive(), "the engine died by itself:\n" + self.engine.tail()
            return self.settled() and self.queue_depth() == 0
        wait_until(done, "every published version to reach a final state", limit=limit,
                   describe=lambda: f"ledger {self.progress()}, queue {self.queue_depth()}, "
                                    f"engine output:\n{self.engine.tail()}")

    # -- the oracle ------------------------------------------------------------------------

    def check(self, *, expect_rejected: Sequence[str] = (), save: bool = True,
              **notes: Any) -> Report:
        """Compare published, accepted by the receiver and recorded in the ledger; save the
        report. Orders in ``expect_rejected`` must end REJECTED instead of accepted."""
        rows = self.versions()
        journal = self.receiver.journal
        mine = [e for e in journal.entries() if e.order_key and self.prefix in e.order_key]
        accepted: dict[tuple[str, int], int] = {}
        for entry in mine:
            if entry.outcome == "accepted" and entry.version is not None:
                key = (entry.order_key, entry.version)
                accepted[key] = accepted.get(key, 0) + 1
        expected = [p for p in self.published if p.order_key not in expect_rejected]
        lost = sum(1 for p in expected if (p.order_key, p.version) not in accepted
                   or rows.get((p.order_key, p.version), {}).get("state") != State.ACKED)
        lost += sum(1 for p in self.published if p.order_key in expect_rejected
                    and (p.order_key, p.version) not in rows)
        effects = [k for k in journal.duplicate_effects() if self.prefix in k[0]]
        out_of_order = 0
        for key in {p.order_key for p in self.published}:
            versions = [e.version for e in mine if e.order_key == key
                        and e.outcome == "accepted"]
            out_of_order += versions != sorted(versions)
        held = self._held_for_a_person(rows)
        not_terminal = sum(1 for k, r in rows.items()
                           if r["state"] not in FINAL_STATES and k not in held)
        report = Report(
            scenario=self.scenario, orders=len({p.order_key for p in self.published}),
            versions=len(self.published), crashes=self.crashes, outages=self.outages,
            lost=lost, duplicate_effects=len(effects),
            duplicates_dropped_by_mcn=journal.duplicates, out_of_order=out_of_order,
            not_terminal=not_terminal, states=self.progress(),
            notes={"receiver": journal.stats(),
                   "held_for_a_person": len(held),
                   # Also those of messages the receiver could not read (no order key:
                   # a cut or garbled body), or an unexpected INVALID goes unnamed.
                   "receiver_rejections": [
                       [e.order_key, e.version, e.action, e.code, (e.reason or "")[:120]]
                       for e in journal.entries(outcome="rejected")
                       if not e.order_key or self.prefix in e.order_key],
                   "faults_applied": {str(k): v for k, v in
                                      self.receiver.faults.applied.items()},
                   **notes})
        if save:
            report.save()
        return report

    def assert_clean(self, report: Report) -> None:
        """The acceptance bar: nothing lost, nothing doubled, order kept, nothing hanging."""
        assert (report.lost, report.duplicate_effects, report.out_of_order,
                report.not_terminal) == (0, 0, 0, 0), report.line()

    # -- cleanup ---------------------------------------------------------------------------

    def close(self) -> None:
        for engine in self.engines:
            engine.terminate()
        with contextlib.suppress(Exception):
            self.server.down()
        if self._ledger is not None:
            self._ledger.engine.dispose()
        with contextlib.suppress(pika.exceptions.AMQPError):
            for queue in (self.amqp.intake_queue, self.amqp.dead_letter_queue,
                          *self._extra_queues):
                self._channel.queue_delete(queue)
            self._channel.exchange_delete(self.amqp.dead_letter_exchange)
            if self.endpoint == "amqp":
                self._channel.exchange_delete(f"test.faults.doj.{self.suffix}.dlx")
        with contextlib.suppress(pika.exceptions.AMQPError):
            self._connection.close()
        self.receiver.journal.close()
