"""The lead lifecycle: the DESIGN.md state table, creation with the duplicate check, follow-ups,
invalid, void, detail and lists. Every transition writes a LeadEvent (actor, time, reason).

Claims, releases and assignments live in pool.py; conversion in conversion.py; the return sweep
in recycling.py. They all move a lead through `next_status` and `record_event` below.
"""
import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import exists, func, or_, select

from bot.errors import UserError
from bot.services.core import org
from bot.services.leads import dedupe, ownership
from bot.services.manager import scope
from db import phone_keys
from db.models import Lead, LeadEvent, LeadStatus, OrgUnit, Pool, PoolMember, User
from db.models.crm import OPEN_LEAD_STATUSES
from db.models.leads import LeadFollowup
from db.models.org import Role
from db.session import UnitOfWork

S = LeadStatus
# The DESIGN.md table, and nothing else: action -> {from status: to status}.
TRANSITIONS: dict[str, dict[str, str]] = {
    "claim": {S.UNASSIGNED: S.PENDING},
    "assign": {S.UNASSIGNED: S.PENDING},
    "follow": {S.PENDING: S.FOLLOWING, S.FOLLOWING: S.FOLLOWING, S.INVALID: S.FOLLOWING},
    "invalid": {S.PENDING: S.INVALID, S.FOLLOWING: S.INVALID},
    "release": {S.PENDING: S.UNASSIGNED, S.FOLLOWING: S.UNASSIGNED, S.INVALID: S.UNASSIGNED},
    "return": {S.PENDING: S.UNASSIGNED, S.FOLLOWING: S.UNASSIGNED, S.INVALID: S.UNASSIGNED},
    "convert": {S.PENDING: S.CONVERTED, S.FOLLOWING: S.CONVERTED},
    "void": {S.UNASSIGNED: S.VOIDED, S.PENDING: S.VOIDED, S.FOLLOWING: S.VOIDED, S.INVALID: S.VOIDED},
}
MAX_COMPANY_CHARS = 200
MAX_CONTACT_CHARS = 100
MAX_NOTE_CHARS = 2000
LIST_LIMIT = 30
# What /leads accepts as a status word, in both languages.
STATUS_WORDS = {
    **{s.value: s.value for s in LeadStatus},
    "未分配": S.UNASSIGNED, "待处理": S.PENDING, "跟进中": S.FOLLOWING, "无效": S.INVALID,
    "已转换": S.CONVERTED, "已作废": S.VOIDED, "open": "open", "all": "all", "全部": "all", "进行中": "open",
}


def parse_id(raw: str | int) -> int:
    """'42', '#42' or the full-width '＃４２' -> 42."""
    text = unicodedata.normalize("NFKC", str(raw)).strip().lstrip("#")
    if not re.fullmatch(r"\d{1,12}", text):
        raise UserError("leads/bad_id", value=str(raw)[:40])
    return int(text)


def next_status(action: str, current: str, lead_id: int) -> str:
    target = TRANSITIONS[action].get(current)
    if target is None:
        raise UserError("leads/illegal", action=action, status=current, lead_id=lead_id)
    return target


def record_event(uow: UnitOfWork, lead: Lead, kind: str, actor_id: int | None, from_status: str | None,
                 from_owner_id: int | None, now: datetime, reason: str | None = None) -> None:
    uow.session.add(LeadEvent(
        lead_id=lead.id, at=now, actor_id=actor_id, kind=kind, from_status=from_status, to_status=lead.status,
        from_owner_id=from_owner_id, to_owner_id=lead.owner_id, pool_id=lead.pool_id, reason=reason,
    ))


def run(uow: UnitOfWork, statement, params: dict):
    """Execute a prebuilt Core statement on the unit of work's connection, skipping the ORM's
    per-statement machinery (a third of a hot path's Python time). Pending ORM changes are flushed
    first, as the session's own execute would."""
    session = uow.session
    if session.new or session.dirty or session.deleted:
        session.flush()
    return session.connection().execute(statement, params)


