"""A company's existing customers from a spreadsheet (CSV, read as the lead import reads it:
bot.services.core.spreadsheet): each with his owner (a user's handle, as in the org file), his
place, a tier pinned with the reason "import", and his contact with a birthday and greeting language.

Like the lead import: an unreadable file, one without a name column, or without an owner column
when no default owner is given, imports nothing; otherwise the good rows go in (one transaction, the
caller commits) and each refused row is listed with the column and the value at fault. With
`strict`, one refused row imports nothing. A row is checked whole before anything of it is written.

Duplicates (docs/design/rules.md, the duplicate check): an active customer of the same normalised
name or phone is never overwritten, the row is skipped; so is a row matching a lead another rep
holds (a lead in a pool, or held by the row's owner, does not stop it). Within the file the first
row wins. Each customer and contact goes through the session, so the audit listener records it."""
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TypeVar

from sqlalchemy import func, select

from bot.errors import UserError
from bot.services.core import org
from bot.services.core.spreadsheet import (
    COMMON_ALIASES,
    COMPANY_ALIASES,
    ImportProblem,
    RowIssue,
    RowRefused,
    Table,
    chunks,
    existing,
    first_of_each,
    place,
    read_table,
    refused_as,
)
from bot.services.customers.settings import TIERS
from bot.services.leads import contacts, lifecycle
from db.models import Contact, Customer, Lead, LeadStatus, User
from db.phone_keys import DEFAULT_REGION
from db.session import UnitOfWork

HEADER_ALIASES = {
    "name": COMPANY_ALIASES,
    "owner": {"owner", "ownerhandle", "handle", "rep", "salesrep", "salesperson", "assignedto", "负责人", "销售",
              "业务员", "归属人", "所属销售", "客户经理", "負責人", "銷售", "業務員", "歸屬人", "客戶經理"},
    **COMMON_ALIASES,
    "address": {"address", "streetaddress", "地址", "详细地址", "詳細地址"},
    "tier": {"tier", "customertier", "分级", "客户分级", "分級", "客戶分級"},
}
# The model's lengths (Customer, Contact): longer is refused, never cut.
FIELD_LIMITS = {"region": 100, "industry": 100, "level": 8, "address": 500}
PIN_REASON = "import"
T = TypeVar("T")


@dataclass
class CustomerImportReport:
    file: str
    encoding: str
    strict: bool
    created: int = 0
    contacts: int = 0
    placed: int = 0
    pinned: int = 0
    written: bool = True  # False: strict, and a row was refused
    duplicates: list[RowIssue] = field(default_factory=list)
    held: list[RowIssue] = field(default_factory=list)  # detail: the lead; value: who holds it
    rejected: list[RowIssue] = field(default_factory=list)


@dataclass(frozen=True)
class _Owner:
    id: int
    handle: str
    active: bool
    unit_id: int


def import_customers(uow: UnitOfWork, data: bytes, file_name: str, now: datetime, owner: str | None = None,
                     strict: bool = False, progress: Callable[[int, int], None] | None = None,
                     default_phone_region: str = DEFAULT_REGION) -> CustomerImportReport:
    table = read_table(data, file_name, HEADER_ALIASES, "name", "customers_bad_columns")
    if "owner" not in table.mapping and owner is None:
        raise ImportProblem("customers_no_owner", file=file_name)
    owners = _owners(uow, [table.cell(row, "owner") for _, row in table.rows] + [owner])
    default = None
    if owner is not None:
        default = owners.get(_handle_key(owner))
        if default is None or not default.active:
            raise ImportProblem("customers_bad_owner_option", handle=owner[:64], inactive=default is not None)
    report = CustomerImportReport(file_name, table.encoding, strict)
    regions: dict[int, str] = {}
    good: list[tuple[int, dict]] = []
    for line, row in table.rows:
        try:
            who = _owner_of(table, row, owners, default)
            region = regions.get(who.unit_id) or regions.setdefault(
                who.unit_id, org.phone_region(uow, who.unit_id, default_phone_region))
            good.append((line, _clean_row(table, row, who, region, now.date())))
        except RowRefused as refused:
            report.rejected.append(RowIssue(line, (table.cell(row, "name") or "")[:60], refused.reason,
                                            column=refused.column, value=refused.value))
    good = _not_held_by_another(uow, good, report)
    names = {v["name_key"] for _, v in good}
    phones = {v["phone_key"] for _, v in good if v["phone_key"]}
    active = (Customer.status == "active",)
    known = {"name_key": existing(uow, Customer.name_key, names, "customer", Customer.id, active),
             "phone_key": existing(uow, Customer.phone_key, phones, "customer", Customer.id, active)}
    fresh, report.duplicates = first_of_each(good, known, "name")
    if strict and report.rejected:
        report.written = False
        return report
    done = 0
    for chunk in chunks(fresh):
        _write(uow, [values for _, values in chunk], now, report)
        done += len(chunk)
        if progress:
            progress(done, len(fresh))
    return report


def _handle_key(handle: str) -> str:
    return unicodedata.normalize("NFKC", handle).strip().lstrip("@").casefold()


def _owners(uow: UnitOfWork, handles: list[str | None]) -> dict[str, _Owner]:
    """The users the file names, by handle (case aside), active or not."""
    wanted = {_handle_key(h) for h in handles if h}
    found: dict[str, _Owner] = {}
    for chunk in chunks(sorted(wanted)):
        for user in uow.session.execute(select(User.id, User.handle, User.active, User.unit_id)
                                        .where(func.lower(User.handle).in_(chunk))):
            found[user.handle.casefold()] = _Owner(user.id, user.handle, user.active, user.unit_id)
    return found


