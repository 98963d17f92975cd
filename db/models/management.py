"""Management tables: the audit log of every change, and handover batches (kept for undo)."""
from datetime import date, datetime

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base, UTCDateTime, utcnow


class AuditEntry(Base):
    """One change to one record: who (None = the system), from where, when, before and after."""

    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_record", "record_type", "record_id", "at"),
        Index("ix_audit_log_at", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(Integer)  # no FK: the log outlives nothing, joins nothing
    platform: Mapped[str] = mapped_column(String(16), default="system")
    record_type: Mapped[str] = mapped_column(String(64))  # the table name
    record_id: Mapped[int] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(16))  # create | update | delete | handover | undo
    before: Mapped[dict | None] = mapped_column(JSON)
    after: Mapped[dict | None] = mapped_column(JSON)
    # Owner of the record after the change, so a manager's /audit and exports filter by scope.
    owner_id: Mapped[int | None] = mapped_column(Integer)


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
    record_type: Mapped[str] = mapped_column(String(16))  # lead | customer | contact | opportunity | member
    record_id: Mapped[int] = mapped_column(Integer)
    from_owner_id: Mapped[int | None] = mapped_column(Integer)