def lock_lead(uow: UnitOfWork, lead_id: int) -> Lead:
    """The lead, row-locked for this transaction (PostgreSQL); fresh values, not a cached copy."""
    lead = uow.session.scalar(
        select(Lead).where(Lead.id == lead_id).with_for_update().execution_options(populate_existing=True)
    )
    if lead is None:
        raise UserError("leads/unknown", lead_id=lead_id)
    return lead


def lock_user(uow: UnitOfWork, user_id: int) -> None:
    """Serialise one rep's own claims and assignments: count-then-take cannot race."""
    uow.session.execute(select(User.id).where(User.id == user_id).with_for_update())


def user_name(uow: UnitOfWork, user_id: int | None) -> str | None:
    if user_id is None:
        return None
    user = uow.session.get(User, user_id)
    return user.name if user else None


def require_owner_side(uow: UnitOfWork, user_id: int, lead: Lead, today) -> None:
    """The owner, his managers (write scope) or a write team member may work an owned lead."""
    if lead.owner_id is None:
        return
    visible = scope.of(uow, user_id, today)
    if not scope.can_access(uow, visible, "lead", lead.id, lead.owner_id, write=True):
        raise UserError("leads/not_yours", lead_id=lead.id, owner=user_name(uow, lead.owner_id) or "")


def can_manage_pool(uow: UnitOfWork, user_id: int, pool_id: int | None) -> bool:
    """Admins, the pool's admins and managers belonging to the pool may assign and void from it."""
    user = uow.session.get(User, user_id)
    if user is None:
        return False
    if user.role == Role.ADMIN:
        return True
    if pool_id is None:
        return False
    if is_pool_admin(uow, user, pool_id):
        return True
    return user.role == Role.MANAGER and any(p.id == pool_id for p in ownership.pools_of(uow, user_id))


def is_pool_admin(uow: UnitOfWork, user: User, pool_id: int | None) -> bool:
    """Named a pool admin, himself or through his unit or an ancestor unit."""
    unit = uow.session.get(OrgUnit, user.unit_id)
    ancestors = org.ancestor_unit_ids(unit.path) if unit else []
    return uow.session.scalar(
        select(PoolMember.id).where(
            PoolMember.pool_id == pool_id, PoolMember.is_admin.is_(True),
            or_(PoolMember.user_id == user.id, PoolMember.unit_id.in_(ancestors)),
        ).limit(1)
    ) is not None


def visible_pool_query(user_id: ownership.UserId):
    """Pools whose leads the user sees: the ones he belongs to; an admin sees every active pool."""
    is_admin = exists().where(User.id == user_id, User.role == ownership.constant(Role.ADMIN.value))
    return select(Pool).where(Pool.active.is_(True), or_(is_admin, Pool.id.in_(ownership.member_pool_ids(user_id))))


_VISIBLE_POOLS = visible_pool_query(ownership.USER_ID).order_by(Pool.id)
VISIBLE_POOL_NAMES = _VISIBLE_POOLS.with_only_columns(Pool.id, Pool.name)


def visible_pools(uow: UnitOfWork, user_id: int) -> list[Pool]:
    return list(uow.session.scalars(_VISIBLE_POOLS, {"user_id": user_id}))


def visible_pool_names(uow: UnitOfWork, user_id: int) -> dict[int, str]:
    """{pool id: name} of the pools whose leads he sees, in pool id order: ids and names only, no ORM rows."""
    return {pool_id: name for pool_id, name in run(uow, VISIBLE_POOL_NAMES, {"user_id": user_id})}


def find_pool(uow: UnitOfWork, pools: list[Pool], name: str) -> Pool:
    wanted = unicodedata.normalize("NFKC", name).strip().casefold()
    for pool in pools:
        if pool.name.casefold() == wanted or str(pool.id) == wanted.lstrip("#"):
            return pool
    raise UserError("leads/unknown_pool", name=name[:60], choices=", ".join(p.name for p in pools) or "-")


