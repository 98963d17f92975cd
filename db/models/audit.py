"""The audit log of every change; bot.services.manager.audit writes it from a session listener that
bot.bootstrap installs on each database."""
from datetime import datetime

from sqlalchemy import JSON, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base, UTCDateTime, utcnow


class AuditEntry(Base):
    """One change to one record: who (None = the system), from where, when, before and after."""

    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_record", "record_type", "record_id", "at"),
        # Append-only, so `at` follows the physical order: BRIN on PostgreSQL (a btree on SQLite).
        Index("ix_audit_log_at", "at", postgresql_using="brin"),
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
