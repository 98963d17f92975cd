"""visits: per-unit visit settings, live trails, used check-in links, customer location requests,
the covering index of the previous-visit lookup, and the partial indexes of pending visits.

Revision ID: 0002_visits
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op

import db.base

revision = "0002_visits"
down_revision = "0001"
branch_labels = None
depends_on = None

# Partial-index predicates, as in db.models.visit (a migration does not import models).
PENDING = "status IN ('waiting', 'open')"
UNLOCATED = "no_location_reason IS NOT NULL AND latitude IS NULL"


def upgrade() -> None:
    op.create_table(
        "visit_settings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("accuracy_max_m", sa.Float(), nullable=False),
        sa.Column("geofence_m", sa.Float(), nullable=False),
        sa.Column("max_speed_kmh", sa.Float(), nullable=False),
        sa.Column("no_location_hours", sa.Integer(), nullable=False),
        sa.Column("work_start_min", sa.Integer(), nullable=False),
        sa.Column("work_end_min", sa.Integer(), nullable=False),
        sa.Column("late_threshold_min", sa.Integer(), nullable=False),
        sa.Column("office_latitude", sa.Float(), nullable=True),
        sa.Column("office_longitude", sa.Float(), nullable=True),
        sa.Column("office_radius_m", sa.Float(), nullable=True),
        sa.Column("updated_at", db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["unit_id"], ["org_units.id"], name=op.f("fk_visit_settings_unit_id_org_units")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_visit_settings")),
        sa.UniqueConstraint("unit_id", name=op.f("uq_visit_settings_unit_id")),
    )
    op.create_table(
        "visit_trail_points",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("visit_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.String(length=64), nullable=True),
        sa.Column("latitude", sa.Float(), nullable=False),
        sa.Column("longitude", sa.Float(), nullable=False),
        sa.Column("accuracy_m", sa.Float(), nullable=True),
        sa.Column("source", sa.String(length=12), nullable=False),
        sa.Column("taken_at", db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("arrived_at", db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_visit_trail_points_user_id_users")),
        sa.ForeignKeyConstraint(["visit_id"], ["visits.id"], name=op.f("fk_visit_trail_points_visit_id_visits")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_visit_trail_points")),
    )
    with op.batch_alter_table("visit_trail_points", schema=None) as batch_op:
        batch_op.create_index("ix_visit_trail_message", ["user_id", "message_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_visit_trail_points_visit_id"), ["visit_id"], unique=False)

    op.create_table(
        "used_checkin_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("nonce", sa.String(length=64), nullable=False),
        sa.Column("visit_id", sa.Integer(), nullable=False),
        sa.Column("used_at", db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["visit_id"], ["visits.id"], name=op.f("fk_used_checkin_links_visit_id_visits")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_used_checkin_links")),
        sa.UniqueConstraint("nonce", name=op.f("uq_used_checkin_links_nonce")),
    )
    with op.batch_alter_table("used_checkin_links", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_used_checkin_links_visit_id"), ["visit_id"], unique=False)

    op.create_table(
        "customer_location_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("created_at", db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("done_at", db.base.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_customer_location_requests_customer_id_customers")
        ),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_customer_location_requests_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer_location_requests")),
    )
    with op.batch_alter_table("customer_location_requests", schema=None) as batch_op:
        batch_op.create_index("ix_customer_location_requests_user", ["user_id", "status"], unique=False)

    with op.batch_alter_table("visits", schema=None) as batch_op:
        batch_op.create_index(
            "ix_visits_user_taken_cover", ["user_id", "taken_at"], unique=False,
            postgresql_include=["latitude", "longitude"],
        )
        batch_op.create_index("ix_visits_coordinates", ["latitude", "longitude", "taken_at"], unique=False)
        batch_op.create_index(
            "ix_visits_user_pending", ["user_id"], unique=False,
            postgresql_where=sa.text(PENDING), sqlite_where=sa.text(PENDING),
        )
        batch_op.create_index(
            "ix_visits_user_unlocated", ["user_id", "location_deadline"], unique=False,
            postgresql_where=sa.text(UNLOCATED), sqlite_where=sa.text(UNLOCATED),
        )


def downgrade() -> None:
    with op.batch_alter_table("visits", schema=None) as batch_op:
        batch_op.drop_index("ix_visits_user_unlocated")
        batch_op.drop_index("ix_visits_user_pending")
        batch_op.drop_index("ix_visits_coordinates")
        batch_op.drop_index("ix_visits_user_taken_cover")
    op.drop_table("customer_location_requests")
    op.drop_table("used_checkin_links")
    op.drop_table("visit_trail_points")
    op.drop_table("visit_settings")
