"""Tables of the leads capability beyond the core ones in crm.py: the claim log (daily limit),
follow-up records (处理结果/销售记录) and the return warnings already sent."""
from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base, UTCDateTime, utcnow


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