# --- creating ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Created:
    lead_id: int
    company: str
    status: str
    pool_name: str | None


def clean_company(company: str) -> tuple[str, str]:
    company = " ".join(company.split())
    if len(company) > MAX_COMPANY_CHARS:
        raise UserError("leads/company_too_long", limit=MAX_COMPANY_CHARS, length=len(company))
    key = dedupe.normalise_company(company)
    if not key:
        raise UserError("leads/company_empty", company=company[:40])
    return company, key


def clean_phone(phone: str | None, region: str) -> tuple[str | None, str | None]:
    if not phone:
        return None, None
    key = phone_keys.phone_key(phone, region)
    if key is None:
        raise UserError("leads/bad_phone", phone=phone[:40])
    return phone.strip()[:64], key


def clean_optional(text: str | None, limit: int, what: str) -> str | None:
    if text is None or not text.strip():
        return None
    text = " ".join(text.split())
    if len(text) > limit:
        raise UserError("leads/field_too_long", field=what, limit=limit)
    return text


def create(uow: UnitOfWork, actor_id: int, company: str, contact: str | None, phone: str | None, now: datetime,
           region: str | None = None, source: str | None = None, industry: str | None = None,
           pool_name: str | None = None, default_phone_region: str = phone_keys.DEFAULT_REGION) -> Created:
    """A rep's new lead is his (pending); an admin's goes into a pool (unassigned). Checked for duplicates."""
    actor = uow.session.get(User, actor_id)
    assert actor is not None
    company, name_key = clean_company(company)
    phone, phone_key = clean_phone(phone, org.phone_region(uow, actor.unit_id, default_phone_region))
    contact = clean_optional(contact, MAX_CONTACT_CHARS, "contact")
    extras = {k: clean_optional(v, 100, k) for k, v in (("region", region), ("source", source), ("industry", industry))}
    matches = dedupe.find_matches(uow, name_key, phone_key)
    if matches:
        raise UserError("leads/duplicate", company=company, matches=matches)
    pools = visible_pools(uow, actor_id)
    lead = Lead(company=company, name_key=name_key, contact_name=contact, phone=phone, phone_key=phone_key,
                created_by_id=actor_id, created_at=now, updated_at=now, **extras)
    if actor.role == Role.ADMIN:
        if not pools:
            raise UserError("leads/no_pool")
        pool = find_pool(uow, pools, pool_name) if pool_name else pools[0]
        lead.pool_id, lead.status = pool.id, S.UNASSIGNED
    else:
        lock_user(uow, actor_id)
        if ownership.room(uow, actor_id) <= 0:
            raise UserError("leads/over_cap", cap=ownership.cap(uow, actor_id))
        pool = find_pool(uow, pools, pool_name) if pool_name else (pools[0] if pools else None)
        lead.pool_id = pool.id if pool else None
        lead.status, lead.owner_id, lead.claimed_at = S.PENDING, actor_id, now
    uow.session.add(lead)
    uow.session.flush()
    record_event(uow, lead, "create", actor_id, None, None, now)
    return Created(lead.id, lead.company, lead.status, pool.name if pool else None)


# --- working a lead ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Moved:
    lead_id: int
    company: str
    from_status: str
    to_status: str
    owner_name: str | None = None


def follow(uow: UnitOfWork, actor_id: int, lead_id: int | str, note: str, now: datetime) -> Moved:
    """A follow-up record; the first one moves pending to following, and it revives an invalid lead."""
    lead_id = parse_id(lead_id)
    note = clean_optional(note, MAX_NOTE_CHARS, "note") or ""
    if not note:
        raise UserError("leads/note_required")
    lead = lock_lead(uow, lead_id)
    require_owner_side(uow, actor_id, lead, now.date())
    before = lead.status
    lead.status = next_status("follow", lead.status, lead.id)
    lead.last_followup_at = lead.updated_at = now
    uow.session.add(LeadFollowup(lead_id=lead.id, author_id=actor_id, at=now, note=note))
    record_event(uow, lead, "follow", actor_id, before, lead.owner_id, now, note[:200])
    return Moved(lead.id, lead.company, before, lead.status)


