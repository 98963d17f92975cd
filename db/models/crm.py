"""The CRM records every capability shares: customers, contacts, pools, leads and their history, deals.

Capability-specific tables (visits, pool claims, payments, targets, audit...) live in their own modules.
Nothing here is ever hard-deleted: records carry a status instead.
"""
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from db.base import Base, UTCDateTime, utcnow
from db.models.org import User

MONEY = Numeric(16, 2)


class Customer(Base):
    __tablename__ = "customers"
    __table_args__ = (Index("ix_customers_owner", "owner_id", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(300))
    # Normalised for the duplicate check (case, width, spaces, punctuation, legal suffixes).
    name_key: Mapped[str] = mapped_column(String(300), index=True)
    phone: Mapped[str | None] = mapped_column(String(64))
    phone_key: Mapped[str | None] = mapped_column(String(32), index=True)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    level: Mapped[str] = mapped_column(String(8), default="C")
    industry: Mapped[str | None] = mapped_column(String(100))
    region: Mapped[str | None] = mapped_column(String(100))
    address: Mapped[str | None] = mapped_column(String(500))
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    location_source: Mapped[str | None] = mapped_column(String(16))  # visit | owner | import
    location_set_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(16), default="active")  # active | voided
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    owner: Mapped[User | None] = relationship(foreign_keys=[owner_id])


class Contact(Base):
    __tablename__ = "contacts"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(64))
    phone_key: Mapped[str | None] = mapped_column(String(32), index=True)
    title: Mapped[str | None] = mapped_column(String(100))
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    status: Mapped[str] = mapped_column(String(16), default="active")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Pool(Base):
    """A public pool (公海) with its rules; the defaults are those of docs/design/rules.md."""

    __tablename__ = "pools"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("org_units.id"))
    max_open_leads: Mapped[int] = mapped_column(Integer, default=50)
    daily_claim_limit: Mapped[int] = mapped_column(Integer, default=20)
    return_no_followup_days: Mapped[int | None] = mapped_column(Integer, default=7)
    return_no_opportunity_days: Mapped[int | None] = mapped_column(Integer, default=None)
    return_no_deal_days: Mapped[int | None] = mapped_column(Integer, default=30)
    warn_days_before: Mapped[int] = mapped_column(Integer, default=1)
    reclaim_cooldown_days: Mapped[int] = mapped_column(Integer, default=3)
    # Per customer level overrides, e.g. {"A": {"return_no_followup_days": 14}}.
    level_rules: Mapped[dict] = mapped_column(JSON, default=dict)
    auto_distribute: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class PoolMember(Base):
    """Who sees a pool: an org unit (and its subtree) or one user; admins assign from it."""

    __tablename__ = "pool_members"

    id: Mapped[int] = mapped_column(primary_key=True)
    pool_id: Mapped[int] = mapped_column(ForeignKey("pools.id"), index=True)
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("org_units.id"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)


class LeadStatus(StrEnum):
    UNASSIGNED = "unassigned"  # 未分配
    PENDING = "pending"  # 待处理
    FOLLOWING = "following"  # 跟进中
    INVALID = "invalid"  # 无效
    CONVERTED = "converted"  # 已转换
    VOIDED = "voided"  # 已作废


OPEN_LEAD_STATUSES = (LeadStatus.PENDING, LeadStatus.FOLLOWING, LeadStatus.INVALID)


