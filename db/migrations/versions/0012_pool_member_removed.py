"""pool members are taken out, not deleted: removed_at

Revision ID: 0012_pool_member_removed
Revises: 0011_inbound_workspace
"""
import sqlalchemy as sa
from alembic import op

from db.base import UTCDateTime

revision = "0012_pool_member_removed"
down_revision = "0011_inbound_workspace"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("pool_members", schema=None) as batch_op:
        batch_op.add_column(sa.Column("removed_at", UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("pool_members", schema=None) as batch_op:
        batch_op.drop_column("removed_at")
