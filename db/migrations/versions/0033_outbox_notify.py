"""outbox notify: on PostgreSQL, queuing outbox rows notifies the `outbox` channel (once per
statement, at commit), so every process's dispatcher starts at once (db/listen.py).

Revision ID: 0033_outbox_notify
Revises: 0032_customer_followups
"""
from alembic import op

revision = "0033_outbox_notify"
down_revision = "0032_customer_followups"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return  # SQLite is one process: its dispatcher is poked by whoever queues
    op.execute("""
        CREATE FUNCTION outbox_queued() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('outbox', '');
            RETURN NULL;
        END $$
    """)
    op.execute("CREATE TRIGGER outbox_queued AFTER INSERT ON outbox FOR EACH STATEMENT EXECUTE FUNCTION outbox_queued()")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER IF EXISTS outbox_queued ON outbox")
    op.execute("DROP FUNCTION IF EXISTS outbox_queued()")
