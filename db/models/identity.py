"""How people reach the bot: their platform identities, and the invitations that link them to a user."""
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from db.base import Base, UTCDateTime, utcnow
from db.models.org import User


class PlatformIdentity(Base):
    __tablename__ = "platform_identities"
    # One live link per platform account; ended links stay as history (nothing is deleted).
    __table_args__ = (
        Index("uq_platform_identities_live_account", "platform", "workspace", "platform_user_id", unique=True,
              sqlite_where=text("unlinked_at IS NULL"), postgresql_where=text("unlinked_at IS NULL")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    platform: Mapped[str] = mapped_column(String(16))
    workspace: Mapped[str] = mapped_column(String(64))
    platform_user_id: Mapped[str] = mapped_column(String(64))
    # Where a direct message reaches this person (Slack DM channel or Telegram private chat).
    dm_chat_id: Mapped[str | None] = mapped_column(String(64))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    linked_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # The name the platform showed when he joined (Telegram @username, Slack display name), if any.
    display_name: Mapped[str | None] = mapped_column(String(128))
    # Set by `fieldcrm unlink`: the account is no longer this user's; the row is kept.
    unlinked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    user: Mapped[User] = relationship(back_populates="identities")


class Invitation(Base):
    __tablename__ = "invitations"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    used_by_identity_id: Mapped[int | None] = mapped_column(ForeignKey("platform_identities.id"))
    # A newer invitation for the same user replaced this one before it was used.
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    user: Mapped[User] = relationship()
