"""Invariant 1 when the ledger cannot commit: PostgreSQL unreachable (the engine's ledger URL
goes through a chaos proxy that is cut, then restored) and SQLite's disk full (the running
engine's file-size limit dropped to zero with prlimit, then raised again). While the ledger
is down nothing is acked to RabbitMQ: every message not committed stays on the queue.
Afterwards everything is delivered, once, in order.
"""

from __future__ import annotations

import resource
import signal
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.faults.chaos_proxy import ChaosProxy
from tests.faults.harness import (
    PG_DSN,
    PG_URL,
    FaultRun,
    order_stream,
    require_broker,
    require_postgres,
)

pytestmark = [pytest.mark.integration, pytest.mark.faults]

ORDERS = 100


def _accounted(run: FaultRun) -> int:
    """Messages the broker still holds (ready + unacked), plus versions the ledger holds.
    Read the broker first: while the ledger is down its count cannot grow meanwhile."""
    queue = run.queue_totals()
    return queue["ready"] + queue["unacked"] + sum(run.progress().values())


@pytest.fixture
def pg_schema() -> Iterator[str]:
    import psycopg

    require_postgres()
    schema = f"faults_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(PG_DSN, autocommit=True) as admin:
        admin.execute(f'CREATE SCHEMA "{schema}"')
    yield schema
    with psycopg.connect(PG_DSN, autocommit=True) as admin:
        admin.execute(f'DROP SCHEMA "{schema}" CASCADE')


def test_postgres_ledger_unreachable_then_back(tmp_path: Path, pg_schema: str) -> None:
    """The PostgreSQL link cut for 6 s mid-stream: meanwhile no message leaves the queue
    without its commit (queue + ledger account for every published one); afterwards every
    version is ACKED once, in order."""
    require_broker()
    options = f"?options=-csearch_path%3D{pg_schema}"
    with ChaosProxy("127.0.0.1", 5432) as proxy:
        run = FaultRun(tmp_path, "ledger postgresql: unreachable 6 s",
                       ledger_url=PG_URL.format(port=proxy.port) + options,
                       check_ledger_url=PG_URL.format(port=5432) + options)
        try:
            stream = order_stream(run.prefix, ORDERS)
            half = len(stream) // 2
            run.publish(stream[:half])
            run.start_engine()
            run.wait_more_acked(by=10)
            proxy.cut()
            run.outages += 1
            run.publish(stream[half:])
            time.sleep(2.0)
            during = [_accounted(run) for _ in range(2)]
            time.sleep(max(0.0, 6.0 - 2.0))
            proxy.restore()
            run.wait_settled()
            report = run.check(accounted_during_outage=during)
            run.assert_clean(report)
            assert all(n >= len(run.published) for n in during), (during, len(run.published))
            assert proxy.resets >= 1, "the ledger link was never cut"
        finally:
            run.close()


def _ignore_sigxfsz() -> None:
    # A write past RLIMIT_FSIZE then fails with EFBIG instead of killing the process.
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)


def test_sqlite_disk_full_then_space_again(tmp_path: Path) -> None:
    """The engine's file-size limit dropped to zero (every ledger write fails: disk full)
    while orders keep arriving: none is acked without its commit; with the limit lifted,
    every version is ACKED once, in order, and the engine never died."""
    run = FaultRun(tmp_path, "ledger sqlite: disk full 6 s")
    try:
        stream = order_stream(run.prefix, ORDERS)
        half = len(stream) // 2
        run.publish(stream[:half])
        engine = run.start_engine(preexec_fn=_ignore_sigxfsz)
        run.wait_more_acked(by=10)
        _, hard = resource.prlimit(engine.pid, resource.RLIMIT_FSIZE)
        resource.prlimit(engine.pid, resource.RLIMIT_FSIZE, (0, hard))
        run.outages += 1
        recorded = sum(run.progress().values())
        run.publish(stream[half:])
        time.sleep(2.0)
        during = [_accounted(run) for _ in range(2)]
        time.sleep(max(0.0, 6.0 - 2.0))
        # Nothing of the second half could be committed, so none of it was acked.
        assert sum(run.progress().values()) == recorded
        resource.prlimit(engine.pid, resource.RLIMIT_FSIZE, (hard, hard))
        run.wait_settled()
        report = run.check(accounted_during_outage=during)
        run.assert_clean(report)
        assert all(n >= len(run.published) for n in during), (during, len(run.published))
        assert len(run.engines) == 1 and engine.alive()
    finally:
        run.close()
