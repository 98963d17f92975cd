"""deals: payments, targets, boards, announcements, nudges

Revision ID: 0004_deals
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op

import db.base

revision = "0004_deals"
down_revision = "0001"
branch_labels = None
depends_on = None

MONEY = sa.Numeric(16, 2)


def upgrade() -> None:
    op.create_table(
        "deal_payments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("opportunity_id", sa.Integer(), nullable=False),
        sa.Column("amount", MONEY, nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("paid_on", sa.Date(), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("recorded_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["opportunity_id"], ["opportunities.id"],
                                name=op.f("fk_deal_payments_opportunity_id_opportunities")),
        sa.ForeignKeyConstraint(["owner_id"], ["users.id"], name=op.f("fk_deal_payments_owner_id_users")),
        sa.ForeignKeyConstraint(["recorded_by_id"], ["users.id"], name=op.f("fk_deal_payments_recorded_by_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deal_payments")),
    )
    with op.batch_alter_table("deal_payments") as batch_op:
        batch_op.create_index("ix_deal_payments_paid_on", ["paid_on", "opportunity_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_deal_payments_opportunity_id"), ["opportunity_id"], unique=False)

    op.create_table(
        "deal_targets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subject_type", sa.String(length=8), nullable=False),
        sa.Column("subject_id", sa.Integer(), nullable=False),
        sa.Column("period", sa.String(length=8), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("metric", sa.String(length=24), nullable=False),
        sa.Column("value", MONEY, nullable=False),
        sa.Column("set_by_id", sa.Integer(), nullable=True),
        sa.Column("updated_at", db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["set_by_id"], ["users.id"], name=op.f("fk_deal_targets_set_by_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deal_targets")),
        sa.UniqueConstraint("subject_type", "subject_id", "period", "period_start", "metric",
                            name="uq_deal_targets_subject"),
    )

    op.create_table(
        "board_snapshots",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("board_key", sa.String(length=160), nullable=False),
        sa.Column("ranks", sa.JSON(), nullable=False),
        sa.Column("taken_at", db.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_board_snapshots")),
    )
    with op.batch_alter_table("board_snapshots") as batch_op:
        batch_op.create_index("ix_board_snapshots_key", ["board_key", "taken_at"], unique=False)

    op.create_table(
        "channel_board_settings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("channel_id", sa.Integer(), nullable=False),
        sa.Column("push_minute", sa.Integer(), nullable=False),
        sa.Column("daily", sa.Boolean(), nullable=False),
        sa.Column("weekly_weekday", sa.Integer(), nullable=True),
        sa.Column("monthly", sa.Boolean(), nullable=False),
        sa.Column("metric", sa.String(length=24), nullable=False),
        sa.Column("top_n", sa.Integer(), nullable=False),
        sa.Column("include_weekends", sa.Boolean(), nullable=False),
        sa.Column("merge_seconds", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["channel_id"], ["team_channels.id"],
                                name=op.f("fk_channel_board_settings_channel_id_team_channels")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_channel_board_settings")),
        sa.UniqueConstraint("channel_id", name=op.f("uq_channel_board_settings_channel_id")),
    )

    op.create_table(
        "held_announcements",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("channel_id", sa.Integer(), nullable=False),
        sa.Column("outbox_id", sa.Integer(), nullable=True),
        sa.Column("dedupe_key", sa.String(length=120), nullable=False),
        sa.Column("context", sa.JSON(), nullable=False),
        sa.Column("created_at", db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["channel_id"], ["team_channels.id"],
                                name=op.f("fk_held_announcements_channel_id_team_channels")),
        sa.ForeignKeyConstraint(["outbox_id"], ["outbox.id"], name=op.f("fk_held_announcements_outbox_id_outbox")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_held_announcements")),
        sa.UniqueConstraint("dedupe_key", name=op.f("uq_held_announcements_dedupe_key")),
    )
    with op.batch_alter_table("held_announcements") as batch_op:
        batch_op.create_index("ix_held_announcements_outbox", ["outbox_id"], unique=False)

    op.create_table(
        "lose_reasons",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lose_reasons")),
        sa.UniqueConstraint("code", name=op.f("uq_lose_reasons_code")),
    )

    op.create_table(
        "unit_announce_settings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("announce_on", sa.String(length=12), nullable=False),
        sa.Column("fanfare_thresholds", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["unit_id"], ["org_units.id"],
                                name=op.f("fk_unit_announce_settings_unit_id_org_units")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_unit_announce_settings")),
        sa.UniqueConstraint("unit_id", name=op.f("uq_unit_announce_settings_unit_id")),
    )

    op.create_table(
        "nudge_settings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("visit_by_minute", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_nudge_settings_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_nudge_settings")),
        sa.UniqueConstraint("user_id", name=op.f("uq_nudge_settings_user_id")),
    )

    op.create_table(
        "nudge_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("sent_at", db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_nudge_log_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_nudge_log")),
        sa.UniqueConstraint("user_id", "day", "kind", name="uq_nudge_log_user_day_kind"),
    )

    op.create_table(
        "holidays",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_holidays")),
        sa.UniqueConstraint("day", name=op.f("uq_holidays_day")),
    )
    # Boards: won deals per period, payments per owner.
    with op.batch_alter_table("deal_payments") as batch_op:
        batch_op.create_index("ix_deal_payments_owner", ["owner_id", "paid_on"], unique=False)


def downgrade() -> None:
    for table in ("holidays", "nudge_log", "nudge_settings", "unit_announce_settings", "lose_reasons", "held_announcements",
                  "channel_board_settings", "board_snapshots", "deal_targets", "deal_payments"):
        op.drop_table(table)
