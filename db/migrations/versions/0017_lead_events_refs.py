"""lead_events: the history keeps its lead's foreign key, not those naming people and pools

A lead's history row names the actor, the owners before and after, and the pool, all read from
rows the same statement has just read or locked; users and pools are never deleted (they are
deactivated). Checked as foreign keys, each set-based write (the return sweep, a handover) paid
four more index probes and key-share row locks per history row (about an eighth of a million-lead
sweep). audit_log names its actor and owner the same way, without foreign keys.

Revision ID: 0017_lead_events_refs
Revises: 0016_send_budget
"""
from alembic import op

revision = "0017_lead_events_refs"
down_revision = "0016_send_budget"
branch_labels = None
depends_on = None

REFERENCES = [("actor_id", "users"), ("from_owner_id", "users"), ("to_owner_id", "users"), ("pool_id", "pools")]


def upgrade() -> None:
    with op.batch_alter_table("lead_events") as batch:
        for column, table in REFERENCES:
            batch.drop_constraint(f"fk_lead_events_{column}_{table}", type_="foreignkey")


def downgrade() -> None:
    with op.batch_alter_table("lead_events") as batch:
        for column, table in REFERENCES:
            batch.create_foreign_key(f"fk_lead_events_{column}_{table}", table, [column], ["id"])
