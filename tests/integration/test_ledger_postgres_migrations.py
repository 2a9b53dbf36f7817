"""Replicas started together against a fresh PostgreSQL ledger all come up: the second one's
migration waits for the first one's (an advisory lock) instead of racing it to create the
same tables and dying on a duplicate key. Real PostgreSQL, a fresh schema per test.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import psycopg
import pytest
import sqlalchemy as sa

from engine.ledger import create_database_engine, open_database, upgrade
from engine.ledger.db import HEAD_REVISION
from tests.services import PG_DSN, postgres_schema_url

pytestmark = pytest.mark.integration

WAIT_LIMIT = 60.0


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A ledger URL in a fresh, empty schema of the test database, dropped after."""
    with postgres_schema_url("ledger_mig") as url:
        yield url


def test_a_second_replica_migrating_at_the_same_time_waits_and_then_starts(pg_url: str) -> None:
    """Replica A holds its migration open (tables created, not committed) until replica B is
    seen blocked behind it; then A commits and B's `open_database` succeeds at the head
    revision (without the lock B fails with a duplicate-key error)."""
    first = create_database_engine(pg_url)
    a_pid: list[int] = []
    a_ready = threading.Event()
    b_blocked = threading.Event()

    @sa.event.listens_for(first, "commit")
    def hold_until_b_waits(conn: sa.Connection) -> None:
        a_pid.append(conn.connection.dbapi_connection.info.backend_pid)  # type: ignore[union-attr]
        a_ready.set()
        with psycopg.connect(PG_DSN, autocommit=True) as admin:
            deadline = time.monotonic() + WAIT_LIMIT
            while time.monotonic() < deadline:
                row = admin.execute("SELECT count(*) FROM pg_stat_activity "
                                    "WHERE %s = ANY(pg_blocking_pids(pid))",
                                    (a_pid[0],)).fetchone()
                if row and row[0] > 0:
                    b_blocked.set()
                    return
                time.sleep(0.02)

    errors: dict[str, BaseException] = {}

    def run(name: str, job: object) -> None:
        try:
            job()  # type: ignore[operator]
        except BaseException as exc:  # reported by the assertion below
            errors[name] = exc

    thread_a = threading.Thread(target=run, args=("A", lambda: upgrade(first)))
    thread_a.start()
    assert a_ready.wait(WAIT_LIMIT), "replica A never reached its commit"
    second: list[sa.Engine] = []
    thread_b = threading.Thread(target=run, args=("B", lambda: second.append(
        open_database(pg_url))))
    thread_b.start()
    thread_a.join(WAIT_LIMIT)
    thread_b.join(WAIT_LIMIT)
    try:
        assert b_blocked.is_set(), "replica B never waited behind replica A"
        assert errors == {}
        with second[0].connect() as conn:
            assert conn.execute(sa.text("SELECT version_num FROM alembic_version")
                                ).scalar_one() == HEAD_REVISION
    finally:
        first.dispose()
        for engine in second:
            engine.dispose()
