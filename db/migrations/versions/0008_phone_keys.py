"""phone keys become E.164 in the company's phone region; org_units.phone_region

Revision ID: 0008_phone_keys
Revises: 0006_merge

Every stored phone of leads, customers and contacts is re-keyed. No company has a phone region
yet, so the region is the setting DEFAULT_PHONE_REGION when it is in the environment, else CN
(its default). Downgrading restores the digit keys.
"""
import os
from functools import partial

import sqlalchemy as sa
from alembic import op

from db.phone_keys import DEFAULT_REGION, digit_key, phone_key, rekey

revision = "0008_phone_keys"
down_revision = "0006_merge"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("org_units", schema=None) as batch_op:
        batch_op.add_column(sa.Column("phone_region", sa.String(length=2), nullable=True))
    region = os.environ.get("DEFAULT_PHONE_REGION", "").strip().upper() or DEFAULT_REGION
    rekey(op.get_bind(), partial(phone_key, region=region))


def downgrade() -> None:
    rekey(op.get_bind(), digit_key)
    with op.batch_alter_table("org_units", schema=None) as batch_op:
        batch_op.drop_column("phone_region")
