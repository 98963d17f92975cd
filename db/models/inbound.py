"""Inbound dedupe: the platform events already acted on."""
from datetime import datetime

from sqlalchemy import JSON, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base, UTCDateTime, utcnow


class InboundEvent(Base):
    """One row per platform event acted on; the unique key makes a retry act zero times. The key is
    the platform, the bot or team it came to (workspace) and the platform's event id; a row older
    than the platforms' retry window no longer counts (Telegram reuses update ids after a quiet week).

    The row also keeps the answer (a list of stored replies), written in the same transaction as the
    command's effect, until the front end confirms it sent it (answered_at): a redelivery after a
    crash between the commit and the send gets the answer again instead of silence."""

    __tablename__ = "inbound_events"
    __table_args__ = (UniqueConstraint("platform", "workspace", "event_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    platform: Mapped[str] = mapped_column(String(16))
    workspace: Mapped[str] = mapped_column(String(64), default="", server_default="")
    event_id: Mapped[str] = mapped_column(String(128))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    answer: Mapped[list | None] = mapped_column(JSON, nullable=True)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
