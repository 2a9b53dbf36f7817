"""The ledger and transmitter on the REAL PostgreSQL: the same code as SQLite, plus
``FOR UPDATE SKIP LOCKED`` so several engine replicas share the work without double sends.

Each test runs in its own schema (uuid-suffixed, via ``search_path``), dropped after.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Iterator

import psycopg
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from engine.acks.correlator import Correlator
from engine.delivery.transmitter import Transmitter
from engine.intake.pipeline import Pipeline
from engine.ledger import Ledger, State, open_database
from engine.ledger.schema import metadata
from engine.receiver.stand_ins import StandInReceiver, parse_stand_in_ack, stand_in_render
from engine.reliability.retry import RetryPolicy
from tests.core.core_harness import core_config, order_message
from tests.services import PG_DSN, postgres_schema_url

pytestmark = pytest.mark.integration


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A ledger URL in a fresh, empty schema of the test database, dropped after."""
    with postgres_schema_url("core") as url:
        yield url


@pytest.fixture
def pg_ledger(pg_url: str) -> Iterator[Ledger]:
    """A migrated ledger on PostgreSQL."""
    ledger = Ledger(open_database(pg_url))
    yield ledger
    ledger.engine.dispose()


class TestSchema:
    def test_migrations_build_the_declared_tables_on_postgres(self, pg_ledger: Ledger) -> None:
        """Alembic finds no difference between the migrated PostgreSQL schema and the
        declared tables."""
        with pg_ledger.engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), metadata)
        assert diff == []


class TestSequencingOnPostgres:
    def test_out_of_order_versions_go_out_in_order(self, pg_ledger: Ledger) -> None:
        """Modify then entry recorded; the transmitter sends the entry, then the modify
        with the entry's record id."""
        receiver = StandInReceiver()
        correlator = Correlator(pg_ledger, {"niem": parse_stand_in_ack})
        tx = Transmitter(pg_ledger, transports={"doj": receiver.transport()},
                         renderers={"niem": stand_in_render}, correlator=correlator)
        pipeline = Pipeline.build(core_config(), pg_ledger, renderers={"niem": stand_in_render})
        pipeline.run([order_message("PG-1", 2)])
        pipeline.run([order_message("PG-1", 1)])
        while tx.run_once():
            pass
        assert [(a.version, a.record_id) for a in receiver.arrivals] == [
            (1, None), (2, "H000000001")]
        assert pg_ledger.state_counts() == {"ACKED": 2}


class TestReplicas:
    def test_two_replicas_never_send_the_same_transmission(self, pg_ledger: Ledger,
                                                           pg_url: str) -> None:
        """Two transmitters (separate connection pools, as two replicas) drain 300 orders:
        every MCN is sent exactly once and every order ends ACKED."""
        pipeline = Pipeline.build(core_config(), pg_ledger, renderers={"niem": stand_in_render})
        for start in range(0, 300, 100):
            pipeline.run([order_message(f"REP-{i:03d}") for i in range(start, start + 100)])
        receiver = StandInReceiver()
        transports = []
        replicas = []
        for n in range(2):
            ledger = Ledger(open_database(pg_url))
            transport = receiver.transport()
            transports.append(transport)
            replicas.append(Transmitter(
                ledger, transports={"doj": transport}, renderers={"niem": stand_in_render},
                correlator=Correlator(ledger, {"niem": parse_stand_in_ack}),
                batch_size=10, retry=RetryPolicy(max_retries=0), worker_id=f"replica-{n}",
                lease=dt.timedelta(minutes=5)))

        def drain(tx: Transmitter) -> None:
            while tx.run_once():
                pass

        threads = [threading.Thread(target=drain, args=(tx,)) for tx in replicas]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        sent = [env.mcn for transport in transports for env in transport.sent]
        assert len(sent) == len(set(sent)) == 300
        assert all(transport.sent for transport in transports), "one replica did all the work"
        assert pg_ledger.state_counts() == {State.ACKED: 300}
        for tx in replicas:
            tx._ledger.engine.dispose()


