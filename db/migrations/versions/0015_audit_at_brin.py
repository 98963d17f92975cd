"""audit_log.at: a BRIN index on PostgreSQL (the log is append-only, so `at` follows the rows'
physical order and a BRIN index is tiny and nearly free to maintain); SQLite keeps the btree

Revision ID: 0015_audit_at_brin
Revises: 0014_settings_removed
"""
from alembic import op

revision = "0015_audit_at_brin"
down_revision = "0014_settings_removed"
branch_labels = None
depends_on = None


def _recreate(using: str) -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.drop_index("ix_audit_log_at", table_name="audit_log")
    op.create_index("ix_audit_log_at", "audit_log", ["at"], unique=False, postgresql_using=using)


def upgrade() -> None:
    _recreate("brin")


def downgrade() -> None:
    _recreate("btree")
