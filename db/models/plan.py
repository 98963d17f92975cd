"""The rep's plan: visits he scheduled, his morning-message setting, and the sent marker of each
morning message. Planned visits are never deleted: dropping one marks it."""
from datetime import date, datetime

from sqlalchemy import Boolean, Date, ForeignKey, Index, Integer, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base, UTCDateTime, utcnow


class PlannedVisit(Base):
    """A visit a rep scheduled (/plan add): a customer or a lead, a local day, an optional local time
    (minutes after midnight)."""

    __tablename__ = "planned_visits"
    __table_args__ = (Index("ix_planned_visits_user_day", "user_id", "day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"))
    lead_id: Mapped[int | None] = mapped_column(ForeignKey("leads.id"))
    day: Mapped[date] = mapped_column(Date)
    minute: Mapped[int | None] = mapped_column(Integer)  # local minutes after midnight; None: any time
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    dropped_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    dropped_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class PlanSettings(Base):
    """A user's morning message: on or off, and its local time; no row means on at 08:30."""

    __tablename__ = "plan_settings"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), unique=True)
    morning: Mapped[bool] = mapped_column(Boolean, default=True)
    morning_minute: Mapped[int] = mapped_column(Integer, default=510)  # 08:30
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class PlanPush(Base):
    """A morning message queued: one per user and local day, however many processes run the job."""

    __tablename__ = "plan_pushes"
    __table_args__ = (UniqueConstraint("user_id", "day", name="uq_plan_pushes_user_day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    day: Mapped[date] = mapped_column(Date)
    queued_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
