"""inbound dedupe keyed on platform + workspace (the bot or team) + event id

Revision ID: 0011_inbound_workspace
Revises: 0010_identity_links
"""
import sqlalchemy as sa
from alembic import op

revision = "0011_inbound_workspace"
down_revision = "0010_identity_links"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("inbound_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("workspace", sa.String(length=64), nullable=False, server_default=""))
        batch_op.drop_constraint("uq_inbound_events_platform_event_id", type_="unique")
        batch_op.create_unique_constraint("uq_inbound_events_platform_workspace_event_id",
                                          ["platform", "workspace", "event_id"])


def downgrade() -> None:
    # Rows of one event id under two workspaces cannot both stay under the old key: keep the newest.
    op.execute("DELETE FROM inbound_events WHERE id NOT IN "
               "(SELECT max(id) FROM inbound_events GROUP BY platform, event_id)")
    with op.batch_alter_table("inbound_events", schema=None) as batch_op:
        batch_op.drop_constraint("uq_inbound_events_platform_workspace_event_id", type_="unique")
        batch_op.create_unique_constraint("uq_inbound_events_platform_event_id", ["platform", "event_id"])
        batch_op.drop_column("workspace")
