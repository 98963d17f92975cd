"""checkin link requests: a one-time check-in link may name a position request (a /nearby or /setloc
waiting for a position) instead of a visit, so a used link keeps the one or the other.

Revision ID: 0031_checkin_link_requests
Revises: 0030_screen_links
"""
import sqlalchemy as sa
from alembic import op

revision = "0031_checkin_link_requests"
down_revision = "0030_screen_links"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("used_checkin_links") as batch:
        batch.alter_column("visit_id", existing_type=sa.Integer(), nullable=True)
        batch.add_column(sa.Column("request_id", sa.Integer(), nullable=True))
        batch.create_foreign_key("fk_used_checkin_links_request_id_customer_location_requests",
                                 "customer_location_requests", ["request_id"], ["id"])
        batch.create_index("ix_used_checkin_links_request_id", ["request_id"], unique=False)


def downgrade() -> None:
    # A used request link is a single-use marker (bookkeeping, no business record): it cannot stay.
    op.execute("DELETE FROM used_checkin_links WHERE visit_id IS NULL")
    with op.batch_alter_table("used_checkin_links") as batch:
        batch.drop_index("ix_used_checkin_links_request_id")
        batch.drop_constraint("fk_used_checkin_links_request_id_customer_location_requests", type_="foreignkey")
        batch.drop_column("request_id")
        batch.alter_column("visit_id", existing_type=sa.Integer(), nullable=False)
