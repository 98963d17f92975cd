"""Targets per user or unit, per month or quarter."""
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Date, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from db.base import MONEY, Base, UTCDateTime, utcnow


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
