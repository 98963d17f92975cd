"""inbound events keep their answer until the front end confirms it was sent

Revision ID: 0013_inbound_answers
Revises: 0012_pool_member_removed
"""
import sqlalchemy as sa
from alembic import op

import db.base

revision = "0013_inbound_answers"
down_revision = "0012_pool_member_removed"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("inbound_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("answer", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("answered_at", db.base.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("inbound_events", schema=None) as batch_op:
        batch_op.drop_column("answered_at")
        batch_op.drop_column("answer")
