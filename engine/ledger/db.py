"""Opening the ledger database: SQLite (file, WAL, busy timeout) or PostgreSQL, by URL.

`open_database(url)` returns a SQLAlchemy engine with the ledger's tables migrated to the
newest revision (Alembic, run in-process). SQLite writes begin with ``BEGIN IMMEDIATE`` so two
threads never deadlock upgrading a read lock. On PostgreSQL the migration holds a
transaction-level advisory lock (`MIGRATION_LOCK_KEY`), so replicas started at the same
moment against a fresh database migrate one after the other instead of racing to create the
same tables (the loser would fail with a duplicate-key error and the replica would exit).
"""

from __future__ import annotations

import os
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.engine import make_url

from engine.errors import LedgerError

__all__ = ["HEAD_REVISION", "MIGRATION_LOCK_KEY", "create_database_engine", "open_database",
           "upgrade"]

_MIGRATIONS = Path(__file__).parent / "migrations"
#: The newest migration; `engine db upgrade` brings a ledger here.
HEAD_REVISION = "i18_audit"
#: Milliseconds a SQLite writer waits for another writer before giving up.
SQLITE_BUSY_TIMEOUT_MS = 10_000
#: PostgreSQL advisory lock key held while migrating ("POLEDGER" as bytes, fits a bigint).
MIGRATION_LOCK_KEY = int.from_bytes(b"POLEDGER", "big") & 0x7FFF_FFFF_FFFF_FFFF


def _sqlite_pragmas(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
    # Take transaction control from the driver, so "begin" below can say IMMEDIATE.
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA synchronous=NORMAL")  # safe with WAL: a crash loses no commit
    cur.close()


def _sqlite_begin(conn) -> None:  # type: ignore[no-untyped-def]
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def create_database_engine(url: str) -> sa.Engine:
    """A SQLAlchemy engine for ``url``, without touching the schema."""
    try:
        parsed = make_url(url)
        backend = parsed.get_backend_name()
        parsed.port  # noqa: B018 - a port that is not a number fails here, not at connect
    except (sa.exc.ArgumentError, ValueError, TypeError):
        # Never the URL itself: it may carry a password.
        raise LedgerError("ledger URL is not a database URL (dialect+driver://user@host"
                          "[:port]/database, or sqlite:///path)") from None
    if backend == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            _private_file(Path(parsed.database))
        engine = sa.create_engine(parsed, connect_args={"check_same_thread": False})
        sa.event.listen(engine, "connect", _sqlite_pragmas)
        sa.event.listen(engine, "begin", _sqlite_begin)
        return engine
    return sa.create_engine(parsed, pool_pre_ping=True)


def _private_file(path: Path) -> None:
    """Create the SQLite file 0600 (its folder 0700 when we make it) before SQLite opens it:
    it holds whole orders. SQLite gives its -wal and -shm files the database file's mode."""
    if not path.parent.exists():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    if not path.exists():
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))


def upgrade(engine: sa.Engine, revision: str = "head") -> None:
    """Apply every migration up to ``revision`` (Alembic, in-process)."""
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    try:
        with engine.begin() as conn:
            if engine.dialect.name == "postgresql":
                # Released at commit; a second replica waits here, then finds the head.
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"),
                             {"key": MIGRATION_LOCK_KEY})
            config.attributes["connection"] = conn
            command.upgrade(config, revision)
    except sa.exc.SQLAlchemyError as exc:
        raise LedgerError(f"ledger migration failed: {type(exc).__name__}") from exc


def open_database(url: str) -> sa.Engine:
    """The ledger database at ``url``, migrated to the newest revision."""
    engine = create_database_engine(url)
    upgrade(engine)
    return engine
