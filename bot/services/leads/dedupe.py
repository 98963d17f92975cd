"""Duplicate check (查重): normalised company names and phone numbers, and where a match lives.

Names are compared after NFKC (full-width -> half-width), case folding, dropping spaces,
punctuation and symbols (emoji included) and common legal suffixes in Chinese and English.
Phone keys (E.164 in the company's phone region) come from db.phone_keys, which the migrations share.
"""
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import or_, select

from db.models import Customer, Lead, LeadStatus, Pool, User
from db.session import UnitOfWork

# Longest first, so 股份有限公司 goes before 有限公司 and 公司.
CHINESE_SUFFIXES = sorted(
    ["股份有限公司", "有限责任公司", "集团有限公司", "集团股份有限公司", "有限公司", "股份公司", "集团", "公司"],
    key=len, reverse=True,
)
ENGLISH_SUFFIXES = {
    "co", "company", "corp", "corporation", "inc", "incorporated", "ltd", "limited", "llc", "llp", "plc",
    "gmbh", "ag", "sa", "sarl", "bv", "nv", "pte", "pty", "kk", "group", "holdings", "srl", "spa",
}


def _keep(char: str) -> bool:
    return unicodedata.category(char)[0] in "LN"


def normalise_company(name: str) -> str:
    """The comparison key of a company name; '' when nothing but symbols is left."""
    text = unicodedata.normalize("NFKC", name).casefold()
    words = "".join(ch if _keep(ch) else " " for ch in text).split()
    while len(words) > 1 and words[-1] in ENGLISH_SUFFIXES:
        words.pop()
    key = "".join(words)
    stripped = True
    while stripped:
        stripped = False
        for suffix in CHINESE_SUFFIXES:
            if key.endswith(suffix):
                if len(key) > len(suffix):  # a name that is only a suffix keeps itself
                    key = key[: -len(suffix)]
                    stripped = True
                break
    return key[:300]


@dataclass(frozen=True)
class Match:
    kind: str  # lead | customer
    id: int
    name: str
    status: str
    owner_id: int | None
    owner_name: str | None
    pool_name: str | None
    by: str  # name | phone
    pool_id: int | None = None


@dataclass(frozen=True)
class Duplicates:
    """A duplicate check's answer for one caller: what is within his reach as useful as ever, what is
    outside it only as a count (no name, id, status or holder), and whom to ask about those."""
    shown: list[Match]
    hidden: int
    ask: str | None  # the caller's manager; None: ask an admin


def split(matches: list[Match], within: Callable[[Match], bool], ask: str | None) -> Duplicates:
    shown = [m for m in matches if within(m)]
    return Duplicates(shown, len(matches) - len(shown), ask if len(shown) < len(matches) else None)


def find_matches(uow: UnitOfWork, name_key: str, phone_key: str | None, exclude_lead_id: int | None = None,
                 limit: int = 5) -> list[Match]:
    """Existing leads (in anyone's hands or in a pool) and customers with the same name or phone.
    Voided leads do not count: voiding is how garbage is deleted."""
    return find_leads(uow, name_key, phone_key, exclude_lead_id, limit) + find_customers(uow, name_key, phone_key, limit)


def _key_filter(name_column, phone_column, name_key: str, phone_key: str | None):
    conditions = [name_column == name_key] if name_key else []
    if phone_key:
        conditions.append(phone_column == phone_key)
    return or_(*conditions) if conditions else None


def find_leads(uow: UnitOfWork, name_key: str, phone_key: str | None, exclude_lead_id: int | None = None,
               limit: int = 5) -> list[Match]:
    where = _key_filter(Lead.name_key, Lead.phone_key, name_key, phone_key)
    if where is None:
        return []
    query = (
        select(Lead, User.name, Pool.name)
        .outerjoin(User, User.id == Lead.owner_id)
        .outerjoin(Pool, Pool.id == Lead.pool_id)
        .where(where, Lead.status != LeadStatus.VOIDED)
        .order_by(Lead.id)
        .limit(limit)
    )
    if exclude_lead_id is not None:
        query = query.where(Lead.id != exclude_lead_id)
    return [
        Match("lead", lead.id, lead.company, lead.status, lead.owner_id, owner, pool,
              "name" if name_key and lead.name_key == name_key else "phone", lead.pool_id)
        for lead, owner, pool in uow.session.execute(query)
    ]


def find_customers(uow: UnitOfWork, name_key: str, phone_key: str | None, limit: int = 5) -> list[Match]:
    where = _key_filter(Customer.name_key, Customer.phone_key, name_key, phone_key)
    if where is None:
        return []
    query = (
        select(Customer, User.name)
        .outerjoin(User, User.id == Customer.owner_id)
        .where(where, Customer.status == "active")
        .order_by(Customer.id)
        .limit(limit)
    )
    return [
        Match("customer", customer.id, customer.name, customer.status, customer.owner_id, owner, None,
              "name" if name_key and customer.name_key == name_key else "phone")
        for customer, owner in uow.session.execute(query)
    ]


def existing_customer(uow: UnitOfWork, name_key: str, phone_key: str | None) -> Customer | None:
    """The customer a conversion links to: same name first, then same phone."""
    if name_key:
        by_name = uow.session.scalar(
            select(Customer).where(Customer.name_key == name_key, Customer.status == "active").order_by(Customer.id)
            .limit(1)
        )
        if by_name is not None:
            return by_name
    if phone_key:
        return uow.session.scalar(
            select(Customer).where(Customer.phone_key == phone_key, Customer.status == "active").order_by(Customer.id)
            .limit(1)
        )
    return None
