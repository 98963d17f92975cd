"""Reading the audit log: a record's history (/audit), for whoever may read the record itself.

What is audited, what is bookkeeping and how set-based writes are audited is written down in
bot.services.core.audit_log, which writes the log. Who may read a record's history is who may read
the record: the same rule as the record's own command (/lead N: bot.services.leads.reading), and a
record out of reach answers exactly like one that does not exist.
"""
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select

from bot.errors import UserError
from bot.services.core import paging
from bot.services.leads.reach import may_read_lead
from bot.services.manager import scope
from db.models import Contact, Customer, Deal, Lead, User, Visit
from db.models.audit import AuditEntry
from db.session import UnitOfWork

# What a user may type in /audit, per record type (aliases included).
TYPE_ALIASES = {
    "lead": "lead", "线索": "lead", "customer": "customer", "客户": "customer", "contact": "contact",
    "联系人": "contact", "deal": "deal", "opportunity": "deal", "商机": "deal",
    "visit": "visit", "拜访": "visit", "user": "user", "用户": "user",
}
MAX_ENTRIES = 30


@dataclass(frozen=True)
class Change:
    at: datetime
    actor: str
    platform: str
    action: str
    fields: list[tuple[str, object, object]]  # (field, before, after)


@dataclass(frozen=True)
class History:
    record_type: str
    record_id: int
    changes: list[Change]
    total: int
    page: paging.Page


def _owner_of(uow: UnitOfWork, kind: str, row: object) -> int | None:
    if kind == "user":
        return row.id
    if kind == "visit":
        return row.user_id
    if kind == "contact":
        customer = uow.session.get(Customer, row.customer_id)
        return customer.owner_id if customer else None
    return row.owner_id


def readable(uow: UnitOfWork, user_id: int, kind: str, record_id: int, today: date) -> bool:
    """Whether the user may read the record: the rule its own reader applies (a lead: /lead N's)."""
    model = {"lead": Lead, "customer": Customer, "contact": Contact, "deal": Deal, "visit": Visit, "user": User}[kind]
    row = uow.session.get(model, record_id)
    if row is None:
        return False
    if kind == "lead":
        return may_read_lead(uow, user_id, row, today)
    visible = scope.of(uow, user_id, today)
    return scope.can_access(uow, visible, kind, record_id, _owner_of(uow, kind, row))


def history(uow: UnitOfWork, user_id: int, record_type: str, record_id: int, today: date,
            page_no: int | None = None) -> History:
    """A record's changes, newest first, one page of them, for someone whose scope covers the record."""
    page_no = paging.number(page_no)
    kind = TYPE_ALIASES.get(record_type.lower())
    if kind is None:
        raise UserError("manager/audit_unknown_type", value=record_type[:40], choices="lead, customer, contact, deal, visit, user")
    if not readable(uow, user_id, kind, record_id, today):
        raise UserError("manager/record_not_found", record_type=kind, record_id=record_id)
    query = select(AuditEntry).where(AuditEntry.record_type == kind, AuditEntry.record_id == record_id)
    entries = uow.session.scalars(query.order_by(AuditEntry.at.desc(), AuditEntry.id.desc())).all()
    names = dict(uow.session.execute(
        select(User.id, User.name).where(User.id.in_({e.actor_id for e in entries if e.actor_id}))
    ).tuples().all())
    changes = []
    start = paging.offset(page_no, MAX_ENTRIES)
    for entry in entries[start : start + MAX_ENTRIES]:
        before, after = entry.before or {}, entry.after or {}
        keys = [k for k in dict.fromkeys([*after, *before]) if k not in ("id", "created_at", "updated_at")]
        fields = [(k, before.get(k), after.get(k)) for k in keys if before.get(k) != after.get(k)]
        actor = names.get(entry.actor_id, "") if entry.actor_id else ""
        changes.append(Change(entry.at, actor, entry.platform, entry.action, fields))
    return History(kind, record_id, changes, len(entries), paging.of_total(page_no, len(changes), len(entries),
                                                                         MAX_ENTRIES))

