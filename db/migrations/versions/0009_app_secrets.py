"""app_secrets: secrets every process of an installation shares (SECRET_KEY when not set)

Revision ID: 0009_app_secrets
Revises: 0008_phone_keys
"""
import sqlalchemy as sa
from alembic import op

import db.base

revision = "0009_app_secrets"
down_revision = "0008_phone_keys"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "app_secrets",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("value", sa.String(length=128), nullable=False),
        sa.Column("created_at", db.base.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_app_secrets")),
    )


def downgrade() -> None:
    op.drop_table("app_secrets")