def mark_invalid(uow: UnitOfWork, actor_id: int, lead_id: int | str, reason: str, now: datetime) -> Moved:
    lead_id = parse_id(lead_id)
    reason = clean_optional(reason, MAX_NOTE_CHARS, "reason") or ""
    lead = lock_lead(uow, lead_id)
    require_owner_side(uow, actor_id, lead, now.date())
    before = lead.status
    lead.status = next_status("invalid", lead.status, lead.id)
    lead.updated_at = now
    record_event(uow, lead, "invalid", actor_id, before, lead.owner_id, now, reason)
    return Moved(lead.id, lead.company, before, lead.status)


def void(uow: UnitOfWork, actor_id: int, lead_id: int | str, reason: str, now: datetime) -> Moved:
    """作废: garbage, hidden from the pool for good (the row stays)."""
    lead_id = parse_id(lead_id)
    reason = clean_optional(reason, MAX_NOTE_CHARS, "reason") or ""
    lead = lock_lead(uow, lead_id)
    if lead.owner_id is None and lead.status == S.UNASSIGNED and not can_manage_pool(uow, actor_id, lead.pool_id):
        raise UserError("leads/pool_admin_only", lead_id=lead.id)
    require_owner_side(uow, actor_id, lead, now.date())
    before = lead.status
    lead.status = next_status("void", lead.status, lead.id)
    lead.updated_at = now
    record_event(uow, lead, "void", actor_id, before, lead.owner_id, now, reason)
    return Moved(lead.id, lead.company, before, lead.status)


# --- reading ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class EventRow:
    at: datetime
    kind: str
    actor: str | None
    from_status: str | None
    to_status: str | None
    from_owner: str | None
    to_owner: str | None
    reason: str | None


@dataclass(frozen=True)
class FollowupRow:
    at: datetime
    author: str
    note: str


@dataclass(frozen=True)
class LeadDetail:
    id: int
    company: str
    contact: str | None
    phone: str | None
    region: str | None
    source: str | None
    industry: str | None
    level: str
    status: str
    owner: str | None
    pool: str | None
    locked: bool
    customer_id: int | None
    created_at: datetime
    events: list[EventRow]
    followups: list[FollowupRow]
    claimable: bool


def _zone(uow: UnitOfWork, user_id: int) -> ZoneInfo:
    user = uow.session.get(User, user_id)
    try:
        return ZoneInfo(user.timezone if user else "UTC")
    except Exception:  # an unknown zone name must not break a read
        return ZoneInfo("UTC")


def readable_lead(uow: UnitOfWork, user_id: int, lead_id: int, today) -> tuple[Lead, bool]:
    """The lead if the user may read it; the flag tells whether it waits in one of his pools."""
    lead = uow.session.get(Lead, lead_id)
    if lead is None:
        raise UserError("leads/unknown", lead_id=lead_id)
    in_my_pool = lead.status == S.UNASSIGNED and any(p.id == lead.pool_id for p in visible_pools(uow, user_id))
    if in_my_pool:
        return lead, True
    visible = scope.of(uow, user_id, today)
    if lead.owner_id is None and (visible.sees_all or can_manage_pool(uow, user_id, lead.pool_id)):
        return lead, False
    if not scope.can_access(uow, visible, "lead", lead.id, lead.owner_id):
        raise UserError("leads/not_yours", lead_id=lead.id, owner=user_name(uow, lead.owner_id) or "")
    return lead, False


