"""The ledger database: migrations build exactly the declared tables; SQLite is set up for
concurrent use."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from engine.ledger import open_database, upgrade
from engine.ledger.db import HEAD_REVISION
from engine.ledger.schema import metadata


class TestMigrations:
    def test_migrated_database_matches_the_declared_tables(self, tmp_path: Path) -> None:
        """Alembic finds no difference between the migrated database and `schema.py`."""
        engine = open_database(f"sqlite:///{tmp_path / 'l.db'}")
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), metadata)
        assert diff == []

    def test_upgrade_twice_is_harmless_and_reaches_head(self, tmp_path: Path) -> None:
        """Running the migrations again changes nothing and leaves the head revision."""
        engine = open_database(f"sqlite:///{tmp_path / 'l.db'}")
        upgrade(engine)
        with engine.connect() as conn:
            assert MigrationContext.configure(conn).get_current_revision() == HEAD_REVISION


class TestSqlite:
    def test_sqlite_uses_wal_and_a_busy_timeout(self, tmp_path: Path) -> None:
        """A SQLite ledger runs in WAL mode and waits for a busy writer instead of failing."""
        engine = open_database(f"sqlite:///{tmp_path / 'l.db'}")
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 1000

    def test_ledger_directory_is_created(self, tmp_path: Path) -> None:
        """The ledger's folder is made when missing, so a fresh machine just works."""
        open_database(f"sqlite:///{tmp_path / 'new' / 'dir' / 'l.db'}")
        assert (tmp_path / "new" / "dir" / "l.db").exists()
        assert sa.inspect(sa.create_engine(f"sqlite:///{tmp_path / 'new/dir/l.db'}")
                          ).has_table("audit")
