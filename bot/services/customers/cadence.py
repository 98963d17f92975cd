"""Revisit cadence: how often a customer of each tier should be visited (settings.py, per unit,
following the owner's unit up the tree; defaults A 7 days, B 14, C 30, D 60, E none).

Counted in calendar days from the customer's last counted visit (verified or approved, by anyone),
or from the day he became a customer when never visited, in the owner's time zone. A due date on a
weekend or a company holiday (the org file's `holidays:`) moves to the next working day. Due on a
day: that day is the due date; overdue: the due date has passed. A customer with no tier yet, or
whose tier has no cadence (E by default), is never due.

The owner is nudged privately about his overdue customers (bot.services.deals.nudges, on working
days, with the nudge switch); the manager's digest counts them per rep (bot.services.visits.digest);
`due_customers` is what a day plan reads."""
from collections import Counter
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import and_, func, select

from bot.services.core.queries import among
from bot.services.customers import tiers
from bot.services.customers.settings import cadence_of_units
from bot.services.deals import periods
from db.models import Customer, User, Visit
from db.session import UnitOfWork

HOLIDAY_LOOKAHEAD = timedelta(days=31)  # longer than any run of non-working days


@dataclass(frozen=True)
class DueCustomer:
    customer_id: int
    name: str
    owner_id: int
    tier: str
    cadence_days: int
    last_visit: date | None  # None: never visited (counted from the day he became a customer)
    due_on: date
    overdue: bool  # the due date is before the day asked about
    latitude: float | None = None  # its place, for a day's route (bot.services.plans)
    longitude: float | None = None


def due_on(base: date, days: int, holidays: set[date]) -> date:
    """`days` calendar days after `base`, moved to the next working day."""
    return periods.next_working_day(base + timedelta(days=days), holidays)


def due_customers(uow: UnitOfWork, user_id: int, on: date) -> list[DueCustomer]:
    """The user's customers overdue or due on `on`, the longest overdue first."""
    return [due for due in schedule(uow, [user_id], on) if due.due_on <= on]


def overdue_counts(uow: UnitOfWork, user_ids: list[int], on: date) -> Counter[int]:
    """Per owner, how many of his customers are overdue on `on`."""
    return Counter(due.owner_id for due in schedule(uow, user_ids, on) if due.overdue)


def schedule(uow: UnitOfWork, owner_ids: list[int], on: date) -> list[DueCustomer]:
    """The next due date of every active customer of these owners that has a cadence, soonest first.
    Read for thousands of owners at once (the morning push): one statement for their customers, and
    a due date worked out once per (base day, cadence), which many customers share."""
    if not owner_ids:
        return []
    connection = uow.session.connection()
    owners = {row.id: row for row in connection.execute(
        select(User.id, User.unit_id, User.timezone).where(among(uow, User.id, owner_ids)))}
    cadences = cadence_of_units(uow, {owner.unit_id for owner in owners.values()})
    zones = {owner_id: ZoneInfo(owner.timezone or "UTC") for owner_id, owner in owners.items()}
    tier = tiers.effective_column()
    rows = connection.execute(
        select(Customer.id, Customer.name, Customer.owner_id, tier, Customer.created_at, func.max(Visit.started_at),
               Customer.latitude, Customer.longitude)
        .outerjoin(Visit, and_(Visit.customer_id == Customer.id, Visit.counts.is_(True), Visit.kind == "visit"))
        .where(among(uow, Customer.owner_id, owner_ids), Customer.status == "active", tier.is_not(None))
        .group_by(Customer.id, Customer.name, Customer.owner_id, tier, Customer.created_at, Customer.latitude,
                  Customer.longitude)
    ).all()
    planned = []
    for cid, name, owner_id, letter, created_at, last, latitude, longitude in rows:
        days = cadences[owners[owner_id].unit_id].days(letter)
        if days is None:
            continue
        zone = zones[owner_id]
        last_visit = last.astimezone(zone).date() if last is not None else None
        base = last_visit or created_at.astimezone(zone).date()
        planned.append((cid, name, owner_id, letter, days, last_visit, base, latitude, longitude))
    if not planned:
        return []
    ends = {base + timedelta(days=days) for *_, days, _last, base, _lat, _lon in planned}
    holidays = periods.holidays_between(uow, min(ends), max(ends) + HOLIDAY_LOOKAHEAD)
    due_dates: dict[tuple[date, int], date] = {}
    found = []
    for cid, name, owner_id, letter, days, last_visit, base, latitude, longitude in planned:
        due = due_dates.get((base, days))
        if due is None:
            due = due_dates[base, days] = due_on(base, days, holidays)
        found.append(DueCustomer(cid, name, owner_id, letter, days, last_visit, due, due < on, latitude, longitude))
    return sorted(found, key=lambda d: (d.due_on, d.name, d.customer_id))


@dataclass(frozen=True)
class Standing:
    """What /customer shows beside the tier: the amount collected over 12 months, the next visit due."""

    collected: Decimal
    due: DueCustomer | None  # None: no revisit expected (no tier yet, or a tier without cadence)


def standing(uow: UnitOfWork, customer_id: int, owner_id: int | None, on: date) -> Standing:
    """For a customer the caller may already see."""
    due = next((d for d in schedule(uow, [owner_id], on) if d.customer_id == customer_id), None) if owner_id else None
    return Standing(tiers.collected(uow, customer_id, on), due)
