"""Handover batches and the records each moved (kept for undo)."""
from datetime import date, datetime

from sqlalchemy import Boolean, Date, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base, UTCDateTime, utcnow


class HandoverBatch(Base):
    """One /handover: who moved what from whom to whom; undone within a day by the same manager."""

    __tablename__ = "handover_batches"

    id: Mapped[int] = mapped_column(primary_key=True)
    manager_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    from_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    to_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    what: Mapped[str] = mapped_column(String(16))  # leads | customers | deals | all
    stay_access: Mapped[str | None] = mapped_column(String(8))  # read | write
    stay_until: Mapped[date | None] = mapped_column(Date)
    deactivated: Mapped[bool] = mapped_column(Boolean, default=False)
    records: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    undone_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class HandoverItem(Base):
    """One record moved by a batch, with its previous owner, so undo restores exactly that."""

    __tablename__ = "handover_items"
    __table_args__ = (Index("ix_handover_items_batch", "batch_id", "record_type"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("handover_batches.id"))
    record_type: Mapped[str] = mapped_column(String(16))  # lead | customer | contact | deal | member
    record_id: Mapped[int] = mapped_column(Integer)
    from_owner_id: Mapped[int | None] = mapped_column(Integer)
