"""visits: the rep's own positions near a point (the replay check reads only his history) are found
by (user_id, latitude, longitude, taken_at); the old (latitude, longitude, taken_at) index scanned
every rep's visits in the latitude band; the covering index of a rep's positions by time also
carries their accuracy, so the repeated-accuracy check reads no heap page either

Revision ID: 0028_visits_user_coordinates
Revises: 0027_plans
"""
from alembic import op

revision = "0028_visits_user_coordinates"
down_revision = "0027_plans"
branch_labels = None
depends_on = None


def _cover(columns: list[str]) -> None:
    if op.get_bind().dialect.name != "postgresql":
        return  # SQLite has no INCLUDE: its index is the bare (user_id, taken_at)
    op.drop_index("ix_visits_user_taken_cover", table_name="visits")
    op.create_index("ix_visits_user_taken_cover", "visits", ["user_id", "taken_at"], unique=False,
                    postgresql_include=columns)


def upgrade() -> None:
    _cover(["latitude", "longitude", "accuracy_m"])
    op.drop_index("ix_visits_coordinates", table_name="visits")
    op.create_index("ix_visits_user_coordinates", "visits", ["user_id", "latitude", "longitude", "taken_at"],
                    unique=False)


def downgrade() -> None:
    _cover(["latitude", "longitude"])
    op.drop_index("ix_visits_user_coordinates", table_name="visits")
    op.create_index("ix_visits_coordinates", "visits", ["latitude", "longitude", "taken_at"], unique=False)
