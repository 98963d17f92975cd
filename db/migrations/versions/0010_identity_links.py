"""identity links can end: platform_identities.unlinked_at and display_name, invitations.revoked_at

Revision ID: 0010_identity_links
Revises: 0009_app_secrets

An account may be linked again after `fieldcrm unlink`, so the unique (platform, workspace,
platform_user_id) becomes a partial unique index over live links only. SQLite rebuilds the table
for that; invitations point at identities, so their links are set aside during the rebuild and
restored after it (dropping a referenced table is refused with foreign keys on). Downgrading
fails when an account was linked again after an unlink (two rows for one account).
"""
import sqlalchemy as sa
from alembic import op

import db.base

revision = "0010_identity_links"
down_revision = "0009_app_secrets"
branch_labels = None
depends_on = None

OLD_UNIQUE = "uq_platform_identities_platform_workspace_platform_user_id"
LIVE_INDEX = "uq_platform_identities_live_account"
ACCOUNT = ["platform", "workspace", "platform_user_id"]
LIVE = sa.text("unlinked_at IS NULL")


def _set_aside_invitation_links() -> list[tuple[int, int]]:
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        return []
    links = [tuple(row) for row in bind.execute(sa.text(
        "SELECT id, used_by_identity_id FROM invitations WHERE used_by_identity_id IS NOT NULL"))]
    bind.execute(sa.text("UPDATE invitations SET used_by_identity_id = NULL"))
    return links


def _restore_invitation_links(links: list[tuple[int, int]]) -> None:
    bind = op.get_bind()
    for invitation_id, identity_id in links:
        bind.execute(sa.text("UPDATE invitations SET used_by_identity_id = :identity WHERE id = :id"),
                     {"identity": identity_id, "id": invitation_id})


def upgrade() -> None:
    with op.batch_alter_table("invitations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("revoked_at", db.base.UTCDateTime(), nullable=True))
    links = _set_aside_invitation_links()
    with op.batch_alter_table("platform_identities", schema=None) as batch_op:
        batch_op.add_column(sa.Column("display_name", sa.String(length=128), nullable=True))
        batch_op.add_column(sa.Column("unlinked_at", db.base.UTCDateTime(), nullable=True))
        batch_op.drop_constraint(OLD_UNIQUE, type_="unique")
        batch_op.create_index(LIVE_INDEX, ACCOUNT, unique=True, sqlite_where=LIVE, postgresql_where=LIVE)
    _restore_invitation_links(links)


def downgrade() -> None:
    links = _set_aside_invitation_links()
    with op.batch_alter_table("platform_identities", schema=None) as batch_op:
        batch_op.drop_index(LIVE_INDEX)
        batch_op.create_unique_constraint(OLD_UNIQUE, ACCOUNT)
        batch_op.drop_column("unlinked_at")
        batch_op.drop_column("display_name")
    _restore_invitation_links(links)
    with op.batch_alter_table("invitations", schema=None) as batch_op:
        batch_op.drop_column("revoked_at")
