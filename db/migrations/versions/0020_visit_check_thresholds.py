"""visit_settings: a unit's thresholds for the spoof checks (bot.services.visits.spoof_checks), so
each check can be tuned per unit like the others; existing rows take the defaults. A live
location's trail points keep the course the phone reported (the heading check compares it with
the path).

Revision ID: 0020_visit_check_thresholds
Revises: 0019_visit_photos
"""
import sqlalchemy as sa
from alembic import op

revision = "0020_visit_check_thresholds"
down_revision = "0019_visit_photos"
branch_labels = None
depends_on = None

# The defaults of db.models.visit as they were written (a migration keeps its own copy).
COLUMNS = [
    ("same_place_m", sa.Float(), "0.5"), ("min_accuracy_m", sa.Float(), "1.0"),
    ("same_accuracy_fixes", sa.Integer(), "5"), ("straight_line_m", sa.Float(), "2.0"),
    ("steady_speed_pct", sa.Float(), "3.0"), ("heading_off_deg", sa.Float(), "50.0"),
    ("typed_decimals", sa.Integer(), "4"), ("replay_fraction", sa.Float(), "0.05"),
    ("replay_days", sa.Integer(), "90"), ("visit_window_hours", sa.Float(), "3.0"),
    ("window_slack_min", sa.Integer(), "15"), ("backdate_min", sa.Integer(), "5"),
]


def upgrade() -> None:
    with op.batch_alter_table("visit_settings") as batch:
        for name, kind, default in COLUMNS:
            batch.add_column(sa.Column(name, kind, nullable=False, server_default=default))
    with op.batch_alter_table("visit_trail_points") as batch:
        batch.add_column(sa.Column("heading", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("visit_trail_points") as batch:
        batch.drop_column("heading")
    with op.batch_alter_table("visit_settings") as batch:
        for name, _kind, _default in reversed(COLUMNS):
            batch.drop_column(name)
