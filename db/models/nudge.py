"""Private nudges: per-user settings and the log of nudges sent."""
from datetime import date, datetime

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base, UTCDateTime, utcnow


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
    kind: Mapped[str] = mapped_column(String(16))  # no_visit | behind_pace | overdue | digest
    detail: Mapped[dict] = mapped_column(JSON, default=dict)
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
