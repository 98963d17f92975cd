"""lead matching: a pool's distribution mode (plain | matched), what an automatic lead event weighed
(lead_events.data), and the index matched distribution reads a pool's recent claims by

Revision ID: 0032_lead_matching
Revises: 0022_reminders
"""
import sqlalchemy as sa
from alembic import op

revision = "0032_lead_matching"
down_revision = "0022_reminders"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD and DROP COLUMN: SQLite's batch mode would rebuild pools, which leads and members point to.
    op.add_column("pools", sa.Column("distribution", sa.String(length=8), nullable=False, server_default="plain"))
    op.add_column("lead_events", sa.Column("data", sa.JSON(), nullable=True))
    op.create_index("ix_lead_events_pool_kind_at", "lead_events", ["pool_id", "kind", "at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_lead_events_pool_kind_at", table_name="lead_events")
    op.drop_column("lead_events", "data")
    op.drop_column("pools", "distribution")