def _owner_of(table: Table, row: list[str], owners: dict[str, _Owner], default: _Owner | None) -> _Owner:
    handle = table.cell(row, "owner")
    if handle is None:
        if default is None:
            raise RowRefused("owner_missing", table.column("owner"))
        return default
    who = owners.get(_handle_key(handle))
    if who is None:
        raise RowRefused("unknown_owner", table.column("owner"), handle[:60])
    if not who.active:
        raise RowRefused("inactive_owner", table.column("owner"), handle[:60])
    return who


def _clean_row(table: Table, row: list[str], who: _Owner, phone_region: str, today: date) -> dict:
    """The customer's columns, his contact's and his place; the first bad cell refuses the row."""
    def checked(name: str, parse: Callable[[str | None], T]) -> T:
        value = table.cell(row, name)
        return refused_as(table.column(name), value, lambda: parse(value))

    raw_name = table.cell(row, "name")
    if raw_name is None:
        raise RowRefused("name_missing", table.column("name"))
    name, name_key = checked("name", lambda _: lifecycle.clean_company(raw_name))
    phone, phone_key = checked("phone", lambda v: lifecycle.clean_phone(v, phone_region))
    values = {"name": name, "name_key": name_key, "phone": phone, "phone_key": phone_key, "owner_id": who.id}
    for column, limit in FIELD_LIMITS.items():
        values[column] = checked(column, lambda v, c=column, n=limit: lifecycle.clean_optional(v, n, c))
    values["level"] = (values["level"] or "C").upper()
    values["tier"] = checked("tier", _tier)
    values["contact"] = checked("contact", lambda v: lifecycle.clean_optional(v, lifecycle.MAX_CONTACT_CHARS,
                                                                              "contact"))
    values["birthday"] = checked("birthday", lambda v: contacts.imported_care(v, None, today)["contact_birthday"])
    values["language"] = checked("language", lambda v: contacts.imported_care(None, v, today)["contact_language"])
    if values["contact"] is None and (values["birthday"] or values["language"]):
        column = "birthday" if values["birthday"] else "language"
        raise RowRefused("care_without_contact", table.column(column), table.cell(row, column) or "")
    latitude, longitude = table.cell(row, "latitude"), table.cell(row, "longitude")
    where = f"{table.column('latitude')}, {table.column('longitude')}"
    values.update(refused_as(where, f"{latitude or ''}, {longitude or ''}", lambda: place(latitude, longitude)))
    return values


def _tier(value: str | None) -> str | None:
    if value is None:
        return None
    tier = unicodedata.normalize("NFKC", value).strip().upper()
    if tier not in TIERS:
        raise UserError("bad_tier")
    return tier


def _not_held_by_another(uow: UnitOfWork, rows: list[tuple[int, dict]],
                         report: CustomerImportReport) -> list[tuple[int, dict]]:
    """The rows no other rep's lead matches (same name or phone, not voided); the others reported."""
    names = sorted({v["name_key"] for _, v in rows})
    phones = sorted({v["phone_key"] for _, v in rows if v["phone_key"]})
    held: dict[str, list[tuple[int, int, str]]] = {}
    for column, keys in ((Lead.name_key, names), (Lead.phone_key, phones)):
        for chunk in chunks(keys):
            for key, lead_id, owner_id, holder in uow.session.execute(
                    select(column, Lead.id, Lead.owner_id, User.name).join(User, User.id == Lead.owner_id)
                    .where(column.in_(chunk), Lead.status != LeadStatus.VOIDED).order_by(Lead.id)):
                held.setdefault(key, []).append((lead_id, owner_id, holder))
    kept = []
    for line, values in rows:
        leads = held.get(values["name_key"], []) + held.get(values["phone_key"] or "", [])
        other = next((lead for lead in leads if lead[1] != values["owner_id"]), None)
        if other is None:
            kept.append((line, values))
        else:
            report.held.append(RowIssue(line, values["name"], "held_lead", f"lead #{other[0]}", value=other[2]))
    return kept


def _write(uow: UnitOfWork, rows: list[dict], now: datetime, report: CustomerImportReport) -> None:
    """New customers and their contacts through the session (so audited), two flushes a chunk."""
    customers = [Customer(
        name=v["name"], name_key=v["name_key"], phone=v["phone"], phone_key=v["phone_key"], owner_id=v["owner_id"],
        level=v["level"], industry=v["industry"], region=v["region"], address=v["address"],
        latitude=v["latitude"], longitude=v["longitude"], location_source=v["location_source"],
        location_trust=v["location_trust"], location_set_at=now if v["latitude"] is not None else None,
        status="active", created_at=now, tier_pinned=v["tier"], tier_pin_reason=PIN_REASON if v["tier"] else None,
        tier_pinned_at=now if v["tier"] else None) for v in rows]
    uow.session.add_all(customers)
    uow.session.flush()
    people = []
    for customer, v in zip(customers, rows, strict=True):
        if v["contact"] is None:
            continue
        contact = Contact(customer_id=customer.id, name=v["contact"], phone=v["phone"], phone_key=v["phone_key"],
                          owner_id=v["owner_id"], status="active", created_at=now)
        born = contacts.parse_birthday(v["birthday"], now.date()) if v["birthday"] else None
        contacts.keep(contact, born, v["language"])
        people.append(contact)
    uow.session.add_all(people)
    uow.session.flush()
    report.created += len(customers)
    report.contacts += len(people)
    report.placed += sum(1 for v in rows if v["latitude"] is not None)
    report.pinned += sum(1 for v in rows if v["tier"])

