"""The audit log: every change to every record, written by a session listener (installed on the
database by bot.bootstrap), so no capability has to remember to call it. Actor and platform come from bot.actor.CURRENT_ACTOR (None: the system).

Set-based UPDATEs bypass the listener; their authors write audit rows themselves with `bulk_rows`
(handover does). A manager reads a record's history with `history`, inside his data scope.
"""
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import event, insert, inspect, select
from sqlalchemy.orm import Session

from bot.actor import CURRENT_ACTOR
from bot.errors import UserError
from bot.services.core import paging
from bot.services.manager import scope
from db.base import utcnow
from db.models.audit import AuditEntry
from db.session import Database, UnitOfWork

# The records people change: core CRM tables, org and settings. Other capabilities' tables are audited
# when they hold someone's data (an owner_id column) or are listed here; trails, snapshots, dedupe and
# delivery rows are not records and would only bury the changes that matter.
AUDITED = {
    "customers", "contacts", "leads", "deals", "record_members", "visits", "pools", "pool_members",
    "users", "org_units", "team_channels", "handover_batches", "deal_payments", "deal_targets", "visit_settings",
    "channel_board_settings", "unit_announce_settings", "nudge_settings", "holidays", "lose_reasons",
    "platform_identities",  # who may speak as whom: joining and unlinking
}
NOT_AUDITED = {"audit_log", "handover_items", "lead_events", "inbound_events", "outbox", "job_runs"}


def is_audited(obj: object) -> bool:
    table = getattr(obj, "__table__", None)
    if table is None or table.name in NOT_AUDITED:
        return False
    return table.name in AUDITED or "owner_id" in table.c


# Table name -> the record type users and scope speak of.
RECORD_TYPES = {
    "leads": "lead", "customers": "customer", "contacts": "contact", "deals": "deal",
    "visits": "visit", "users": "user", "org_units": "unit", "record_members": "record_member",
    "pools": "pool", "pool_members": "pool_member", "team_channels": "channel", "handover_batches": "handover",
    "platform_identities": "identity",
}
# What a user may type in /audit, per record type (aliases included).
TYPE_ALIASES = {
    "lead": "lead", "线索": "lead", "customer": "customer", "客户": "customer", "contact": "contact",
    "联系人": "contact", "deal": "deal", "opportunity": "deal", "商机": "deal",
    "visit": "visit", "拜访": "visit", "user": "user", "用户": "user",
}
MAX_ENTRIES = 30


def record_type_of(table_name: str) -> str:
    return RECORD_TYPES.get(table_name, table_name)


def _plain(value: object) -> object:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, list | dict | str | int | float | bool) or value is None:
        return value
    return str(value)


def _columns(obj: object) -> dict[str, object]:
    state = inspect(obj)
    return {attr.key: _plain(getattr(obj, attr.key)) for attr in state.mapper.column_attrs}


def _changes(obj: object) -> tuple[dict, dict]:
    state = inspect(obj)
    before, after = {}, {}
    for attr in state.mapper.column_attrs:
        history = state.attrs[attr.key].history
        if not history.has_changes():
            continue
        old = history.deleted[0] if history.deleted else None
        new = history.added[0] if history.added else None
        if old == new:
            continue
        before[attr.key], after[attr.key] = _plain(old), _plain(new)
    return before, after


def _owner(obj: object) -> int | None:
    for name in ("owner_id", "user_id"):
        value = getattr(obj, name, None)
        if isinstance(value, int):
            return value
    return None


def _entry(obj: object, action: str, before: dict | None, after: dict | None, now: datetime) -> dict | None:
    if not is_audited(obj):
        return None
    table = obj.__table__.name
    record_id = inspect(obj).mapper.primary_key_from_instance(obj)
    if len(record_id) != 1 or not isinstance(record_id[0], int):
        return None
    actor = CURRENT_ACTOR.get()
    return {
        "at": now, "actor_id": actor.user_id if actor else None, "platform": actor.platform if actor else "system",
        "record_type": record_type_of(table), "record_id": record_id[0], "action": action,
        "before": before, "after": after, "owner_id": _owner(obj),
    }


def install(db: Database) -> None:
    """Audit every flush of this database's sessions. Called once per Database, by bot.bootstrap
    (open_database). No "already installed?" check: SQLAlchemy's event registry is keyed by object
    id, and a new sessionmaker may reuse the id of a collected one."""
    event.listen(db.session_factory, "after_flush", _audit_flush)


def _audit_flush(session: Session, _flush_context) -> None:
    """Runs inside every flush, in the same transaction: the log and the change commit together."""
    now = utcnow()
    rows = []
    for obj in session.new:
        rows.append(_entry(obj, "create", None, _columns(obj), now))
    for obj in session.dirty:
        if not session.is_modified(obj, include_collections=False):
            continue
        before, after = _changes(obj)
        if after or before:
            rows.append(_entry(obj, "update", before, after, now))
    for obj in session.deleted:
        rows.append(_entry(obj, "delete", _columns(obj), None, now))
    rows = [row for row in rows if row is not None]
    if rows:
        session.connection().execute(insert(AuditEntry), rows)


def actor_fields() -> dict[str, object]:
    """Who is acting, for audit rows written set-based (bulk UPDATEs bypass the listener)."""
    actor = CURRENT_ACTOR.get()
    return {"actor_id": actor.user_id if actor else None, "platform": actor.platform if actor else "system"}


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


def _record_owner(uow: UnitOfWork, record_type: str, record_id: int) -> tuple[bool, int | None]:
    from db.models import Contact, Customer, Deal, Lead, User, Visit

    model = {"lead": Lead, "customer": Customer, "contact": Contact, "deal": Deal,
             "visit": Visit, "user": User}[record_type]
    row = uow.session.get(model, record_id)
    if row is None:
        return False, None
    if record_type == "user":
        return True, row.id
    if record_type == "visit":
        return True, row.user_id
    if record_type == "contact":
        customer = uow.session.get(Customer, row.customer_id)
        return True, customer.owner_id if customer else None
    return True, row.owner_id


def history(uow: UnitOfWork, user_id: int, record_type: str, record_id: int, today: date,
            page_no: int | None = None) -> History:
    """A record's changes, newest first, one page of them, for someone whose scope covers the record."""
    page_no = paging.number(page_no)
    from db.models import User

    kind = TYPE_ALIASES.get(record_type.lower())
    if kind is None:
        raise UserError("manager/audit_unknown_type", value=record_type[:40], choices="lead, customer, contact, deal, visit, user")
    exists, owner_id = _record_owner(uow, kind, record_id)
    if not exists:
        raise UserError("manager/record_not_found", record_type=kind, record_id=record_id)
    visible = scope.of(uow, user_id, today)
    scope.require(uow, visible, kind, record_id, owner_id)
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

