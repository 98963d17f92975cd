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
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, case, func, literal, select

from bot.services.core.queries import among
from bot.services.customers import tiers
from bot.services.customers.settings import TIERS, Cadence, cadence_of_units
from bot.services.deals import periods
from db.base import UTCDateTime
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
    return schedule(uow, [user_id], on, due_by=on)


def overdue_counts(uow: UnitOfWork, user_ids: list[int], on: date) -> Counter[int]:
    """Per owner, how many of his customers are overdue on `on`."""
    return Counter(due.owner_id for due in schedule(uow, user_ids, on, due_by=on - timedelta(days=1)))


def schedule(uow: UnitOfWork, owner_ids: list[int], on: date, due_by: date | None = None) -> list[DueCustomer]:
    """The next due date of every active customer of these owners that has a cadence, soonest first;
    with `due_by`, only those due on or before that day.
    Read for thousands of owners at once (the morning push): one statement for their customers, and
    a due date worked out once per (base day, cadence), which many customers share. With `due_by`
    the database already leaves out every customer visited too recently to be due (`_recent_enough`),
    so a push for 10,000 reps reads their due customers, not all 200,000."""
    if not owner_ids:
        return []
    connection = uow.session.connection()
    owners = {row.id: row for row in connection.execute(
        select(User.id, User.unit_id, User.timezone).where(among(uow, User.id, owner_ids)))}
    cadences = cadence_of_units(uow, {owner.unit_id for owner in owners.values()})
    zones = {owner_id: ZoneInfo(owner.timezone or "UTC") for owner_id, owner in owners.items()}
    tier = tiers.effective_column()
    last_visit_at = func.max(Visit.started_at)
    query = (
        select(Customer.id, Customer.name, Customer.owner_id, tier, Customer.created_at, last_visit_at,
               Customer.latitude, Customer.longitude)
        .outerjoin(Visit, and_(Visit.customer_id == Customer.id, Visit.counts.is_(True), Visit.kind == "visit"))
        .where(among(uow, Customer.owner_id, owner_ids), Customer.status == "active", tier.is_not(None))
        .group_by(Customer.id, Customer.name, Customer.owner_id, tier, Customer.created_at, Customer.latitude,
                  Customer.longitude)
    )
    if due_by is not None:
        recent = _recent_enough(tier, list(cadences.values()), due_by)
        if recent is None:
            return []
        query = query.having(func.coalesce(last_visit_at, Customer.created_at) < recent)
    rows = connection.execute(query).all()
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
        if due_by is None or due <= due_by:
            found.append(DueCustomer(cid, name, owner_id, letter, days, last_visit, due, due < on, latitude, longitude))
    return sorted(found, key=lambda d: (d.due_on, d.name, d.customer_id))


def _recent_enough(tier: ColumnElement, cadences: list[Cadence], due_by: date) -> ColumnElement | None:
    """Per tier, the moment from which a last visit is too recent for the customer to be due by
    `due_by` under any of these cadences: due dates only move later (to a working day), and a local
    day is at most one day off its UTC day, so two days' slack keeps every customer who might be due.
    None when no tier has a cadence."""
    shortest = {letter: min(days) for letter in TIERS
                if (days := [c.days(letter) for c in cadences if c.days(letter) is not None])}
    if not shortest:
        return None
    return case(*((tier == letter, literal(datetime.combine(due_by - timedelta(days=days - 2), time.min, UTC), UTCDateTime()))
                  for letter, days in shortest.items()))


@dataclass(frozen=True)
class Standing:
    """What /customer shows beside the tier: the amount collected over 12 months, the next visit due."""

    collected: Decimal
    due: DueCustomer | None  # None: no revisit expected (no tier yet, or a tier without cadence)


def standing(uow: UnitOfWork, customer_id: int, owner_id: int | None, on: date) -> Standing:
    """For a customer the caller may already see."""
    due = next((d for d in schedule(uow, [owner_id], on) if d.customer_id == customer_id), None) if owner_id else None
    return Standing(tiers.collected(uow, customer_id, on), due)
