"""Lead conversion (线索转换): a customer always (an existing one when the duplicate check
matches), a contact and a deal when asked, all in the caller's one transaction."""
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import func, select

from bot.errors import UserError
from bot.services.core import paging
from bot.services.leads import contacts, dedupe
from bot.services.leads.lifecycle import (
    MAX_CONTACT_CHARS,
    clean_optional,
    lock_lead,
    next_status,
    parse_id,
    record_event,
    require_owner_side,
    user_name,
)
from bot.services.leads.reading import LIST_LIMIT
from bot.services.manager import scope
from db.models import Contact, Customer, Deal, Lead, Stage, User
from db.session import UnitOfWork


@dataclass(frozen=True)
class Converted:
    lead_id: int
    customer_id: int | None  # None, with no name or owner: an existing customer outside the caller's reach
    customer_name: str | None
    linked_existing: bool  # True: the duplicate check found the customer, none was created
    customer_owner: str | None
    contact_id: int | None
    contact_name: str | None
    deal_id: int | None
    amount: Decimal | None
    currency: str | None


def convert(uow: UnitOfWork, actor_id: int, lead_id: int | str, now: datetime, contact_name: str | None = None,
            deal_amount: Decimal | None = None) -> Converted:
    lead_id = parse_id(lead_id)
    contact_name = clean_optional(contact_name, MAX_CONTACT_CHARS, "contact")
    if deal_amount is not None and deal_amount < 0:
        raise UserError("leads/negative_amount")
    lead = lock_lead(uow, lead_id)
    require_owner_side(uow, actor_id, lead, now.date())
    before = lead.status
    lead.status = next_status("convert", lead.status, lead.id)
    owner_id = lead.owner_id
    customer = dedupe.existing_customer(uow, lead.name_key, lead.phone_key)
    linked = customer is not None
    if customer is None:
        customer = Customer(
            name=lead.company, name_key=lead.name_key, phone=lead.phone, phone_key=lead.phone_key,
            owner_id=owner_id, level=lead.level, industry=lead.industry, region=lead.region,
            latitude=lead.latitude, longitude=lead.longitude, location_source=lead.location_source,
            location_trust=lead.location_trust, location_set_at=lead.location_set_at, created_by_id=actor_id,
            created_at=now,
        )
        uow.session.add(customer)
        uow.session.flush()
    contact_id = deal_id = currency = None
    if contact_name:
        contact = Contact(customer_id=customer.id, name=contact_name, phone=lead.phone, phone_key=lead.phone_key,
                          owner_id=owner_id, created_at=now)
        _imported_care(lead, contact, now)
        uow.session.add(contact)
        uow.session.flush()
        contact_id = contact.id
    if deal_amount is not None:
        assert owner_id is not None
        deal = Deal(name=lead.company, customer_id=customer.id, lead_id=lead.id, owner_id=owner_id,
                    stage=Stage.INITIAL, amount=deal_amount, created_by_id=actor_id,
                    created_at=now, updated_at=now)
        uow.session.add(deal)
        uow.session.flush()
        deal_id, currency = deal.id, deal.currency
    lead.customer_id = customer.id
    lead.updated_at = now
    record_event(uow, lead, "convert", actor_id, before, owner_id, now, f"customer #{customer.id}")
    if linked and not scope.can_access(uow, scope.of(uow, actor_id, now.date()), "customer", customer.id,
                                       customer.owner_id):
        return Converted(lead.id, None, None, True, None, contact_id, contact_name if contact_id else None,
                         deal_id, deal_amount, currency)
    return Converted(lead.id, customer.id, customer.name, linked, user_name(uow, customer.owner_id),
                     contact_id, contact_name if contact_id else None, deal_id, deal_amount, currency)


def _imported_care(lead: Lead, contact: Contact, now: datetime) -> None:
    """The lead's contact came with a birthday or language (an import): the contact made of him keeps them."""
    if lead.contact_name is not None and lead.contact_name.casefold() != contact.name.casefold():
        return
    born = contacts.parse_birthday(lead.contact_birthday, now.date()) if lead.contact_birthday else None
    contacts.keep(contact, born, lead.contact_language)


