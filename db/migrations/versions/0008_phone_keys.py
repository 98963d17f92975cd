"""phone keys become E.164 in the company's phone region; org_units.phone_region

Revision ID: 0008_phone_keys
Revises: 0007_deal_names

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
down_revision = "0007_deal_names"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("org_units", schema=None) as batch_op:
        batch_op.add_column(sa.Column("phone_region", sa.String(length=2), nullable=True))
    region = os.environ.get("DEFAULT_PHONE_REGION", "").strip().upper() or DEFAULT_REGION
    rekey(op.get_bind(), partial(phone_key, region=region))


def downgrade() -> None:
    rekey(op.get_bind(), digit_key)
    # A plain DROP COLUMN (SQLite 3.35+ has it): batch mode would copy org_units and drop the old
    # table, which the foreign keys of every row pointing at a unit refuse.
    op.drop_column("org_units", "phone_region")
