"""Office screens: a manager's long-lived, revocable link to his team's leaderboard page."""
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base, UTCDateTime, utcnow


class ScreenLink(Base):
    """One office-screen link. The link carries the row's id, a random secret and a signature; the
    row keeps only the secret's SHA-256 (`token_hash`), so nothing stored can be turned into a
    working link. Valid until revoked (`revoked_at`); never deleted."""

    __tablename__ = "screen_links"
    __table_args__ = (Index("ix_screen_links_created_by", "created_by", "revoked_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("org_units.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64))
    created_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
