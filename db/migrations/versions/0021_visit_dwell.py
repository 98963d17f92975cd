"""Dwell from live locations: a visit keeps when its live trail arrived at the place and was last
seen there (its time on site), and a unit sets how many minutes a visit must last before its trail
may leave the place (断点打卡: checking in and leaving at once is flagged; 0 turns it off).

Revision ID: 0021_visit_dwell
Revises: 0020_visit_check_thresholds
"""
import sqlalchemy as sa
from alembic import op

import db.base

revision = "0021_visit_dwell"
down_revision = "0020_visit_check_thresholds"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("visits") as batch:
        batch.add_column(sa.Column("arrived_at_place", db.base.UTCDateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("left_place_at", db.base.UTCDateTime(timezone=True), nullable=True))
    with op.batch_alter_table("visit_settings") as batch:
        # The default of db.models.visit as it was written (a migration keeps its own copy).
        batch.add_column(sa.Column("min_dwell_minutes", sa.Integer(), nullable=False, server_default="10"))


def downgrade() -> None:
    with op.batch_alter_table("visit_settings") as batch:
        batch.drop_column("min_dwell_minutes")
    with op.batch_alter_table("visits") as batch:
        batch.drop_column("left_place_at")
        batch.drop_column("arrived_at_place")
