"""customer followups: a follow-up noted on a customer (/follow cN, Slack's "Add as follow-up"), kept
beside lead_followups in a table of its own.

Revision ID: 0032_customer_followups
Revises: 0031_checkin_link_requests
"""
import sqlalchemy as sa
from alembic import op

import db.base

revision = "0032_customer_followups"
down_revision = "0031_checkin_link_requests"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "customer_followups",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=False),
        sa.Column("at", db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"],
                                name=op.f("fk_customer_followups_customer_id_customers")),
        sa.ForeignKeyConstraint(["author_id"], ["users.id"], name=op.f("fk_customer_followups_author_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer_followups")),
    )
    with op.batch_alter_table("customer_followups", schema=None) as batch_op:
        batch_op.create_index("ix_customer_followups_customer_at", ["customer_id", "at"], unique=False)
        batch_op.create_index(batch_op.f("ix_customer_followups_author_id"), ["author_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("customer_followups", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_customer_followups_author_id"))
        batch_op.drop_index("ix_customer_followups_customer_at")
    op.drop_table("customer_followups")
