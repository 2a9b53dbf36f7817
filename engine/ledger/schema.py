"""The ledger's tables (SQLAlchemy Core), the one description both SQLite and PostgreSQL use.

The migrations in `engine.ledger.migrations` create exactly these tables; a test compares
them. The ledger holds personal data (canonical order JSON, rendered messages): that is its
job. None of it ever goes to logs.
"""

from __future__ import annotations

import sqlalchemy as sa

__all__ = [
    "acknowledgements",
    "audit",
    "intake_messages",
    "metadata",
    "order_versions",
    "orders",
    "transmissions",
]

metadata = sa.MetaData()

_TS = sa.DateTime(timezone=True)

#: One row per order (court ORI + the court's order id), across its versions.
orders = sa.Table(
    "orders", metadata,
    sa.Column("order_key", sa.String(200), primary_key=True),
    sa.Column("court_ori", sa.String(16), nullable=False),
    sa.Column("case_number", sa.String(64), nullable=False),
    sa.Column("order_type", sa.String(32), nullable=False),
    sa.Column("latest_version", sa.Integer, nullable=False),
    #: The DOJ's record id from the entry's acknowledgement; later versions carry it.
    sa.Column("doj_record_id", sa.String(64)),
    sa.Column("created_at", _TS, nullable=False),
    sa.Column("updated_at", _TS, nullable=False),
    sa.Index("ix_orders_case_number", "case_number"),
    sa.Index("ix_orders_court_ori", "court_ori"),
)

#: One row per version of an order: the unit that moves through the states.
order_versions = sa.Table(
    "order_versions", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("order_key", sa.String(200), sa.ForeignKey("orders.order_key"), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("action", sa.String(16), nullable=False),
    sa.Column("state", sa.String(20), nullable=False),
    #: sha256 of the canonical JSON: what tells a duplicate from a conflict.
    sa.Column("content_hash", sa.String(64), nullable=False),
    sa.Column("canonical_json", sa.Text),
    sa.Column("destination", sa.String(100)),
    #: When the court issued this version (deadlines count from it).
    sa.Column("issued_at", _TS),
    sa.Column("due_at", _TS),
    sa.Column("received_at", _TS, nullable=False),
    sa.Column("updated_at", _TS, nullable=False),
    #: JSON list of renderer warnings (no personal data).
    sa.Column("warnings", sa.Text, nullable=False, server_default="[]"),
    #: Why the version is INVALID or REJECTED: field paths and codes, never values.
    sa.Column("error_reason", sa.Text),
    sa.UniqueConstraint("order_key", "version", name="uq_order_versions_key_version"),
    sa.Index("ix_order_versions_state", "state"),
)

#: One row per transmission of a version; retries keep the row (and its MCN), a resend
#: after a rejection makes a new one.
transmissions = sa.Table(
    "transmissions", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("mcn", sa.String(32), nullable=False, unique=True),
    sa.Column("version_id", sa.Integer, sa.ForeignKey("order_versions.id"), nullable=False),
    sa.Column("destination", sa.String(100), nullable=False),
    sa.Column("format", sa.String(16), nullable=False),
    sa.Column("state", sa.String(20), nullable=False),
    #: Rendered at the first send (with the entry's record id), then kept for retries.
    sa.Column("body", sa.LargeBinary),
    sa.Column("content_type", sa.String(100)),
    sa.Column("prepared_at", _TS),
    sa.Column("attempt_count", sa.Integer, nullable=False, server_default="0"),
    sa.Column("next_attempt_at", _TS),
    sa.Column("last_attempt_at", _TS),
    sa.Column("lease_until", _TS),
    sa.Column("claimed_by", sa.String(64)),
    sa.Column("last_error", sa.Text),
    sa.Column("created_at", _TS, nullable=False),
    sa.Column("updated_at", _TS, nullable=False),
    sa.Index("ix_transmissions_state_next", "state", "next_attempt_at"),
    sa.Index("ix_transmissions_version", "version_id"),
)

#: Every acknowledgement that arrived, matched or not.
acknowledgements = sa.Table(
    "acknowledgements", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("mcn", sa.String(32)),
    sa.Column("transmission_id", sa.Integer, sa.ForeignKey("transmissions.id")),
    #: accepted | rejected | duplicate | late | unknown | malformed
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("record_id", sa.String(64)),
    sa.Column("code", sa.String(32)),
    sa.Column("reason", sa.Text),
    sa.Column("received_at", _TS, nullable=False),
    sa.Index("ix_acknowledgements_mcn", "mcn"),
)

#: Append-only: every state change, when, from what, to what, and why.
audit = sa.Table(
    "audit", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", _TS, nullable=False),
    sa.Column("order_key", sa.String(200)),
    sa.Column("version_id", sa.Integer),
    sa.Column("transmission_id", sa.Integer),
    sa.Column("from_state", sa.String(20)),
    sa.Column("to_state", sa.String(20)),
    sa.Column("detail", sa.Text),
    #: A person's action (resend, retry, DLQ replay): who (OS user or ``--as``) and why.
    sa.Column("actor", sa.String(100)),
    sa.Column("reason", sa.Text),
    sa.Index("ix_audit_version", "version_id"),
)

#: Each intake message seen, for duplicate detection and the record of what was done.
intake_messages = sa.Table(
    "intake_messages", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("message_id", sa.String(200)),
    sa.Column("raw_hash", sa.String(64), nullable=False),
    sa.Column("version_key", sa.String(220)),
    #: new | duplicate | conflict | replaced | invalid
    sa.Column("outcome", sa.String(16), nullable=False),
    sa.Column("reason", sa.Text),
    sa.Column("received_at", _TS, nullable=False),
    sa.Index("ix_intake_messages_raw_hash", "raw_hash"),
)
