"""A hand-checked set of li's customers and what they paid (回款) over the last 12 months, on the
demo org; the day the tiers are worked out."""
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from bot.bootstrap import build_router
from bot.config import Settings
from bot.router import Router
from bot.services.core.org_file import load_org_text
from bot.services.customers import tiers
from db.models import Customer, Deal, Payment, User
from db.session import Database

ON = date(2026, 11, 26)  # a Thursday
NIGHT = datetime(2026, 11, 25, 18, 30, tzinfo=UTC)  # 02:30 on the 26th in Asia/Shanghai
MORNING = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)  # 10:00 on the 26th in Asia/Shanghai
# name -> payments (days before ON, amount); Dormant paid 13 months ago only.
PAID = {
    "Big Buyer": [(10, 60000), (200, 40000)],
    "Steady Two": [(30, 50000)],
    "Steady Three": [(5, 50000)],
    "Small Shop": [(100, 10000)],
    "Never Paid": [],
    "Dormant": [(400, 900000)],
}


@dataclass(frozen=True)
class Book:
    ids: dict[str, int]


def user(uow, handle: str) -> User:
    return uow.session.scalar(select(User).where(User.handle == handle))


def load(db, text: str) -> None:
    """As an admin loads an org file."""
    with db.uow() as uow:
        load_org_text(uow, text, "org.yaml", "Asia/Shanghai", "en")
        uow.commit()


@pytest.fixture
def router(db: Database, settings: Settings) -> Router:
    """The console's router on the book's day: what a customer paid "in 12 months" does not run
    out as the machine's date moves on."""
    return build_router(db, settings, clock=lambda: MORNING)


@pytest.fixture
def book(demo_org) -> Book:
    ids = {}
    with demo_org.uow() as uow:
        li = user(uow, "li")
        for name, payments in PAID.items():
            customer = Customer(name=name, name_key=name.lower(), owner_id=li.id,
                                created_at=datetime(2025, 1, 6, 2, tzinfo=UTC))
            uow.session.add(customer)
            uow.session.flush()
            deal = Deal(name=f"{name} order", customer_id=customer.id, owner_id=li.id, stage="won",
                        amount=Decimal(sum(a for _, a in payments)))
            uow.session.add(deal)
            uow.session.flush()
            for days, amount in payments:
                uow.session.add(Payment(deal_id=deal.id, amount=Decimal(amount), currency="CNY",
                                        paid_on=ON - timedelta(days=days), owner_id=li.id))
            ids[name] = customer.id
        uow.commit()
    return Book(ids)


def recompute(db, on: date = ON, now: datetime = NIGHT) -> int:
    with db.uow() as uow:
        changed = tiers.recompute(uow, on, now).changed
        uow.commit()
    return changed


def tiers_of(db, book: Book) -> dict[str, str | None]:
    with db.uow() as uow:
        return {name: tiers.effective(uow.session.get(Customer, cid)) for name, cid in book.ids.items()}