# --- customers --------------------------------------------------------------------------------

@dataclass(frozen=True)
class CustomerRow:
    id: int
    name: str
    owner: str | None
    level: str
    phone: str | None
    tier: str | None = None  # A-E, pinned or computed (bot.services.customers.tiers); None: not yet


@dataclass(frozen=True)
class CustomerList:
    rows: list[CustomerRow]
    total: int
    page: paging.Page


def list_customers(uow: UnitOfWork, user_id: int, today, page_no: int | None = None) -> CustomerList:
    """Customers the user may see (his own, his team's for a manager, team-member records), one page of them."""
    page_no = paging.number(page_no)
    visible = scope.of(uow, user_id, today)
    query = (
        select(Customer, User.name).outerjoin(User, User.id == Customer.owner_id)
        .where(Customer.status == "active", scope.owned_filter(visible, Customer.owner_id, "customer", Customer.id))
    )
    total = uow.session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = [CustomerRow(c.id, c.name, owner, c.level, c.phone, c.tier_pinned or c.tier)
            for c, owner in uow.session.execute(query.order_by(Customer.created_at.desc(), Customer.id.desc())
                                                .offset(paging.offset(page_no)).limit(LIST_LIMIT))]
    return CustomerList(rows, total, paging.of_total(page_no, len(rows), total))


@dataclass(frozen=True)
class CustomerDetail:
    id: int
    name: str
    owner: str | None
    level: str
    phone: str | None
    industry: str | None
    region: str | None
    address: str | None
    located: bool
    contacts: list[tuple[str, str | None, str | None, str | None]]  # name, phone, birthday MM-DD, language
    deals: list[tuple[int, str, str, Decimal, str]]  # id, name, stage, amount, currency
    lead_ids: list[int]
    place_trust: str | None = None  # trusted | tentative (bot.services.visits.places); None: no place
    tier: str | None = None  # A-E, pinned or computed (bot.services.customers.tiers); None: not yet
    tier_pinned: bool = False
    tier_reason: str | None = None
    owner_id: int | None = None


def customer_id(raw: str | int) -> int:
    """'7', '#7', or 'c7' as plans, /nearby and visits name a customer."""
    text = str(raw).strip()
    try:
        return parse_id(text[1:] if text[:1] in ("c", "C") else text)
    except UserError:
        raise UserError("leads/customer_bad_id", value=str(raw)[:40]) from None


def customer_detail(uow: UnitOfWork, user_id: int, raw_id: str | int, today) -> CustomerDetail:
    cid = customer_id(raw_id)
    customer = uow.session.get(Customer, cid)
    if customer is None or customer.status != "active":
        raise scope.not_found("customer", cid)
    scope.require(uow, scope.of(uow, user_id, today), "customer", customer.id, customer.owner_id)
    contacts = [(c.name, c.phone, f"{c.birth_month:02d}-{c.birth_day:02d}" if c.birth_month else None, c.language)
                for c in uow.session.scalars(
        select(Contact).where(Contact.customer_id == cid, Contact.status == "active").order_by(Contact.id).limit(10))]
    deals = [(d.id, d.name, d.stage, d.amount, d.currency) for d in uow.session.scalars(
        select(Deal).where(Deal.customer_id == cid).order_by(Deal.id.desc()).limit(10))]
    lead_ids = list(uow.session.scalars(select(Lead.id).where(Lead.customer_id == cid).order_by(Lead.id).limit(10)))
    return CustomerDetail(customer.id, customer.name, user_name(uow, customer.owner_id), customer.level,
                          customer.phone, customer.industry, customer.region, customer.address,
                          customer.latitude is not None, contacts, deals, lead_ids,
                          customer.location_trust if customer.latitude is not None else None,
                          customer.tier_pinned or customer.tier, customer.tier_pinned is not None,
                          customer.tier_pin_reason, customer.owner_id)
