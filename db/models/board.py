"""Leaderboards and win announcements: board snapshots, per-channel board settings, announcements
held for merging, and how each unit celebrates."""
from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base, UTCDateTime, utcnow


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
    # The office screens read a channel's announcements after the last one they saw (channel_id, id).
    __table_args__ = (UniqueConstraint("dedupe_key"), Index("ix_held_announcements_outbox", "outbox_id"),
                      Index("ix_held_announcements_channel", "channel_id", "id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    channel_id: Mapped[int] = mapped_column(ForeignKey("team_channels.id"))
    outbox_id: Mapped[int | None] = mapped_column(ForeignKey("outbox.id"))
    dedupe_key: Mapped[str] = mapped_column(String(120))
    context: Mapped[dict] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class UnitAnnouncementSettings(Base):
    """How a unit (and units below it without their own row) celebrates."""

    __tablename__ = "unit_announce_settings"

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("org_units.id"), unique=True)
    announce_on: Mapped[str] = mapped_column(String(12), default="won")  # won | collected
    # Ascending amounts; reaching the k-th threshold gives fanfare level k.
    fanfare_thresholds: Mapped[list] = mapped_column(JSON, default=list)
    # Taken out by an org file that no longer writes it (kept as history, never deleted).
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
