"""nearby: `/nearby` looks for active customers and unassigned leads within a bounding box, so both
get a partial B-tree index on (latitude, longitude); a position asked for by `/nearby` waits like a
`/setloc` one, in customer_location_requests, with no customer and its radius.

Revision ID: 0025_nearby
Revises: 0024_lead_matching
"""
import sqlalchemy as sa
from alembic import op

revision = "0025_nearby"
down_revision = "0024_lead_matching"
branch_labels = None
depends_on = None

# The predicates of db.models as they were written (a migration keeps its own copy).
CUSTOMERS_PLACED = "status = 'active' AND latitude IS NOT NULL"
LEADS_PLACED = "status = 'unassigned' AND latitude IS NOT NULL"


def upgrade() -> None:
    op.create_index("ix_customers_coordinates", "customers", ["latitude", "longitude"],
                    postgresql_where=sa.text(CUSTOMERS_PLACED), sqlite_where=sa.text(CUSTOMERS_PLACED))
    op.create_index("ix_leads_unassigned_coordinates", "leads", ["latitude", "longitude"],
                    postgresql_where=sa.text(LEADS_PLACED), sqlite_where=sa.text(LEADS_PLACED))
    with op.batch_alter_table("customer_location_requests") as batch:
        batch.alter_column("customer_id", existing_type=sa.Integer(), nullable=True)
        batch.add_column(sa.Column("radius_m", sa.Integer(), nullable=True))


def downgrade() -> None:
    # /nearby's asks (bookkeeping, no business record) have no customer: they cannot stay.
    op.execute("DELETE FROM customer_location_requests WHERE customer_id IS NULL")
    with op.batch_alter_table("customer_location_requests") as batch:
        batch.drop_column("radius_m")
        batch.alter_column("customer_id", existing_type=sa.Integer(), nullable=False)
    op.drop_index("ix_leads_unassigned_coordinates", table_name="leads")
    op.drop_index("ix_customers_coordinates", table_name="customers")
