"""Public pools (公海) of leads, their rules, and who sees them."""
from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base, UTCDateTime, utcnow


class Pool(Base):
    """A public pool (公海) with its rules; defaults are those of docs/design/rules.md."""

    __tablename__ = "pools"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("org_units.id"))
    max_open_leads: Mapped[int] = mapped_column(Integer, default=50)
    daily_claim_limit: Mapped[int] = mapped_column(Integer, default=20)
    return_no_followup_days: Mapped[int | None] = mapped_column(Integer, default=7)
    # Days after the claim before a lead goes back: with no deal created from it (..._deal_created_days),
    # or with none of its deals won (return_no_deal_days); None turns the rule off.
    return_no_deal_created_days: Mapped[int | None] = mapped_column(Integer, default=None)
    return_no_deal_days: Mapped[int | None] = mapped_column(Integer, default=30)
    warn_days_before: Mapped[int] = mapped_column(Integer, default=1)
    reclaim_cooldown_days: Mapped[int] = mapped_column(Integer, default=3)
    # Per customer level overrides, e.g. {"A": {"return_no_followup_days": 14}}.
    level_rules: Mapped[dict] = mapped_column(JSON, default=dict)
    auto_distribute: Mapped[bool] = mapped_column(Boolean, default=False)
    # How auto-distribution picks the rep: plain (most room first) or matched (weighted by each rep's
    # conversion rate on leads like this one; bot.services.leads.matching).
    distribution: Mapped[str] = mapped_column(String(8), default="plain")
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
    # Taken out of the pool (an org file or /pool admin members remove); the row stays as history.
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
