"""Leads, their history, and the leads capability's own logs: claims (daily limit), follow-up records
(处理结果/销售记录) and the return warnings already sent. Leads are never hard-deleted: they carry a status."""
from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    JSON,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from db.base import Base, UTCDateTime, utcnow
from db.models.org import User


class LeadStatus(StrEnum):
    UNASSIGNED = "unassigned"  # 未分配
    PENDING = "pending"  # 待处理
    FOLLOWING = "following"  # 跟进中
    INVALID = "invalid"  # 无效
    CONVERTED = "converted"  # 已转换
    VOIDED = "voided"  # 已作废


OPEN_LEAD_STATUSES = (LeadStatus.PENDING, LeadStatus.FOLLOWING, LeadStatus.INVALID)


# Unassigned leads with a place: the pool leads /nearby looks among (a literal predicate, as on customers).
LEADS_PLACED = "status = 'unassigned' AND latitude IS NOT NULL"


class Lead(Base):
    __tablename__ = "leads"
    __table_args__ = (
        # The /pool page: newest unassigned leads of a pool.
        Index("ix_leads_pool_page", "pool_id", "status", "created_at"),
        Index("ix_leads_owner_status", "owner_id", "status"),
        # /nearby's bounding box over the pool (bot.services.visits.nearby), as on customers.
        Index("ix_leads_unassigned_coordinates", "latitude", "longitude",
              postgresql_where=text(LEADS_PLACED), sqlite_where=text(LEADS_PLACED)),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    company: Mapped[str] = mapped_column(String(300))
    name_key: Mapped[str] = mapped_column(String(300), index=True)
    contact_name: Mapped[str | None] = mapped_column(String(200))
    # From an import: the contact's birthday (MM-DD or YYYY-MM-DD) and greeting language, given to
    # the contact conversion makes of him (bot.services.leads.contacts).
    contact_birthday: Mapped[str | None] = mapped_column(String(10))
    contact_language: Mapped[str | None] = mapped_column(String(8))
    phone: Mapped[str | None] = mapped_column(String(64))
    phone_key: Mapped[str | None] = mapped_column(String(32), index=True)
    region: Mapped[str | None] = mapped_column(String(100))
    source: Mapped[str | None] = mapped_column(String(100))
    industry: Mapped[str | None] = mapped_column(String(100))
    level: Mapped[str] = mapped_column(String(8), default="C")
    note: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default=LeadStatus.UNASSIGNED)
    pool_id: Mapped[int | None] = mapped_column(ForeignKey("pools.id"))
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_followup_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    locked: Mapped[bool] = mapped_column(Boolean, default=False)  # never returned automatically
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"))  # set on conversion
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    # As on customers: import | visit | reanchor, and trusted | tentative (bot.services.visits.places).
    location_source: Mapped[str | None] = mapped_column(String(16))
    location_set_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    location_trust: Mapped[str | None] = mapped_column(String(12))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    owner: Mapped[User | None] = relationship(foreign_keys=[owner_id])


class LeadEvent(Base):
    """Every transition and owner change of a lead: who, when, from, to, why. Append-only history:
    only its lead is a foreign key; the people and the pool it names are never deleted (see
    migration 0017: the set-based writes would check each per row)."""

    __tablename__ = "lead_events"
    __table_args__ = (
        Index("ix_lead_events_lead", "lead_id", "at"),
        # Matched distribution reads the last months' claims and assignments. The history is
        # appended in time order: BRIN on PostgreSQL (tiny, nearly free for a claim or a sweep to
        # maintain; a btree here cost the claim), a btree on SQLite.
        Index("ix_lead_events_at", "at", postgresql_using="brin"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    lead_id: Mapped[int] = mapped_column(ForeignKey("leads.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(Integer)  # users.id; None: the scheduler
    kind: Mapped[str] = mapped_column(String(24))  # create|claim|assign|follow|invalid|release|return|void|convert|handover
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str | None] = mapped_column(String(16))
    from_owner_id: Mapped[int | None] = mapped_column(Integer)  # users.id
    to_owner_id: Mapped[int | None] = mapped_column(Integer)  # users.id
    pool_id: Mapped[int | None] = mapped_column(Integer)  # pools.id
    reason: Mapped[str | None] = mapped_column(Text)
    # What an automatic step weighed: auto-distribution's mode and each candidate's weight.
    data: Mapped[dict | None] = mapped_column(JSON)


class LeadClaim(Base):
    """One row per claim: counts a rep's claims of the day against the pool's daily limit."""

    __tablename__ = "lead_claims"
    __table_args__ = (Index("ix_lead_claims_user_at", "user_id", "claimed_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    lead_id: Mapped[int] = mapped_column(ForeignKey("leads.id"))
    pool_id: Mapped[int | None] = mapped_column(ForeignKey("pools.id"))
    claimed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class LeadFollowup(Base):
    """A follow-up record: who worked the lead, when, and what came of it."""

    __tablename__ = "lead_followups"
    __table_args__ = (Index("ix_lead_followups_lead_at", "lead_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    lead_id: Mapped[int] = mapped_column(ForeignKey("leads.id"))
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    note: Mapped[str] = mapped_column(Text)


class LeadReturnWarning(Base):
    """A warning sent before an automatic return; one per lead, owner and last activity."""

    __tablename__ = "lead_return_warnings"
    __table_args__ = (UniqueConstraint("lead_id", "owner_id", "basis_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    lead_id: Mapped[int] = mapped_column(ForeignKey("leads.id"))
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    # The owner's last activity on the lead when warned: a new follow-up earns a new warning later.
    basis_at: Mapped[datetime] = mapped_column(UTCDateTime())
    days_left: Mapped[int] = mapped_column(Integer)
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
