"""Non-working days."""
from datetime import date, datetime

from sqlalchemy import Date, String
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base, UTCDateTime


class Holiday(Base):
    """A non-working day: boards are not pushed, streaks are not broken."""

    __tablename__ = "holidays"

    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[date] = mapped_column(Date, unique=True)
    name: Mapped[str] = mapped_column(String(100), default="")
    # Taken out by an org file that no longer writes it (kept as history, never deleted).
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
