"""one send budget per bot account, shared by every process: send_budget; a chat's queue: ix_outbox_chat

Revision ID: 0016_send_budget
Revises: 0015_audit_at_brin
"""
import sqlalchemy as sa
from alembic import op

revision = "0016_send_budget"
down_revision = "0015_audit_at_brin"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "send_budget",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("stamps", sa.JSON(), nullable=False),
        sa.Column("blocked_until", sa.Float(), nullable=False),
        sa.Column("urgent_until", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_send_budget")),
    )
    # A chat's queue is read on its own (bot.delivery): its earliest unsent posts, in order.
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index("ix_outbox_chat", ["platform", "chat_id", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_chat")
    op.drop_table("send_budget")
