"""leads: claim log, follow-up records, return warnings

Revision ID: 0003_leads
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op

import db.base

revision = "0003_leads"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "lead_claims",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("lead_id", sa.Integer(), nullable=False),
        sa.Column("pool_id", sa.Integer(), nullable=True),
        sa.Column("claimed_at", db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_lead_claims_user_id_users")),
        sa.ForeignKeyConstraint(["lead_id"], ["leads.id"], name=op.f("fk_lead_claims_lead_id_leads")),
        sa.ForeignKeyConstraint(["pool_id"], ["pools.id"], name=op.f("fk_lead_claims_pool_id_pools")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lead_claims")),
    )
    with op.batch_alter_table("lead_claims", schema=None) as batch_op:
        batch_op.create_index("ix_lead_claims_user_at", ["user_id", "claimed_at"], unique=False)

    op.create_table(
        "lead_followups",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("lead_id", sa.Integer(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=False),
        sa.Column("at", db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["lead_id"], ["leads.id"], name=op.f("fk_lead_followups_lead_id_leads")),
        sa.ForeignKeyConstraint(["author_id"], ["users.id"], name=op.f("fk_lead_followups_author_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lead_followups")),
    )
    with op.batch_alter_table("lead_followups", schema=None) as batch_op:
        batch_op.create_index("ix_lead_followups_lead_at", ["lead_id", "at"], unique=False)
        batch_op.create_index(batch_op.f("ix_lead_followups_author_id"), ["author_id"], unique=False)

    op.create_table(
        "lead_return_warnings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("lead_id", sa.Integer(), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("basis_at", db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("days_left", sa.Integer(), nullable=False),
        sa.Column("sent_at", db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["lead_id"], ["leads.id"], name=op.f("fk_lead_return_warnings_lead_id_leads")),
        sa.ForeignKeyConstraint(["owner_id"], ["users.id"], name=op.f("fk_lead_return_warnings_owner_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lead_return_warnings")),
        sa.UniqueConstraint("lead_id", "owner_id", "basis_at", name=op.f("uq_lead_return_warnings_lead_id_owner_id_basis_at")),
    )


def downgrade() -> None:
    op.drop_table("lead_return_warnings")
    with op.batch_alter_table("lead_followups", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_lead_followups_author_id"))
        batch_op.drop_index("ix_lead_followups_lead_at")
    op.drop_table("lead_followups")
    with op.batch_alter_table("lead_claims", schema=None) as batch_op:
        batch_op.drop_index("ix_lead_claims_user_at")
    op.drop_table("lead_claims")
