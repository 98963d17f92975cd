"""The org tree, users and team channels; the roles and data scopes users hold."""
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from sqlalchemy import Boolean, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from db.base import Base, UTCDateTime, utcnow

if TYPE_CHECKING:
    from db.models.identity import PlatformIdentity


class Role(StrEnum):
    REP = "rep"
    MANAGER = "manager"
    ADMIN = "admin"


class DataScope(StrEnum):
    SELF = "self"
    SUBORDINATES = "subordinates"
    UNIT = "unit"
    SUBTREE = "subtree"
    ALL = "all"


DEFAULT_SCOPE = {Role.REP: DataScope.SELF, Role.MANAGER: DataScope.SUBTREE, Role.ADMIN: DataScope.ALL}


class OrgUnit(Base):
    __tablename__ = "org_units"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("org_units.id"), index=True)
    # Materialised path "/1/4/9/" so a subtree is one indexed LIKE; rewritten when a unit moves.
    path: Mapped[str] = mapped_column(String(1000), index=True, default="/")
    timezone: Mapped[str | None] = mapped_column(String(64))
    # On the root unit (the company): how phones without a country code are read (ISO 3166
    # alpha-2); None means the setting DEFAULT_PHONE_REGION.
    phone_region: Mapped[str | None] = mapped_column(String(2))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    parent: Mapped["OrgUnit | None"] = relationship(remote_side=[id])


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    handle: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    unit_id: Mapped[int] = mapped_column(ForeignKey("org_units.id"), index=True)
    role: Mapped[str] = mapped_column(String(16), default=Role.REP)
    data_scope: Mapped[str] = mapped_column(String(16), default=DataScope.SELF)
    manager_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    locale: Mapped[str] = mapped_column(String(8), default="en")
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    unit: Mapped[OrgUnit] = relationship()
    identities: Mapped[list["PlatformIdentity"]] = relationship(back_populates="user")


class TeamChannel(Base):
    __tablename__ = "team_channels"
    __table_args__ = (UniqueConstraint("platform", "workspace", "chat_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    platform: Mapped[str] = mapped_column(String(16))
    workspace: Mapped[str] = mapped_column(String(64), default="")
    chat_id: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200), default="")
    unit_id: Mapped[int] = mapped_column(ForeignKey("org_units.id"), index=True)
    locale: Mapped[str] = mapped_column(String(8), default="en")
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    # Ancestor units' channels receive announcements from below only when they ask for it.
    include_subunits: Mapped[bool] = mapped_column(Boolean, default=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    quiet_start: Mapped[int | None] = mapped_column(Integer)  # minutes after local midnight
    quiet_end: Mapped[int | None] = mapped_column(Integer)

    unit: Mapped[OrgUnit] = relationship()