def detail(uow: UnitOfWork, user_id: int, lead_id: int | str, now: datetime) -> LeadDetail:
    lead_id = parse_id(lead_id)
    lead, claimable = readable_lead(uow, user_id, lead_id, now.date())
    zone = _zone(uow, user_id)
    names: dict[int | None, str | None] = {None: None}

    def name(uid: int | None) -> str | None:
        if uid not in names:
            names[uid] = user_name(uow, uid)
        return names[uid]

    events = [
        EventRow(e.at.astimezone(zone), e.kind, name(e.actor_id), e.from_status, e.to_status,
                 name(e.from_owner_id), name(e.to_owner_id), e.reason)
        for e in uow.session.scalars(select(LeadEvent).where(LeadEvent.lead_id == lead.id)
                                     .order_by(LeadEvent.at, LeadEvent.id))
    ]
    followups = [
        FollowupRow(f.at.astimezone(zone), name(f.author_id) or "", f.note)
        for f in uow.session.scalars(select(LeadFollowup).where(LeadFollowup.lead_id == lead.id)
                                     .order_by(LeadFollowup.at.desc(), LeadFollowup.id.desc()).limit(10))
    ]
    pool = uow.session.get(Pool, lead.pool_id) if lead.pool_id else None
    return LeadDetail(
        lead.id, lead.company, lead.contact_name, lead.phone, lead.region, lead.source, lead.industry, lead.level,
        lead.status, name(lead.owner_id), pool.name if pool else None, lead.locked, lead.customer_id,
        lead.created_at.astimezone(zone), events[-15:], followups, claimable,
    )


@dataclass(frozen=True)
class LeadRow:
    id: int
    company: str
    status: str
    owner: str | None
    contact: str | None
    phone: str | None


@dataclass(frozen=True)
class LeadList:
    rows: list[LeadRow]
    total: int
    status: str  # a status, "open" or "all"
    whose: str  # a user's or unit's name


def _status_filter(word: str | None) -> str | None:
    if word is None:
        return "open"
    return STATUS_WORDS.get(unicodedata.normalize("NFKC", word).strip().casefold())


def list_leads(uow: UnitOfWork, user_id: int, status_word: str | None, who: str | None, today) -> LeadList:
    """/leads [status] [rep|unit]: own leads; a manager may name a rep or a unit in his scope."""
    status = _status_filter(status_word)
    if status is None:
        if who is not None:
            raise UserError("leads/bad_status", value=status_word[:40] if status_word else "")
        status, who = "open", status_word
    visible = scope.of(uow, user_id, today)
    owners, whose = _owners(uow, visible, user_id, who)
    query = select(Lead, User.name).join(User, User.id == Lead.owner_id).where(Lead.owner_id.in_(owners))
    if status == "open":
        query = query.where(Lead.status.in_(OPEN_LEAD_STATUSES))
    elif status != "all":
        query = query.where(Lead.status == status)
    total = uow.session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = [
        LeadRow(lead.id, lead.company, lead.status, owner, lead.contact_name, lead.phone)
        for lead, owner in uow.session.execute(query.order_by(Lead.updated_at.desc(), Lead.id.desc()).limit(LIST_LIMIT))
    ]
    return LeadList(rows, total, status, whose)


def _owners(uow: UnitOfWork, visible: scope.Scope, user_id: int, who: str | None):
    from bot.services.core import identity

    if who is None:
        return select(User.id).where(User.id == user_id), user_name(uow, user_id) or ""
    user = identity.find_user(uow, who)
    if user is not None:
        if not scope.covers_user(uow, visible, user.id):
            raise UserError("leads/outside_scope", who=who[:60])
        return select(User.id).where(User.id == user.id), user.name
    wanted = unicodedata.normalize("NFKC", who).strip().casefold()
    unit = next((u for u in uow.session.scalars(select(OrgUnit).where(OrgUnit.active.is_(True)))
                 if u.name.casefold() == wanted), None)
    if unit is None:
        raise UserError("leads/unknown_who", who=who[:60])
    if not scope.covers_unit(uow, visible, unit.id):
        raise UserError("leads/outside_scope", who=who[:60])
    members = org.subtree_user_ids(unit.path)
    return members, unit.name