class TestPerOrderLock:
    def test_a_version_recorded_while_its_predecessor_is_acked_is_released(
            self, pg_url: str) -> None:
        """Replica A records version 2 and has just read version 1 as SENT when replica B
        applies version 1's acknowledgement: B waits for A's order lock, then sees version
        2 and releases it (without the lock each would miss the other; 2 would wait forever)."""
        import sqlalchemy as sa

        ledger_a, ledger_b = Ledger(open_database(pg_url)), Ledger(open_database(pg_url))
        pipeline = Pipeline.build(core_config(), ledger_a, renderers={"niem": stand_in_render})
        # Version 3 first, so recording version 2 does not touch the order row itself.
        pipeline.run([order_message("LOCK-1", 1), order_message("LOCK-1", 3, "cancel")])
        [claim] = ledger_a.claim_due("w", limit=5, lease=dt.timedelta(minutes=1))
        ledger_a.mark_sent(claim, "w")
        v2 = pipeline.prepare(order_message("LOCK-1", 2))

        paused, resume = threading.Event(), threading.Event()

        def pause_after_reading_versions(conn, cursor, statement, *args):  # type: ignore[no-untyped-def]
            if ("FROM order_versions" in statement and "ORDER BY order_versions.version"
                    in statement and not paused.is_set()):
                paused.set()
                resume.wait(30)

        sa.event.listen(ledger_a.engine, "after_cursor_execute", pause_after_reading_versions)
        a = threading.Thread(target=ledger_a.record_intake, args=([v2],))
        a.start()
        assert paused.wait(30)
        b = threading.Thread(target=ledger_b.record_acknowledgement,
                             kwargs={"mcn": claim.mcn, "accepted": True, "record_id": "H1"})
        b.start()
        with psycopg.connect(PG_DSN, autocommit=True) as watcher:
            deadline = time.monotonic() + 30
            while b.is_alive() and not watcher.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                    "AND datname = 'test'").fetchone()[0]:
                assert time.monotonic() < deadline, "B neither finished nor waited"
                time.sleep(0.01)
        resume.set()
        a.join(30)
        b.join(30)
        assert ledger_a.version_row("CA019015J/LOCK-1", 1)["state"] == State.ACKED
        assert ledger_a.version_row("CA019015J/LOCK-1", 2)["state"] == State.READY
        ledger_a.engine.dispose()
        ledger_b.engine.dispose()


class TestPullForwardOnPostgres:
    def test_retry_now_and_waiting_claims_on_postgres(self, pg_ledger: Ledger) -> None:
        """`retry_now` (FOR UPDATE SKIP LOCKED over the join) brings a scheduled retry
        forward with its MCN and an audit row naming actor and reason; `claim_due(waiting=
        True)` takes waiting work earliest due first, whatever its scheduled retry."""
        config = core_config()
        # Every order issued in the past: one issued ahead of the engine's clock is refused.
        issued = dt.datetime.now(dt.UTC) - dt.timedelta(hours=4)
        pipeline = Pipeline.build(config, pg_ledger, renderers={"niem": stand_in_render},
                                  due_at=lambda order: order.issued_at + dt.timedelta(days=1))
        for i, hours in enumerate((3, 1, 2)):
            when = issued + dt.timedelta(hours=hours)
            pipeline.run([order_message(f"PG-{i}", issued_at=when.isoformat(),
                                        effective_date=when.date().isoformat())])
        later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
        for claim in pg_ledger.claim_due("w", limit=10, lease=dt.timedelta(minutes=1)):
            pg_ledger.mark_retry(claim, "w", next_attempt_at=later, error="down")
        assert pg_ledger.claim_due("w", limit=10, lease=dt.timedelta(minutes=1)) == []
        waiting = pg_ledger.claim_due("w2", limit=10, lease=dt.timedelta(0),  # ends now
                                      waiting=True)
        assert [c.order_key for c in waiting] == [f"CA019015J/PG-{i}" for i in (1, 2, 0)]
        mcns = pg_ledger.retry_now(actor="ana", reason="INC-1", destination="doj")
        assert sorted(mcns) == sorted(c.mcn for c in waiting)
        assert len(pg_ledger.claim_due("w3", limit=10, lease=dt.timedelta(minutes=1))) == 3
        audit = [e for v in pg_ledger.history("CA019015J/PG-1")["versions"]
                 for e in v["audit"] if e["actor"]]
        assert [(e["actor"], e["reason"]) for e in audit] == [("ana", "INC-1")]
