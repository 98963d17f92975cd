"""Team members on a record (相关团队成员), beside its owner."""
from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base, UTCDateTime, utcnow


class RecordMember(Base):
    """A team member on a record (相关团队成员): read-only or read-write access to one record."""

    __tablename__ = "record_members"
    __table_args__ = (
        Index("ix_record_members_record", "record_type", "record_id"),
        Index("ix_record_members_user", "user_id", "record_type"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    record_type: Mapped[str] = mapped_column(String(16))  # lead | customer | deal
    record_id: Mapped[int] = mapped_column(Integer)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    access: Mapped[str] = mapped_column(String(8), default="read")  # read | write
    until: Mapped[date | None] = mapped_column(Date)
    added_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
