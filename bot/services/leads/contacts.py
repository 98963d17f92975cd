"""A customer's contacts as his owner keeps them: `/customer ID contact NAME --birthday MM-DD
--language zh` adds the contact or changes the one of that name (case aside). A birthday is a month
and a day, the year optional; the language is the one greetings to him are written in
(bot.services.leads.care). Bad input writes nothing."""
import re
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func, select

from bot.config import LOCALES
from bot.errors import UserError
from bot.services.leads.lifecycle import MAX_CONTACT_CHARS, clean_optional
from bot.services.manager import scope
from db.models import Contact, Customer
from db.session import UnitOfWork

_BIRTHDAY = re.compile(r"^(?:(?P<year>\d{4})-)?(?P<month>\d{1,2})-(?P<day>\d{1,2})$")
LEAP_YEAR = 2000  # any leap year: a birthday may be 02-29


@dataclass(frozen=True)
class Birthday:
    month: int
    day: int
    year: int | None = None


@dataclass(frozen=True)
class ContactSet:
    customer_id: int
    customer_name: str
    contact_id: int
    name: str
    created: bool
    birthday: Birthday | None
    language: str | None


def parse_birthday(text: str, today: date) -> Birthday:
    """`03-15` or `1980-03-15` (a full-width dash or slash reads the same)."""
    cleaned = text.strip().replace("/", "-").replace("－", "-")
    match = _BIRTHDAY.match(cleaned)
    if match is None:
        raise UserError("customers/bad_birthday", value=text[:20])
    year = int(match["year"]) if match["year"] else None
    try:
        date(year or LEAP_YEAR, int(match["month"]), int(match["day"]))
    except ValueError:
        raise UserError("customers/bad_birthday", value=text[:20]) from None
    if year is not None and not 1900 <= year <= today.year:
        raise UserError("customers/bad_birthday", value=text[:20])
    return Birthday(int(match["month"]), int(match["day"]), year)


def parse_language(text: str) -> str:
    language = text.strip().lower()
    if language not in LOCALES:
        raise UserError("customers/bad_language", value=text[:20], choices=", ".join(LOCALES))
    return language


def imported_care(birthday: str | None, language: str | None, today: date) -> dict[str, str | None]:
    """A spreadsheet's contact birthday (as written back) and greeting language, for the
    `contact_birthday` and `contact_language` a lead keeps; a bad one raises UserError."""
    return {"contact_birthday": birthday_text(parse_birthday(birthday, today)) if birthday else None,
            "contact_language": parse_language(language) if language else None}


def birthday_text(born: Birthday) -> str:
    """As it is written back: `03-15`, `1980-03-15`."""
    day = f"{born.month:02d}-{born.day:02d}"
    return f"{born.year}-{day}" if born.year else day


def keep(contact: Contact, born: Birthday | None, speaks: str | None) -> None:
    """Give the contact a birthday and a greeting language; None leaves each as it is."""
    if born is not None:
        contact.birth_month, contact.birth_day, contact.birth_year = born.month, born.day, born.year
    if speaks is not None:
        contact.language = speaks


def birthday_of(contact: Contact) -> Birthday | None:
    if contact.birth_month is None or contact.birth_day is None:
        return None
    return Birthday(contact.birth_month, contact.birth_day, contact.birth_year)


def set_contact(uow: UnitOfWork, actor_id: int, cid: int, name: str | None, birthday: str | None,
                language: str | None, now: datetime) -> ContactSet:
    """Add or change a contact of a customer the actor may change; out of reach reads like not found."""
    name = clean_optional(name, MAX_CONTACT_CHARS, "contact")
    born = parse_birthday(birthday, now.date()) if birthday is not None else None
    speaks = parse_language(language) if language is not None else None
    customer = uow.session.get(Customer, cid)
    if customer is None or customer.status != "active":
        raise scope.not_found("customer", cid)
    scope.require(uow, scope.of(uow, actor_id, now.date()), "customer", customer.id, customer.owner_id, write=True)
    if name is None:
        raise UserError("customers/contact_name_missing")
    contact = uow.session.scalar(
        select(Contact).where(Contact.customer_id == cid, Contact.status == "active",
                              func.lower(Contact.name) == name.lower()).order_by(Contact.id).limit(1))
    created = contact is None
    if contact is None:
        contact = Contact(customer_id=cid, name=name, owner_id=customer.owner_id, created_at=now)
        uow.session.add(contact)
    keep(contact, born, speaks)
    uow.session.flush()
    return ContactSet(cid, customer.name, contact.id, contact.name, created, birthday_of(contact), contact.language)
