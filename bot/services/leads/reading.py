"""Reading leads: one lead with its history and latest follow-ups (/lead), and lists of leads by
status, for oneself or, for a manager, a rep or a unit in his scope (/leads)."""
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from bot.errors import UserError
from bot.services.core import identity, org, paging
from bot.services.leads.lifecycle import S, parse_id, user_name
from bot.services.leads.reach import reach
from bot.services.manager import scope
from db.models import Lead, LeadEvent, LeadFollowup, LeadStatus, OrgUnit, Pool, User
from db.models.lead import OPEN_LEAD_STATUSES
from db.session import UnitOfWork

LIST_LIMIT = paging.PAGE_SIZE
SHOWN_WEIGHTS = 6  # candidates named in a distribution's history line; the rest are counted
# What /leads accepts as a status word, in both languages.
STATUS_WORDS = {
    **{s.value: s.value for s in LeadStatus},
    "未分配": S.UNASSIGNED, "待处理": S.PENDING, "跟进中": S.FOLLOWING, "无效": S.INVALID,
    "已转换": S.CONVERTED, "已作废": S.VOIDED, "open": "open", "all": "all", "全部": "all", "进行中": "open",
}


@dataclass(frozen=True)
class WeightRow:
    name: str
    weight: float  # his smoothed conversion rate on leads like this one
    prior: bool  # no record: the pool's rate


@dataclass(frozen=True)
class DistributionNote:
    """How auto-distribution chose: plain, or matched with the candidates' weights best first. Only
    the candidates the reader may see (his scope, and the lead's receiver) are named; others counted."""
    mode: str
    weights: list[WeightRow]
    others: int


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
    distribution: DistributionNote | None = None


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


def user_zone(uow: UnitOfWork, user_id: int) -> ZoneInfo:
    """The user's own time zone, UTC when unknown: what his history is shown in."""
    user = uow.session.get(User, user_id)
    try:
        return ZoneInfo(user.timezone if user else "UTC")
    except Exception:  # an unknown zone name must not break a read
        return ZoneInfo("UTC")


def readable_lead(uow: UnitOfWork, user_id: int, lead_id: int, today) -> tuple[Lead, bool]:
    """The lead if the user may read it (else the one not-found answer); the flag tells whether it waits
    in one of his pools."""
    lead = uow.session.get(Lead, lead_id)
    if lead is None:
        raise scope.not_found("lead", lead_id)
    where = reach(uow, user_id, lead.id, lead.status, lead.owner_id, lead.pool_id, today)
    if where is None:
        raise scope.not_found("lead", lead_id)
    return lead, where == "pool"


def detail(uow: UnitOfWork, user_id: int, lead_id: int | str, now: datetime) -> LeadDetail:
    lead_id = parse_id(lead_id)
    lead, claimable = readable_lead(uow, user_id, lead_id, now.date())
    zone = user_zone(uow, user_id)
    names: dict[int | None, str | None] = {None: None}

    def name(uid: int | None) -> str | None:
        if uid not in names:
            names[uid] = user_name(uow, uid)
        return names[uid]

    visible = scope.of(uow, user_id, now.date())
    events = [
        EventRow(e.at.astimezone(zone), e.kind, name(e.actor_id), e.from_status, e.to_status,
                 name(e.from_owner_id), name(e.to_owner_id), e.reason, _note(uow, visible, e.data, name))
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


def _note(uow: UnitOfWork, visible: scope.Scope, data: dict | None, name) -> DistributionNote | None:
    if not data or "mode" not in data:
        return None
    shown, others = [], 0
    for rep, weight, prior in data.get("weights", []):
        if len(shown) < SHOWN_WEIGHTS and (rep == data.get("to") or scope.covers_user(uow, visible, rep)):
            shown.append(WeightRow(name(rep) or "?", weight, prior))
        else:
            others += 1
    return DistributionNote(data["mode"], shown, others)


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
    page: paging.Page


def _status_filter(word: str | None) -> str | None:
    if word is None:
        return "open"
    return STATUS_WORDS.get(unicodedata.normalize("NFKC", word).strip().casefold())


def list_leads(uow: UnitOfWork, user_id: int, status_word: str | None, who: str | None, today,
               page_no: int | None = None) -> LeadList:
    """/leads [status] [rep|unit]: own leads; a manager may name a rep or a unit in his scope. One page of them."""
    page_no = paging.number(page_no)
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
        for lead, owner in uow.session.execute(query.order_by(Lead.updated_at.desc(), Lead.id.desc())
                                               .offset(paging.offset(page_no)).limit(LIST_LIMIT))
    ]
    return LeadList(rows, total, status, whose, paging.of_total(page_no, len(rows), total))


def _owners(uow: UnitOfWork, visible: scope.Scope, user_id: int, who: str | None):
    if who is None:
        return select(User.id).where(User.id == user_id), user_name(uow, user_id) or ""
    user = identity.find_user(uow, who)
    if user is not None:
        scope.user_or_not_found(uow, visible, user, who, kind="who")
        return select(User.id).where(User.id == user.id), user.name
    wanted = unicodedata.normalize("NFKC", who).strip().casefold()
    unit = next((u for u in uow.session.scalars(select(OrgUnit).where(OrgUnit.active.is_(True)))
                 if u.name.casefold() == wanted), None)
    unit = scope.unit_or_not_found(uow, visible, unit, who, kind="who")
    members = org.subtree_user_ids(unit.path)
    return members, unit.name
