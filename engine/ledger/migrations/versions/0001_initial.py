"""The ledger's first tables: orders, versions, transmissions, acks, audit, intake.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "orders",
        sa.Column("order_key", sa.String(200), primary_key=True),
        sa.Column("court_ori", sa.String(16), nullable=False),
        sa.Column("case_number", sa.String(64), nullable=False),
        sa.Column("order_type", sa.String(32), nullable=False),
        sa.Column("latest_version", sa.Integer, nullable=False),
        sa.Column("doj_record_id", sa.String(64)),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
    )
    op.create_index("ix_orders_case_number", "orders", ["case_number"])
    op.create_index("ix_orders_court_ori", "orders", ["court_ori"])
    op.create_table(
        "order_versions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("order_key", sa.String(200), sa.ForeignKey("orders.order_key"),
                  nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("canonical_json", sa.Text),
        sa.Column("destination", sa.String(100)),
        sa.Column("issued_at", TS),
        sa.Column("due_at", TS),
        sa.Column("received_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("warnings", sa.Text, nullable=False, server_default="[]"),
        sa.Column("error_reason", sa.Text),
        sa.UniqueConstraint("order_key", "version", name="uq_order_versions_key_version"),
    )
    op.create_index("ix_order_versions_state", "order_versions", ["state"])
    op.create_table(
        "transmissions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("mcn", sa.String(32), nullable=False, unique=True),
        sa.Column("version_id", sa.Integer, sa.ForeignKey("order_versions.id"),
                  nullable=False),
        sa.Column("destination", sa.String(100), nullable=False),
        sa.Column("format", sa.String(16), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("body", sa.LargeBinary),
        sa.Column("content_type", sa.String(100)),
        sa.Column("prepared_at", TS),
        sa.Column("attempt_count", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_attempt_at", TS),
        sa.Column("last_attempt_at", TS),
        sa.Column("lease_until", TS),
        sa.Column("claimed_by", sa.String(64)),
        sa.Column("last_error", sa.Text),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
    )
    op.create_index("ix_transmissions_state_next", "transmissions",
                    ["state", "next_attempt_at"])
    op.create_index("ix_transmissions_version", "transmissions", ["version_id"])
    op.create_table(
        "acknowledgements",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("mcn", sa.String(32)),
        sa.Column("transmission_id", sa.Integer, sa.ForeignKey("transmissions.id")),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("record_id", sa.String(64)),
        sa.Column("code", sa.String(32)),
        sa.Column("reason", sa.Text),
        sa.Column("received_at", TS, nullable=False),
    )
    op.create_index("ix_acknowledgements_mcn", "acknowledgements", ["mcn"])
    op.create_table(
        "audit",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", TS, nullable=False),
        sa.Column("order_key", sa.String(200)),
        sa.Column("version_id", sa.Integer),
        sa.Column("transmission_id", sa.Integer),
        sa.Column("from_state", sa.String(20)),
        sa.Column("to_state", sa.String(20)),
        sa.Column("detail", sa.Text),
    )
    op.create_index("ix_audit_version", "audit", ["version_id"])
    op.create_table(
        "intake_messages",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("message_id", sa.String(200)),
        sa.Column("raw_hash", sa.String(64), nullable=False),
        sa.Column("version_key", sa.String(220)),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text),
        sa.Column("received_at", TS, nullable=False),
    )
    op.create_index("ix_intake_messages_raw_hash", "intake_messages", ["raw_hash"])


def downgrade() -> None:
    for table in ("intake_messages", "audit", "acknowledgements", "transmissions",
                  "order_versions", "orders"):
        op.drop_table(table)
