"""plans: visits a rep scheduled (/plan add; dropped ones are marked, never deleted), each user's
morning-message setting (on at 08:30 local when he has no row) and the marker of each morning
message queued (one per user and local day)

Revision ID: 0027_plans
Revises: 0026_contact_care
"""
import sqlalchemy as sa
from alembic import op

import db.base

revision = "0027_plans"
down_revision = "0026_contact_care"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "planned_visits",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("lead_id", sa.Integer(), nullable=True),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("minute", sa.Integer(), nullable=True),
        sa.Column("created_by_id", sa.Integer(), nullable=False),
        sa.Column("created_at", db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("dropped_at", db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("dropped_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_planned_visits_user_id_users")),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"],
                                name=op.f("fk_planned_visits_customer_id_customers")),
        sa.ForeignKeyConstraint(["lead_id"], ["leads.id"], name=op.f("fk_planned_visits_lead_id_leads")),
        sa.ForeignKeyConstraint(["created_by_id"], ["users.id"], name=op.f("fk_planned_visits_created_by_id_users")),
        sa.ForeignKeyConstraint(["dropped_by_id"], ["users.id"], name=op.f("fk_planned_visits_dropped_by_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_planned_visits")),
    )
    op.create_index("ix_planned_visits_user_day", "planned_visits", ["user_id", "day"], unique=False)
    op.create_table(
        "plan_settings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("morning", sa.Boolean(), nullable=False),
        sa.Column("morning_minute", sa.Integer(), nullable=False),
        sa.Column("updated_at", db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_plan_settings_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plan_settings")),
        sa.UniqueConstraint("user_id", name=op.f("uq_plan_settings_user_id")),
    )
    op.create_table(
        "plan_pushes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("queued_at", db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_plan_pushes_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plan_pushes")),
        sa.UniqueConstraint("user_id", "day", name="uq_plan_pushes_user_day"),
    )


def downgrade() -> None:
    op.drop_table("plan_pushes")
    op.drop_table("plan_settings")
    op.drop_index("ix_planned_visits_user_day", table_name="planned_visits")
    op.drop_table("planned_visits")
