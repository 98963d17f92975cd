"""Customer care (客户关怀): the day before a contact's birthday, or a public holiday his customer
keeps, the customer's owner gets one direct message, from 09:00 on his own clock, with a greeting to
send in the customer's language.

Whose holidays: the language the greeting is written in decides. Chinese (zh) customers keep
China's public holidays, as the `holidays` package knows them (CN: New Year's Day, the Spring
Festival, the Dragon Boat and Mid-Autumn Festivals, National Day); English (en) customers the
international ones (New Year's Day, Christmas Day, read from its US calendar). Only the first day of
a holiday is greeted, and only those with a greeting (templates care/greetings). A customer's
language is its first contact's, else the deployment's DEFAULT_LOCALE.

Every day alike, working or not (a birthday does not wait for Monday). Once per owner and local
day, across processes: the send is claimed as a `nudge_log` row (kind `care`) in the transaction
that queues it. The owner's `/nudges off` turns these off too: they are private nudges.
"""
import calendar
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import cache
from zoneinfo import ZoneInfo

import holidays as public_holidays
from sqlalchemy import select

from bot.services.core import outbox
from bot.services.deals.nudges import log_once
from db.models import Contact, Customer, User
from db.models.nudge import NudgeLog, NudgeSettings
from db.session import UnitOfWork

CARE_HOUR = 9
MAX_LINES = 10
MAX_CUSTOMERS_NAMED = 5
# The greeting's language -> (the `holidays` calendar, {its English name of a holiday: greeting}).
CALENDARS: dict[str, tuple[str, dict[str, str]]] = {
    "zh": ("CN", {"New Year's Day": "new_year", "Chinese New Year (Spring Festival)": "spring_festival",
                  "Dragon Boat Festival": "dragon_boat", "Mid-Autumn Festival": "mid_autumn",
                  "National Day": "national_day"}),
    "en": ("US", {"New Year's Day": "new_year", "Christmas Day": "christmas"}),
}


@dataclass(frozen=True)
class BirthdayCare:
    contact: str
    customer_id: int
    customer: str
    language: str


@dataclass(frozen=True)
class HolidayCare:
    holiday: str  # a greeting key: spring_festival, christmas...
    language: str
    customers: list[str]  # the first few by name
    more: int = 0


@dataclass
class CareDay:
    day: date  # tomorrow, on the owner's clock
    birthdays: list[BirthdayCare] = field(default_factory=list)
    more_birthdays: int = 0
    holidays: list[HolidayCare] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.birthdays and not self.holidays


def next_birthday(month: int, day: int, today: date) -> date:
    """The next day, today or later, a birthday is kept on; 02-29 is kept on 02-28 in other years."""
    for year in (today.year, today.year + 1):
        kept = date(year, month, min(day, calendar.monthrange(year, month)[1]))
        if kept >= today:
            return kept
    raise AssertionError("unreachable: a birthday comes within a year")


@cache
def _calendar(country: str, year: int) -> dict[date, str]:
    return dict(public_holidays.country_holidays(country, years=year, language="en_US"))


def holiday_on(language: str, day: date) -> str | None:
    """The greeting key of a holiday whose first day is `day` in that language's calendar."""
    country, greetings = CALENDARS.get(language, CALENDARS["en"])
    name = _calendar(country, day.year).get(day)
    before = day - timedelta(days=1)
    if name is None or _calendar(country, before.year).get(before) == name:
        return None
    return greetings.get(name)


def care_for(uow: UnitOfWork, owner_id: int, day: date, default_locale: str) -> CareDay:
    """What the owner's customers celebrate on `day`."""
    care = CareDay(day)
    customers = {cid: name for cid, name in uow.session.execute(
        select(Customer.id, Customer.name).where(Customer.owner_id == owner_id, Customer.status == "active")
        .order_by(Customer.id))}
    if not customers:
        return care
    language: dict[int, str] = {}
    for contact in uow.session.scalars(
            select(Contact).where(Contact.customer_id.in_(customers), Contact.status == "active")
            .order_by(Contact.id)):
        speaks = contact.language or default_locale
        language.setdefault(contact.customer_id, speaks)
        if contact.birth_month is not None and next_birthday(contact.birth_month, contact.birth_day, day) == day:
            care.birthdays.append(BirthdayCare(contact.name, contact.customer_id, customers[contact.customer_id],
                                               speaks))
    care.more_birthdays = max(0, len(care.birthdays) - MAX_LINES)
    care.birthdays = care.birthdays[:MAX_LINES]
    keeping: dict[str, list[str]] = defaultdict(list)
    for cid, name in customers.items():
        keeping[language.get(cid, default_locale)].append(name)
    for speaks, names in sorted(keeping.items()):
        holiday = holiday_on(speaks, day)
        if holiday is not None:
            care.holidays.append(HolidayCare(holiday, speaks, names[:MAX_CUSTOMERS_NAMED],
                                             max(0, len(names) - MAX_CUSTOMERS_NAMED)))
    return care


def send_due(uow: UnitOfWork, now: datetime, default_locale: str) -> int:
    """Queue every owner's care reminder due at `now` (from CARE_HOUR local); safe to run often and
    in several processes at once. Returns the reminders queued."""
    switched_off = set(uow.session.scalars(select(NudgeSettings.user_id).where(NudgeSettings.enabled.is_(False))))
    # Already reminded today (their local day: at most a day from UTC's): not worked out again every run.
    done = {(user_id, day) for user_id, day in uow.session.execute(
        select(NudgeLog.user_id, NudgeLog.day).where(NudgeLog.kind == "care", NudgeLog.day >= now.date() - timedelta(days=1)))}
    owners = uow.session.scalars(
        select(User).where(User.active.is_(True), User.id.in_(
            select(Customer.owner_id).where(Customer.status == "active").distinct())).order_by(User.id)).all()
    sent = 0
    for owner in owners:
        local = now.astimezone(ZoneInfo(owner.timezone or "UTC"))
        if owner.id in switched_off or local.hour < CARE_HOUR or (owner.id, local.date()) in done:
            continue
        care = care_for(uow, owner.id, local.date() + timedelta(days=1), default_locale)
        if care.empty or not log_once(uow, owner.id, local.date(), "care", {"day": care.day.isoformat()}, now):
            continue
        if outbox.queue_direct(uow, owner.id, "care/reminder", {"care": care},
                               dedupe_key=f"care:{owner.id}:{local.date()}", now=now):
            sent += 1
    return sent
