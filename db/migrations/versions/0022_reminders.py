"""reminders: dated reminders read from follow-up and visit notes, sent once to their owner as a
direct message (bot.services.reminders); cancelled ones are marked, never deleted

Revision ID: 0022_reminders
Revises: 0021_visit_dwell
"""
import sqlalchemy as sa
from alembic import op

import db.base

revision = "0022_reminders"
down_revision = "0021_visit_dwell"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "reminders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("lead_id", sa.Integer(), nullable=True),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("visit_id", sa.Integer(), nullable=True),
        sa.Column("note", sa.String(length=1000), nullable=False),
        sa.Column("words", sa.String(length=100), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("due_at", db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("candidates", sa.JSON(), nullable=False),
        sa.Column("created_at", db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("cancelled_at", db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("sent_at", db.base.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["owner_id"], ["users.id"], name=op.f("fk_reminders_owner_id_users")),
        sa.ForeignKeyConstraint(["lead_id"], ["leads.id"], name=op.f("fk_reminders_lead_id_leads")),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"], name=op.f("fk_reminders_customer_id_customers")),
        sa.ForeignKeyConstraint(["visit_id"], ["visits.id"], name=op.f("fk_reminders_visit_id_visits")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reminders")),
    )
    op.create_index(op.f("ix_reminders_owner_id"), "reminders", ["owner_id"], unique=False)
    op.create_index("ix_reminders_due", "reminders", ["due_at", "sent_at", "cancelled_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_reminders_due", table_name="reminders")
    op.drop_index(op.f("ix_reminders_owner_id"), table_name="reminders")
    op.drop_table("reminders")
