"""The outbox: posts waiting for delivery."""
from datetime import datetime

from sqlalchemy import JSON, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base, UTCDateTime, utcnow


class OutboxMessage(Base):
    """A post waiting for delivery, written in the same transaction as its cause."""

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_due", "status", "next_attempt_at"),
        Index("ix_outbox_chat", "platform", "chat_id", "id"),
        UniqueConstraint("dedupe_key"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    platform: Mapped[str] = mapped_column(String(16))
    workspace: Mapped[str] = mapped_column(String(64), default="")
    chat_id: Mapped[str] = mapped_column(String(64))
    channel_id: Mapped[int | None] = mapped_column(ForeignKey("team_channels.id"))
    kind: Mapped[str] = mapped_column(String(32), default="post")
    payload: Mapped[dict] = mapped_column(JSON)
    dedupe_key: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending|sending|sent|dead
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)


class SendBudget(Base):
    """One rate window of a bot account (all its sends, or one chat's), shared by every process:
    when its sends were counted (epoch seconds, the database's clock) and which of them were
    answers to people, until when the platform asked us to wait (429), and until when posts leave
    the reserve free for answers."""

    __tablename__ = "send_budget"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    stamps: Mapped[list] = mapped_column(JSON, default=list)
    blocked_until: Mapped[float] = mapped_column(Float, default=0.0)
    urgent_until: Mapped[float] = mapped_column(Float, default=0.0)
    # Those of `stamps` that were answers: posts leave the reserve beside them, not on top.
    answer_stamps: Mapped[list] = mapped_column(JSON, default=list, server_default=text("'[]'"))
