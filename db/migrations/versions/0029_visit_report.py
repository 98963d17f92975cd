"""visits: the visit report's outcome and next step, beside the note the rep ends a visit with

Revision ID: 0029_visit_report
Revises: 0028_visits_user_coordinates
"""
import sqlalchemy as sa
from alembic import op

revision = "0029_visit_report"
down_revision = "0028_visits_user_coordinates"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("visits") as batch:
        batch.add_column(sa.Column("outcome", sa.String(length=20), nullable=True))
        batch.add_column(sa.Column("next_step", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("visits") as batch:
        batch.drop_column("next_step")
        batch.drop_column("outcome")
