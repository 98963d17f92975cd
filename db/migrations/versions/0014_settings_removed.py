"""unit visit settings, unit announcement settings and holidays are taken out, not deleted: removed_at

Revision ID: 0014_settings_removed
Revises: 0013_inbound_answers
"""
import sqlalchemy as sa
from alembic import op

import db.base

revision = "0014_settings_removed"
down_revision = "0013_inbound_answers"
branch_labels = None
depends_on = None

TABLES = ("visit_settings", "unit_announce_settings", "holidays")


def upgrade() -> None:
    for name in TABLES:
        with op.batch_alter_table(name, schema=None) as batch_op:
            batch_op.add_column(sa.Column("removed_at", db.base.UTCDateTime(), nullable=True))


def downgrade() -> None:
    for name in TABLES:
        with op.batch_alter_table(name, schema=None) as batch_op:
            batch_op.drop_column("removed_at")
