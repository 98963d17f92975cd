"""Customers and their contacts, and the per-unit customer settings (tiers, revisit cadence).
Nothing here is ever hard-deleted: records carry a status instead."""
from datetime import datetime
from decimal import Decimal

from sqlalchemy import Float, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from db.base import MONEY, Base, UTCDateTime, utcnow
from db.models.org import User

# Active customers with a place: the rows /nearby looks among. Queries spell the predicate with SQL
# literals so that it matches the partial index in a generic plan too.
CUSTOMERS_PLACED = "status = 'active' AND latitude IS NOT NULL"


class Customer(Base):
    __tablename__ = "customers"
    __table_args__ = (
        Index("ix_customers_owner", "owner_id", "status"),
        # /nearby's bounding box (bot.services.visits.nearby): a latitude range, longitudes read in the index.
        Index("ix_customers_coordinates", "latitude", "longitude",
              postgresql_where=text(CUSTOMERS_PLACED), sqlite_where=text(CUSTOMERS_PLACED)),
    )

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
    # Where the place came from (import | owner | manager | visit | reanchor) and how far it is
    # trusted (trusted | tentative; None without a place): see bot.services.visits.places.
    location_source: Mapped[str | None] = mapped_column(String(16))
    location_set_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    location_trust: Mapped[str | None] = mapped_column(String(12))
    status: Mapped[str] = mapped_column(String(16), default="active")  # active | voided
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # The tier A-E (bot.services.customers.tiers): computed nightly from the collected amount
    # (None until the first run), or pinned by a manager with a reason; the pin wins.
    tier: Mapped[str | None] = mapped_column(String(1))
    tier_computed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # when the computed tier last changed
    tier_pinned: Mapped[str | None] = mapped_column(String(1))
    tier_pin_reason: Mapped[str | None] = mapped_column(String(200))
    tier_pinned_by_id: Mapped[int | None] = mapped_column(Integer)  # a plain id, as in the audit log
    tier_pinned_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    owner: Mapped[User | None] = relationship(foreign_keys=[owner_id])


class Contact(Base):
    __tablename__ = "contacts"
    __table_args__ = (Index("ix_contacts_birthday", "birth_month", "birth_day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(64))
    phone_key: Mapped[str | None] = mapped_column(String(32), index=True)
    title: Mapped[str | None] = mapped_column(String(100))
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    # A birthday is a month and a day; the year only when known (bot.services.leads.care).
    birth_month: Mapped[int | None] = mapped_column(Integer)
    birth_day: Mapped[int | None] = mapped_column(Integer)
    birth_year: Mapped[int | None] = mapped_column(Integer)
    # The language greetings to him are written in (en | zh); None: the deployment's DEFAULT_LOCALE.
    language: Mapped[str | None] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(16), default="active")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class CustomerFollowup(Base):
    """A follow-up record on a customer (客户跟进): who worked him, when, and what came of it. Its own
    table beside lead_followups: a customer's follow-ups never touch a lead's status or return clock."""

    __tablename__ = "customer_followups"
    __table_args__ = (Index("ix_customer_followups_customer_at", "customer_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    note: Mapped[str] = mapped_column(Text)


class CustomerSettings(Base):
    """A unit's customer settings (and, by inheritance, its subtree's): the revisit cadence per tier
    in days (None: no revisit expected), and, read on the company's top unit only, the collected
    amounts from which a customer is in each tier (all None: quantiles)."""

    __tablename__ = "customer_settings"

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("org_units.id"), unique=True)
    cadence_a: Mapped[int | None] = mapped_column(Integer, default=7)
    cadence_b: Mapped[int | None] = mapped_column(Integer, default=14)
    cadence_c: Mapped[int | None] = mapped_column(Integer, default=30)
    cadence_d: Mapped[int | None] = mapped_column(Integer, default=60)
    cadence_e: Mapped[int | None] = mapped_column(Integer)
    tier_a_min: Mapped[Decimal | None] = mapped_column(MONEY)
    tier_b_min: Mapped[Decimal | None] = mapped_column(MONEY)
    tier_c_min: Mapped[Decimal | None] = mapped_column(MONEY)
    tier_d_min: Mapped[Decimal | None] = mapped_column(MONEY)
    # Taken out by an org file that no longer writes it (kept as history): the unit follows the one above.
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