class Lead(Base):
    __tablename__ = "leads"
    __table_args__ = (
        # The /pool page: newest unassigned leads of a pool.
        Index("ix_leads_pool_page", "pool_id", "status", "created_at"),
        Index("ix_leads_owner_status", "owner_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    company: Mapped[str] = mapped_column(String(300))
    name_key: Mapped[str] = mapped_column(String(300), index=True)
    contact_name: Mapped[str | None] = mapped_column(String(200))
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
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    owner: Mapped[User | None] = relationship(foreign_keys=[owner_id])


class LeadEvent(Base):
    """Every transition and owner change of a lead: who, when, from, to, why."""

    __tablename__ = "lead_events"
    __table_args__ = (Index("ix_lead_events_lead", "lead_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    lead_id: Mapped[int] = mapped_column(ForeignKey("leads.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))  # None: the scheduler
    kind: Mapped[str] = mapped_column(String(24))  # create|claim|assign|follow|invalid|release|return|void|convert|handover
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str | None] = mapped_column(String(16))
    from_owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    to_owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    pool_id: Mapped[int | None] = mapped_column(ForeignKey("pools.id"))
    reason: Mapped[str | None] = mapped_column(Text)


class Stage(StrEnum):
    INITIAL = "initial"  # 初步沟通
    INTENT = "intent"  # 确定意向
    NEGOTIATION = "negotiation"  # 商务洽谈
    WON = "won"
    LOST = "lost"


class Opportunity(Base):
    """A deal (商机)."""

    __tablename__ = "opportunities"
    __table_args__ = (
        Index("ix_opportunities_owner_stage", "owner_id", "stage"),
        Index("ix_opportunities_won", "stage", "won_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(300))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    lead_id: Mapped[int | None] = mapped_column(ForeignKey("leads.id"))
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    stage: Mapped[str] = mapped_column(String(16), default=Stage.INITIAL)
    amount: Mapped[Decimal] = mapped_column(MONEY, default=Decimal("0"))
    currency: Mapped[str] = mapped_column(String(3), default="CNY")
    expected_close: Mapped[date | None] = mapped_column(Date)
    won_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    lost_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    lost_reason: Mapped[str | None] = mapped_column(Text)
    collected_amount: Mapped[Decimal] = mapped_column(MONEY, default=Decimal("0"))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class RecordMember(Base):
    """A team member on a record (相关团队成员): read-only or read-write access to one record."""

    __tablename__ = "record_members"
    __table_args__ = (
        Index("ix_record_members_record", "record_type", "record_id"),
        Index("ix_record_members_user", "user_id", "record_type"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    record_type: Mapped[str] = mapped_column(String(16))  # lead | customer | opportunity
    record_id: Mapped[int] = mapped_column(Integer)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    access: Mapped[str] = mapped_column(String(8), default="read")  # read | write
    until: Mapped[date | None] = mapped_column(Date)
    added_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Visit(Base):
    """A visit (拜访) or a check-in/check-out (考勤): a rep somewhere, with the location he shared
    and the verdict on whether it can be trusted. Only rows with counts=True (verified, or
    approved by a manager) count on boards, targets and reports."""

    __tablename__ = "visits"
    __table_args__ = (
        # Previous visit/check-in of a rep (impossible travel) and a rep's day.
        Index("ix_visits_user_taken", "user_id", "taken_at"),
        # Boards: counted visits per rep per period.
        Index("ix_visits_counted", "counts", "started_at", "user_id"),
        Index("ix_visits_review", "verdict", "review_status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    kind: Mapped[str] = mapped_column(String(12), default="visit")  # visit | checkin | checkout
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"), index=True)
    lead_id: Mapped[int | None] = mapped_column(ForeignKey("leads.id"), index=True)
    status: Mapped[str] = mapped_column(String(12), default="open")  # waiting | open | closed
    note: Mapped[str | None] = mapped_column(Text)
    end_note: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    accuracy_m: Mapped[float | None] = mapped_column(Float)
    source: Mapped[str] = mapped_column(String(12), default="none")  # live|static|web|manual|venue|none
    taken_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # when the position was taken
    arrived_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # when it reached us
    distance_m: Mapped[float | None] = mapped_column(Float)
    verdict: Mapped[str] = mapped_column(String(12), default="unverified")  # verified|flagged|unverified|rejected
    reasons: Mapped[list] = mapped_column(JSON, default=list)
    no_location_reason: Mapped[str | None] = mapped_column(Text)
    location_deadline: Mapped[datetime | None] = mapped_column(UTCDateTime())
    review_status: Mapped[str] = mapped_column(String(12), default="none")  # none|approved|rejected
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    review_note: Mapped[str | None] = mapped_column(Text)
    counts: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
