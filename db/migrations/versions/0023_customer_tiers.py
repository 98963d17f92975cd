"""Customer tiers and revisit cadence: customers carry their computed tier (A-E, from the amount
collected over the last 12 months, bot.services.customers.tiers) and a manager's pin with its
reason; customer_settings holds a unit's revisit cadence per tier and, on the company's top unit,
the tier thresholds (none: quantiles).

Revision ID: 0023_customer_tiers
Revises: 0022_reminders
"""
import sqlalchemy as sa
from alembic import op

import db.base

revision = "0023_customer_tiers"
down_revision = "0022_reminders"
branch_labels = None
depends_on = None

MONEY = sa.Numeric(16, 2)


def _columns() -> list[sa.Column]:
    return [
        sa.Column("tier", sa.String(length=1), nullable=True),
        sa.Column("tier_computed_at", db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("tier_pinned", sa.String(length=1), nullable=True),
        sa.Column("tier_pin_reason", sa.String(length=200), nullable=True),
        sa.Column("tier_pinned_by_id", sa.Integer(), nullable=True),
        sa.Column("tier_pinned_at", db.base.UTCDateTime(timezone=True), nullable=True),
    ]


def upgrade() -> None:
    # Plain columns (SQLite adds them in place; the pinning manager is a plain id, as in the audit log:
    # users are deactivated, never deleted).
    for column in _columns():
        op.add_column("customers", column)
    op.create_table(
        "customer_settings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("cadence_a", sa.Integer(), nullable=True),
        sa.Column("cadence_b", sa.Integer(), nullable=True),
        sa.Column("cadence_c", sa.Integer(), nullable=True),
        sa.Column("cadence_d", sa.Integer(), nullable=True),
        sa.Column("cadence_e", sa.Integer(), nullable=True),
        sa.Column("tier_a_min", MONEY, nullable=True),
        sa.Column("tier_b_min", MONEY, nullable=True),
        sa.Column("tier_c_min", MONEY, nullable=True),
        sa.Column("tier_d_min", MONEY, nullable=True),
        sa.Column("removed_at", db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("updated_at", db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["unit_id"], ["org_units.id"], name=op.f("fk_customer_settings_unit_id_org_units")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer_settings")),
        sa.UniqueConstraint("unit_id", name=op.f("uq_customer_settings_unit_id")),
    )


def downgrade() -> None:
    op.drop_table("customer_settings")
    for column in reversed(_columns()):
        op.drop_column("customers", column.name)
