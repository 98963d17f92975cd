"""Deals (商机), the payments received on them (回款), and the configurable lose reasons."""
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import Boolean, Date, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from db.base import MONEY, Base, UTCDateTime, utcnow


class Stage(StrEnum):
    INITIAL = "initial"  # 初步沟通
    INTENT = "intent"  # 确定意向
    NEGOTIATION = "negotiation"  # 商务洽谈
    WON = "won"
    LOST = "lost"


class Deal(Base):
    """A deal (商机)."""

    __tablename__ = "deals"
    __table_args__ = (
        Index("ix_deals_owner_stage", "owner_id", "stage"),
        Index("ix_deals_won", "stage", "won_at"),
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


class Payment(Base):
    """One payment received on a deal (回款); partial payments add up to Deal.collected_amount."""

    __tablename__ = "deal_payments"
    __table_args__ = (
        Index("ix_deal_payments_paid_on", "paid_on", "deal_id"),
        Index("ix_deal_payments_owner", "owner_id", "paid_on"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    deal_id: Mapped[int] = mapped_column(ForeignKey("deals.id"), index=True)
    amount: Mapped[Decimal] = mapped_column(MONEY)
    currency: Mapped[str] = mapped_column(String(3))
    paid_on: Mapped[date] = mapped_column(Date)
    # The rep credited with it: the deal's owner when it was recorded.
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class LoseReason(Base):
    """A configurable lose reason; when the table is empty the built-in list applies."""

    __tablename__ = "lose_reasons"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
