"""Deals capability tables: payments (回款), targets, board snapshots and settings, held announcements,
lose reasons, per-unit announcement settings, nudge settings and holidays.

Opportunity itself is a core table (db/models/crm.py); everything here is keyed by core row ids.
"""
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base, UTCDateTime, utcnow
from db.models.crm import MONEY


class Payment(Base):
    """One payment received on a deal (回款); partial payments add up to Opportunity.collected_amount."""

    __tablename__ = "deal_payments"
    __table_args__ = (
        Index("ix_deal_payments_paid_on", "paid_on", "opportunity_id"),
        Index("ix_deal_payments_owner", "owner_id", "paid_on"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    opportunity_id: Mapped[int] = mapped_column(ForeignKey("opportunities.id"), index=True)
    amount: Mapped[Decimal] = mapped_column(MONEY)
    currency: Mapped[str] = mapped_column(String(3))
    paid_on: Mapped[date] = mapped_column(Date)
    # The rep credited with it: the deal's owner when it was recorded.
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Target(Base):
    """A target for a user or a unit, for one month or quarter, on one metric."""

    __tablename__ = "deal_targets"
    __table_args__ = (
        UniqueConstraint("subject_type", "subject_id", "period", "period_start", "metric", name="uq_deal_targets_subject"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    subject_type: Mapped[str] = mapped_column(String(8))  # user | unit
    subject_id: Mapped[int] = mapped_column(Integer)
    period: Mapped[str] = mapped_column(String(8))  # month | quarter
    period_start: Mapped[date] = mapped_column(Date)
    metric: Mapped[str] = mapped_column(String(24))
    value: Mapped[Decimal] = mapped_column(MONEY)
    set_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class BoardSnapshot(Base):
    """Ranks of a pushed board, so the next one can show movement arrows."""

    __tablename__ = "board_snapshots"
    __table_args__ = (Index("ix_board_snapshots_key", "board_key", "taken_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    board_key: Mapped[str] = mapped_column(String(160))
    ranks: Mapped[dict] = mapped_column(JSON)  # {"<user or unit id>": rank}
    taken_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ChannelBoardSettings(Base):
    """When and what a team channel gets pushed; absent row = defaults (18:00 working days, Friday, last working day)."""

    __tablename__ = "channel_board_settings"

    id: Mapped[int] = mapped_column(primary_key=True)
    channel_id: Mapped[int] = mapped_column(ForeignKey("team_channels.id"), unique=True)
    push_minute: Mapped[int] = mapped_column(Integer, default=18 * 60)  # minutes after local midnight
    daily: Mapped[bool] = mapped_column(Boolean, default=True)
    weekly_weekday: Mapped[int | None] = mapped_column(Integer, default=4)  # Monday=0; None = no weekly board
    monthly: Mapped[bool] = mapped_column(Boolean, default=True)
    metric: Mapped[str] = mapped_column(String(24), default="won_amount")
    top_n: Mapped[int] = mapped_column(Integer, default=10)
    # Push the daily board on Saturdays and Sundays too (teams that work weekends).
    include_weekends: Mapped[bool] = mapped_column(Boolean, default=False)
    # Seconds a win waits for others to merge with; None = platform default.
    merge_seconds: Mapped[int | None] = mapped_column(Integer)


class HeldAnnouncement(Base):
    """A win (or payment) announced in one channel, and the outbox post carrying it.

    Several of them share one outbox row while it is still waiting (merge window, quiet hours);
    the unique key makes a double tap or a retried event announce once.
    """

    __tablename__ = "held_announcements"
    __table_args__ = (UniqueConstraint("dedupe_key"), Index("ix_held_announcements_outbox", "outbox_id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    channel_id: Mapped[int] = mapped_column(ForeignKey("team_channels.id"))
    outbox_id: Mapped[int | None] = mapped_column(ForeignKey("outbox.id"))
    dedupe_key: Mapped[str] = mapped_column(String(120))
    context: Mapped[dict] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class LoseReason(Base):
    """A configurable lose reason; when the table is empty the built-in list applies."""

    __tablename__ = "lose_reasons"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class UnitAnnouncementSettings(Base):
    """How a unit (and units below it without their own row) celebrates."""

    __tablename__ = "unit_announce_settings"

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("org_units.id"), unique=True)
    announce_on: Mapped[str] = mapped_column(String(12), default="won")  # won | collected
    # Ascending amounts; reaching the k-th threshold gives fanfare level k.
    fanfare_thresholds: Mapped[list] = mapped_column(JSON, default=list)


class NudgeSettings(Base):
    """Per-user switches for private nudges."""

    __tablename__ = "nudge_settings"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), unique=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    visit_by_minute: Mapped[int | None] = mapped_column(Integer)  # None: the default 11:00


class NudgeLog(Base):
    """A nudge sent: one per user, local day and kind; the manager's digest lists them."""

    __tablename__ = "nudge_log"
    __table_args__ = (UniqueConstraint("user_id", "day", "kind", name="uq_nudge_log_user_day_kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    day: Mapped[date] = mapped_column(Date)
    kind: Mapped[str] = mapped_column(String(16))  # no_visit | behind_pace
    detail: Mapped[dict] = mapped_column(JSON, default=dict)
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Holiday(Base):
    """A non-working day: boards are not pushed, streaks are not broken."""

    __tablename__ = "holidays"

    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[date] = mapped_column(Date, unique=True)
    name: Mapped[str] = mapped_column(String(100), default="")
