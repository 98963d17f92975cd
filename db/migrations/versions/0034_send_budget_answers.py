"""send budget: which of a window's stamps were answers (send_budget.answer_stamps), so posts leave
the reserve free for answers without also giving up the slots answers already took

Revision ID: 0034_send_budget_answers
Revises: 0033_outbox_notify
"""
import sqlalchemy as sa
from alembic import op

revision = "0034_send_budget_answers"
down_revision = "0033_outbox_notify"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("send_budget", schema=None) as batch_op:
        batch_op.add_column(sa.Column("answer_stamps", sa.JSON(), nullable=False, server_default=sa.text("'[]'")))


def downgrade() -> None:
    with op.batch_alter_table("send_budget", schema=None) as batch_op:
        batch_op.drop_column("answer_stamps")
