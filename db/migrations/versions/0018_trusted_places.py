"""Trusted places: a customer's or lead's place says how far it is trusted

`location_trust` (trusted | tentative) on customers and leads, and on leads the source and time
customers already had. Existing places: imported ones and those their owner set with /setloc are
trusted; a place taken from a first verified visit (or of unknown origin: a lead's place could only
come from one) is tentative until visits confirm it (bot.services.visits.places).

Revision ID: 0018_trusted_places
Revises: 0017_lead_events_refs
"""
import sqlalchemy as sa
from alembic import op

import db.base

revision = "0018_trusted_places"
down_revision = "0017_lead_events_refs"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMN (no batch copy on SQLite: leads is referenced by other tables' foreign keys).
    op.add_column("customers", sa.Column("location_trust", sa.String(length=12), nullable=True))
    op.add_column("leads", sa.Column("location_source", sa.String(length=16), nullable=True))
    op.add_column("leads", sa.Column("location_set_at", db.base.UTCDateTime(timezone=True), nullable=True))
    op.add_column("leads", sa.Column("location_trust", sa.String(length=12), nullable=True))
    op.execute(
        "UPDATE customers SET location_trust = CASE WHEN location_source IN ('import', 'owner') "
        "THEN 'trusted' ELSE 'tentative' END WHERE latitude IS NOT NULL"
    )
    op.execute(
        "UPDATE leads SET location_trust = 'tentative', location_source = 'visit' WHERE latitude IS NOT NULL"
    )


def downgrade() -> None:
    for column in ("location_trust", "location_set_at", "location_source"):
        op.drop_column("leads", column)
    op.drop_column("customers", "location_trust")
