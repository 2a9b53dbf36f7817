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
    wait_until,
)

pytestmark = [pytest.mark.integration, pytest.mark.faults]

ORDERS = 100


#: The engine's journal line when a batch could not be committed and went back unacked.
HANDED_BACK = "ledger unavailable; intake batch handed back to the broker"


def _handed_back(run: FaultRun) -> int:
    """How often the running engine has logged a batch it could not commit."""
    return sum(HANDED_BACK in line for line in run.engine.output)


def _accounted(run: FaultRun) -> int:
    """Messages the broker still holds (ready + unacked), plus versions the ledger holds.

    The broker's counts (rabbitmqctl) are statistics refreshed every 5 s: read them only
    when the queue has not changed for longer than that. While the ledger is down its
    count cannot grow, and nothing may be acked."""
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
    """The PostgreSQL link cut mid-stream and the engine SIGKILLed during the cut: every
    message is then either committed or back on the queue (none acked without its commit);
    with the link back and the engine restarted, every version is ACKED once, in order."""
    require_broker()
    options = f"?options=-csearch_path%3D{pg_schema}"
    with ChaosProxy("127.0.0.1", 5432) as proxy:
        run = FaultRun(tmp_path, "ledger postgresql: unreachable 6 s + kill -9 during it",
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
            failed_before = _handed_back(run)
            run.publish(stream[half:])
            wait_until(lambda: _handed_back(run) > failed_before,
                       "the engine to hand back a batch it could not commit", limit=60,
                       describe=run.engine.tail)
            # Kill the engine in the middle of the outage: whatever it had not committed
            # must be back on the queue, so queue + ledger account for every message.
            run.kill_engine()
            published = len(run.published)
            wait_until(lambda: run.queue_depth() + sum(run.progress().values()) == published,
                       "queue + ledger to account for every published message",
                       limit=30, describe=lambda: f"queue {run.queue_depth()}, ledger "
                                                  f"{run.progress()}, published {published}")
            time.sleep(2.0)
            proxy.restore()
            run.start_engine()
            run.wait_settled()
            report = run.check()
            run.assert_clean(report)
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
    run = FaultRun(tmp_path, "ledger sqlite: disk full 8 s")
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
        failed_before = _handed_back(run)
        run.publish(stream[half:])
        # The events that must follow, waited for instead of slept through: the engine tries
        # to commit the second half and hands it back (its journal says so) ...
        wait_until(lambda: _handed_back(run) >= failed_before + 1,
                   "the engine to hand back a batch it could not commit",
                   limit=60, describe=run.engine.tail)
        # ... and the broker's statistics (refreshed every few seconds) show every message
        # either on the queue or in the ledger: one acked without its commit never would.
        wait_until(lambda: _accounted(run) >= len(run.published),
                   "queue + ledger to account for every published message", limit=60,
                   describe=lambda: f"accounted {_accounted(run)} of {len(run.published)}")
        during = [_accounted(run)]
        # The next attempt fails too (the disk is still full); still nothing lost.
        tried = _handed_back(run)
        wait_until(lambda: _handed_back(run) > tried, "the engine's next failed commit",
                   limit=60, describe=run.engine.tail)
        during.append(_accounted(run))
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
