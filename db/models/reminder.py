"""Reminders read from notes: a direct message to their owner at a local time, sent once."""
from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base, UTCDateTime, utcnow


class Reminder(Base):
    """Never deleted: cancelling marks it. While `due_at` is empty the owner is still choosing between
    the readings in `candidates` (UTC ISO times)."""

    __tablename__ = "reminders"
    __table_args__ = (Index("ix_reminders_due", "due_at", "sent_at", "cancelled_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    lead_id: Mapped[int | None] = mapped_column(ForeignKey("leads.id"))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"))
    visit_id: Mapped[int | None] = mapped_column(ForeignKey("visits.id"))
    note: Mapped[str] = mapped_column(String(1000))
    words: Mapped[str] = mapped_column(String(100))  # the date expression as written
    timezone: Mapped[str] = mapped_column(String(64))  # the owner's, when it was read
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    candidates: Mapped[list] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
