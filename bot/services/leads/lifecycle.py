"""The lead lifecycle: the docs/design/rules.md state table, creation with the duplicate check, follow-ups,
invalid and void. Every transition writes a LeadEvent (actor, time, reason).

Claims, releases and assignments live in claims.py; conversion in conversion.py; the return to the
pool in returns.py; reading a lead and lists in reading.py. They all move a lead through
`next_status` and `record_event` below.
"""
import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from bot.errors import UserError
from bot.services.core import org
from bot.services.leads import dedupe, ownership, reach
from bot.services.leads.pool import can_manage_pool, find_pool, visible_pools
from bot.services.manager import scope
from db import phone_keys
from db.models import Lead, LeadEvent, LeadFollowup, LeadStatus, User
from db.models.org import Role
from db.session import UnitOfWork

S = LeadStatus
# The docs/design/rules.md table, and nothing else: action -> {from status: to status}.
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
# The audited fields of a claim or an assignment from the pool, before and after (set-based writers
# log these): an unassigned lead has no owner and no claim time, since every way back clears them.
UNCLAIMED = {"status": S.UNASSIGNED.value, "owner_id": None, "claimed_at": None}


def claimed_fields(owner_id: int, now: datetime) -> dict[str, object]:
    return {"status": S.PENDING.value, "owner_id": owner_id, "claimed_at": now.isoformat()}


MAX_COMPANY_CHARS = 200
MAX_CONTACT_CHARS = 100
MAX_NOTE_CHARS = 2000


def parse_id(raw: str | int) -> int:
    """'42', '#42', the full-width '＃４２' or 'l42' as plans, /nearby and visits name a lead -> 42."""
    text = unicodedata.normalize("NFKC", str(raw)).strip().lstrip("#")
    text = text[1:] if text[:1] in ("l", "L") and text[1:2].isdigit() else text
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


def lock_lead(uow: UnitOfWork, lead_id: int) -> Lead:
    """The lead, row-locked for this transaction (PostgreSQL); fresh values, not a cached copy."""
    lead = uow.session.scalar(
        select(Lead).where(Lead.id == lead_id).with_for_update().execution_options(populate_existing=True)
    )
    if lead is None:
        raise scope.not_found("lead", lead_id)
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
    """The owner, his managers (write scope) or a write team member may work an owned lead. Out of
    reach it reads as not found; within reach but not his to change, `not_yours` names nobody."""
    reach.require_readable(uow, user_id, lead, lead.id, today)
    if lead.owner_id is None:
        return
    visible = scope.of(uow, user_id, today)
    if not scope.can_access(uow, visible, "lead", lead.id, lead.owner_id, write=True):
        raise UserError("leads/not_yours", lead_id=lead.id)


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
        raise UserError("leads/bad_phone", phone=phone[:40]).at("phone")
    return phone.strip()[:64], key


def clean_optional(text: str | None, limit: int, what: str) -> str | None:
    if text is None or not text.strip():
        return None
    text = " ".join(text.split())
    if len(text) > limit:
        raise UserError("leads/field_too_long", field=what, limit=limit).at(what)
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
        found = reach.duplicates_for(uow, actor_id, matches, now.date())
        raise UserError("leads/duplicate", company=company, matches=found.shown, hidden=found.hidden,
                        ask=found.ask).at("company")  # a form shows it beside the company
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
    reach.require_readable(uow, user_id=actor_id, lead=lead, lead_id=lead.id, today=now.date())
    if lead.owner_id is None and lead.status == S.UNASSIGNED and not can_manage_pool(uow, actor_id, lead.pool_id):
        raise UserError("leads/pool_admin_only", lead_id=lead.id)
    require_owner_side(uow, actor_id, lead, now.date())
    before = lead.status
    lead.status = next_status("void", lead.status, lead.id)
    lead.updated_at = now
    record_event(uow, lead, "void", actor_id, before, lead.owner_id, now, reason)
    return Moved(lead.id, lead.company, before, lead.status)

