"""lead matching: a pool's distribution mode (plain | matched), what an automatic lead event weighed
(lead_events.data), and the index matched distribution reads a pool's recent claims by

Revision ID: 0024_lead_matching
Revises: 0023_customer_tiers
"""
import sqlalchemy as sa
from alembic import op

revision = "0024_lead_matching"
down_revision = "0023_customer_tiers"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD and DROP COLUMN: SQLite's batch mode would rebuild pools, which leads and members point to.
    op.add_column("pools", sa.Column("distribution", sa.String(length=8), nullable=False, server_default="plain"))
    op.add_column("lead_events", sa.Column("data", sa.JSON(), nullable=True))
    op.create_index("ix_lead_events_at", "lead_events", ["at"], unique=False, postgresql_using="brin")


def downgrade() -> None:
    op.drop_index("ix_lead_events_at", table_name="lead_events")
    op.drop_column("lead_events", "data")
    op.drop_column("pools", "distribution")
