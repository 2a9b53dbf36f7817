"""Who did it and why: the audit trail records the actor and reason of a person's action
(resend, retry, DLQ replay); NULL for the engine's own state changes.

Revision ID: i18_audit
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "i18_audit"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("audit") as batch:
        batch.add_column(sa.Column("actor", sa.String(100)))
        batch.add_column(sa.Column("reason", sa.Text))


def downgrade() -> None:
    with op.batch_alter_table("audit") as batch:
        batch.drop_column("reason")
        batch.drop_column("actor")
