"""merge the four capability branches into one line; every later revision follows this one

Revision ID: 0006_merge
Revises: 0002_visits, 0003_leads, 0004_deals, 0005_management
"""

revision = "0006_merge"
down_revision = ("0002_visits", "0003_leads", "0004_deals", "0005_management")
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
