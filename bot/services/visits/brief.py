"""A brief when a visit starts: the last visit there (its date and note), the customer's open deals
with their stage and amount, what is still unpaid on won deals, and a contact's birthday in the next
week. A lead has no deals: the brief shows its last visit and its last follow-up (/follow). Empty
parts are left out."""
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from bot.services.leads.care import next_birthday
from bot.services.visits.visit_targets import Target
from db.models import Contact, Deal, LeadEvent, Stage, Visit
from db.session import UnitOfWork

BIRTHDAY_DAYS = 7
MAX_DEALS = 3
NOTE_CHARS = 80


@dataclass(frozen=True)
class OpenDeal:
    id: int
    stage: str
    amount: Decimal
    currency: str


@dataclass(frozen=True)
class Birthday:
    name: str
    day: date
    days: int  # 0: today


@dataclass(frozen=True)
class Brief:
    last_visit_day: date | None = None  # in the rep's zone
    last_visit_note: str | None = None
    open_deals: list[OpenDeal] = field(default_factory=list)
    more_deals: int = 0
    unpaid: list[tuple[Decimal, str]] = field(default_factory=list)  # amount, currency
    birthdays: list[Birthday] = field(default_factory=list)
    last_follow_day: date | None = None  # a lead's
    last_follow_note: str | None = None

    @property
    def empty(self) -> bool:
        return (self.last_visit_day is None and self.last_follow_day is None and not self.open_deals
                and not self.unpaid and not self.birthdays)


def visit_brief(uow: UnitOfWork, target: Target, today: date, zone: ZoneInfo,
                visit_id: int | None = None) -> Brief:
    """What the rep should know walking in; `visit_id`, the visit just started, is not its own last visit."""
    column = Visit.customer_id if target.kind == "customer" else Visit.lead_id
    last = uow.session.scalar(
        select(Visit).where(column == target.id, Visit.kind == "visit", Visit.id != (visit_id or 0))
        .order_by(Visit.started_at.desc(), Visit.id.desc()).limit(1))
    day = last.started_at.astimezone(zone).date() if last is not None else None
    note = _short((last.end_note or last.note) if last is not None else None)
    if target.kind != "customer":
        follow = uow.session.scalar(
            select(LeadEvent).where(LeadEvent.lead_id == target.id, LeadEvent.kind == "follow")
            .order_by(LeadEvent.at.desc(), LeadEvent.id.desc()).limit(1))
        if follow is None:
            return Brief(day, note)
        return Brief(day, note, last_follow_day=follow.at.astimezone(zone).date(), last_follow_note=_short(follow.reason))
    deals = list(uow.session.scalars(
        select(Deal).where(Deal.customer_id == target.id, Deal.stage.not_in((Stage.WON, Stage.LOST)))
        .order_by(Deal.amount.desc(), Deal.id)))
    unpaid = [(Decimal(amount), currency) for currency, amount in uow.session.execute(
        select(Deal.currency, func.sum(Deal.amount - Deal.collected_amount))
        .where(Deal.customer_id == target.id, Deal.stage == Stage.WON)
        .group_by(Deal.currency).order_by(Deal.currency)) if amount and amount > 0]
    return Brief(day, note, [OpenDeal(d.id, d.stage, Decimal(d.amount), d.currency) for d in deals[:MAX_DEALS]],
                 max(0, len(deals) - MAX_DEALS), unpaid, _birthdays(uow, target.id, today))


def _birthdays(uow: UnitOfWork, customer_id: int, today: date) -> list[Birthday]:
    soon = []
    for contact in uow.session.scalars(
            select(Contact).where(Contact.customer_id == customer_id, Contact.status == "active",
                                  Contact.birth_month.is_not(None)).order_by(Contact.id)):
        day = next_birthday(contact.birth_month, contact.birth_day, today)
        if (day - today).days <= BIRTHDAY_DAYS:
            soon.append(Birthday(contact.name, day, (day - today).days))
    return sorted(soon, key=lambda b: b.day)


def _short(note: str | None) -> str | None:
    if not note:
        return None
    note = " ".join(note.split())
    return note if len(note) <= NOTE_CHARS else note[:NOTE_CHARS - 1] + "…"
