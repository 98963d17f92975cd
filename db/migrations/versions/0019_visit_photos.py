"""visit_photos: photos attached to visits, stored by content in PHOTO_DIR, with their EXIF and
perceptual hash (its four 16-bit bands indexed for the company-wide reuse search)

Revision ID: 0019_visit_photos
Revises: 0018_trusted_places
"""
import sqlalchemy as sa
from alembic import op

import db.base

revision = "0019_visit_photos"
# 0018_trusted_places is written on another branch; chained at merge.
down_revision = "0018_trusted_places"
branch_labels = None
depends_on = None

INDEXED = ("customer_id", "lead_id", "phash", "phash_b0", "phash_b1", "phash_b2", "phash_b3", "sha256",
           "user_id", "visit_id")


def upgrade() -> None:
    op.create_table(
        "visit_photos",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("visit_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("lead_id", sa.Integer(), nullable=True),
        sa.Column("stored_path", sa.String(length=200), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("mime", sa.String(length=40), nullable=False),
        sa.Column("phash", sa.String(length=16), nullable=False),
        sa.Column("phash_b0", sa.Integer(), nullable=False),
        sa.Column("phash_b1", sa.Integer(), nullable=False),
        sa.Column("phash_b2", sa.Integer(), nullable=False),
        sa.Column("phash_b3", sa.Integer(), nullable=False),
        sa.Column("sent_as", sa.String(length=12), nullable=False),
        sa.Column("exif_taken_at", db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("exif_latitude", sa.Float(), nullable=True),
        sa.Column("exif_longitude", sa.Float(), nullable=True),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("created_at", db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"], name=op.f("fk_visit_photos_customer_id_customers")),
        sa.ForeignKeyConstraint(["lead_id"], ["leads.id"], name=op.f("fk_visit_photos_lead_id_leads")),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_visit_photos_user_id_users")),
        sa.ForeignKeyConstraint(["visit_id"], ["visits.id"], name=op.f("fk_visit_photos_visit_id_visits")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_visit_photos")),
    )
    for column in INDEXED:
        op.create_index(op.f(f"ix_visit_photos_{column}"), "visit_photos", [column], unique=False)


def downgrade() -> None:
    for column in INDEXED:
        op.drop_index(op.f(f"ix_visit_photos_{column}"), table_name="visit_photos")
    op.drop_table("visit_photos")
