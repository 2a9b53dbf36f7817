"""Alembic migrations for the ledger, run programmatically (`engine.ledger.db.upgrade`)."""
