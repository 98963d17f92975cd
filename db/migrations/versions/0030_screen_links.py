"""office screens: screen_links (a manager's revocable link to his team's leaderboard page; the row
keeps the link secret's hash, never the link), and held_announcements indexed by (channel_id, id)
so a screen reads its channel's announcements after the last one it saw

Revision ID: 0030_screen_links
Revises: 0029_visit_report
"""
import sqlalchemy as sa
from alembic import op

import db.base

revision = "0030_screen_links"
down_revision = "0029_visit_report"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "screen_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=False),
        sa.Column("created_at", db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("revoked_by", sa.Integer(), nullable=True),
        sa.Column("last_seen_at", db.base.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["unit_id"], ["org_units.id"], name=op.f("fk_screen_links_unit_id_org_units")),
        sa.ForeignKeyConstraint(["created_by"], ["users.id"], name=op.f("fk_screen_links_created_by_users")),
        sa.ForeignKeyConstraint(["revoked_by"], ["users.id"], name=op.f("fk_screen_links_revoked_by_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_screen_links")),
    )
    op.create_index("ix_screen_links_unit_id", "screen_links", ["unit_id"], unique=False)
    op.create_index("ix_screen_links_created_by", "screen_links", ["created_by", "revoked_at"], unique=False)
    op.create_index("ix_held_announcements_channel", "held_announcements", ["channel_id", "id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_held_announcements_channel", table_name="held_announcements")
    op.drop_index("ix_screen_links_created_by", table_name="screen_links")
    op.drop_index("ix_screen_links_unit_id", table_name="screen_links")
    op.drop_table("screen_links")
