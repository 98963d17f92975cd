"""The public pool (公海): listing, claiming, releasing and assigning, with the pool's rules.

Concurrency: a claim is a conditional UPDATE ... WHERE status = 'unassigned', so of many reps
claiming one lead exactly one row changes; the others are told who has it. A rep's own claims
are serialised on his users row (SELECT ... FOR UPDATE) so count-then-claim cannot overshoot his
cap or his daily limit. On SQLite every writer is already serialised (BEGIN IMMEDIATE).
"""
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, insert, literal, null, or_, select, update
from sqlalchemy.orm import aliased

from bot.errors import UserError
from bot.services import dedupe, identity, ownership, scope
from bot.services.leads import (
    S,
    can_manage_pool,
    find_pool,
    lock_lead,
    lock_user,
    member_pool_ids,
    next_status,
    parse_id,
    record_event,
    require_owner_side,
    user_name,
    visible_pool_query,
    visible_pools,
)
from db.base import UTCDateTime
from db.models import Lead, LeadEvent, OrgUnit, Pool, PoolMember, User
from db.models.crm import OPEN_LEAD_STATUSES
from db.models.leads import LeadClaim
from db.models.org import Role
from db.session import UnitOfWork

PAGE_SIZE = 10
MAX_PAYLOAD_BYTES = 64


# --- listing ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class PoolItem:
    id: int
    company: str
    contact: str | None
    region: str | None
    source: str | None
    industry: str | None
    pool: str


@dataclass(frozen=True)
class PoolPage:
    items: list[PoolItem]
    page: int
    has_next: bool
    pools: list[str]
    filters: str  # the filter part of the command line, for paging buttons

    def payload(self, page: int) -> str | None:
        """A paging button's command line, or None when it would not fit a button."""
        line = f"pool {page} {self.filters}".strip()
        if len(line.encode()) <= MAX_PAYLOAD_BYTES:
            return line
        return None


def page(uow: UnitOfWork, user_id: int, text: str | None, region: str | None = None, source: str | None = None,
         industry: str | None = None, page_no: int | None = None) -> PoolPage:
    """Unassigned leads of the caller's pools, newest first. A leading number in the text is the page."""
    words = (text or "").split()
    if page_no is None and words and words[0].isdigit():
        page_no = int(words.pop(0))
    page_no = max(1, min(page_no or 1, 100_000))
    needle = " ".join(words)[:100]
    pools = visible_pools(uow, user_id)
    pool_names = {p.id: p.name for p in pools}
    query = (
        select(Lead.id, Lead.company, Lead.contact_name, Lead.region, Lead.source, Lead.industry, Lead.pool_id)
        .where(Lead.pool_id.in_(list(pool_names)), Lead.status == S.UNASSIGNED)
        .order_by(Lead.created_at.desc(), Lead.id.desc())
        .offset((page_no - 1) * PAGE_SIZE)
        .limit(PAGE_SIZE + 1)
    )
    for column, value in ((Lead.region, region), (Lead.source, source), (Lead.industry, industry)):
        if value:
            query = query.where(func.lower(column) == value.strip().lower())
    if needle:
        key = dedupe.normalise_company(needle)
        like = f"%{needle}%"
        matches = [Lead.company.ilike(like), Lead.contact_name.ilike(like)]
        if key:
            matches.append(Lead.name_key.contains(key, autoescape=True))
        query = query.where(or_(*matches))
    rows = uow.session.execute(query).all() if pool_names else []
    items = [PoolItem(r.id, r.company, r.contact_name, r.region, r.source, r.industry, pool_names[r.pool_id])
             for r in rows[:PAGE_SIZE]]
    filters = " ".join(
        [f"--{name} {_quoted(value)}" for name, value in (("region", region), ("source", source),
                                                          ("industry", industry)) if value]
        + ([needle] if needle else [])
    )
    return PoolPage(items, page_no, len(rows) > PAGE_SIZE, [p.name for p in pools], filters)


def _quoted(value: str) -> str:
    return f'"{value}"' if " " in value else value


# --- claiming ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Claimed:
    lead_id: int
    company: str
    open_leads: int
    cap: int
    claims_today: int
    daily_limit: int


def _refuse_taken(uow: UnitOfWork, user_id: int, lead_id: int) -> None:
    """The lead is not claimable: say why (someone has it, it is yours, or its state)."""
    lead = uow.session.scalar(select(Lead).where(Lead.id == lead_id).execution_options(populate_existing=True))
    assert lead is not None
    if lead.owner_id == user_id and lead.status in (S.PENDING, S.FOLLOWING, S.INVALID):
        raise UserError("leads/already_yours", lead_id=lead.id)
    if lead.owner_id is not None and lead.status in (S.PENDING, S.FOLLOWING, S.INVALID):
        raise UserError("leads/taken", lead_id=lead.id, company=lead.company, owner=user_name(uow, lead.owner_id))
    next_status("claim", lead.status, lead.id)


def claim(uow: UnitOfWork, user_id: int, lead_id: int | str, now: datetime) -> Claimed:
    lead_id = parse_id(lead_id)
    # Lock the rep first: his concurrent claims queue here, and the checks below (a later statement)
    # see every claim committed before him.
    zone_name = uow.session.execute(select(User.timezone).where(User.id == user_id).with_for_update()).scalar()
    check = _claim_check(uow, user_id, lead_id, _local_midnight(zone_name, now))
    if check is None:
        raise UserError("leads/unknown", lead_id=lead_id)
    if check.status != S.UNASSIGNED:
        _refuse_taken(uow, user_id, lead_id)
    if not check.in_my_pool:
        raise UserError("leads/not_your_pool", lead_id=lead_id)
    if check.last_lost is not None and check.cooldown_days:
        until = check.last_lost + timedelta(days=check.cooldown_days)
        if until > now:
            raise UserError("leads/cooldown", lead_id=lead_id, days=check.cooldown_days,
                            until=until.astimezone(_zone(zone_name)).strftime("%Y-%m-%d %H:%M"))
    cap = check.cap if check.cap is not None else ownership.DEFAULT_CAP
    if check.held >= cap:
        raise UserError("leads/over_cap", cap=cap)
    if check.today >= check.daily_limit:
        raise UserError("leads/daily_limit", limit=check.daily_limit)
    if not _take(uow, user_id, lead_id, check.pool_id, now):
        _refuse_taken(uow, user_id, lead_id)
    return Claimed(lead_id, check.company, check.held + 1, cap, check.today + 1, check.daily_limit)


def _zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except Exception:
        return ZoneInfo("UTC")


def _local_midnight(zone_name: str | None, now: datetime) -> datetime:
    zone = _zone(zone_name)
    return datetime.combine(now.astimezone(zone).date(), time(0), tzinfo=zone)


def _claim_check(uow: UnitOfWork, user_id: int, lead_id: int, since: datetime):
    """Everything a claim decides on, in one round trip: the lead, its pool's rules, the rep's cap
    (ownership.cap: strictest of his pools), open leads (ownership.open_leads), claims today and
    when he last lost this lead."""
    other_pool, other_lead = aliased(Pool), aliased(Lead)
    mine = member_pool_ids(user_id)
    visible = visible_pool_query(user_id).with_only_columns(Pool.id)
    query = (
        select(
            Lead.status, Lead.pool_id, Lead.company,
            Pool.daily_claim_limit.label("daily_limit"), Pool.reclaim_cooldown_days.label("cooldown_days"),
            Lead.pool_id.in_(visible).label("in_my_pool"),
            select(func.min(other_pool.max_open_leads)).where(other_pool.id.in_(mine)).scalar_subquery()
            .label("cap"),
            select(func.count()).select_from(other_lead)
            .where(other_lead.owner_id == user_id, other_lead.status.in_(OPEN_LEAD_STATUSES)).scalar_subquery()
            .label("held"),
            select(func.count()).select_from(LeadClaim)
            .where(LeadClaim.user_id == user_id, LeadClaim.claimed_at >= since).scalar_subquery().label("today"),
            select(func.max(LeadEvent.at)).where(
                LeadEvent.lead_id == Lead.id, LeadEvent.kind.in_(("release", "return")),
                LeadEvent.from_owner_id == user_id,
            ).scalar_subquery().label("last_lost"),
        )
        .select_from(Lead).outerjoin(Pool, Pool.id == Lead.pool_id).where(Lead.id == lead_id)
    )
    row = uow.session.execute(query).one_or_none()
    if row is not None and row.last_lost is not None and row.last_lost.tzinfo is None:
        row = row._replace(last_lost=row.last_lost.replace(tzinfo=UTC))  # a subquery loses the column type
    return row


def _take(uow: UnitOfWork, user_id: int, lead_id: int, pool_id: int, now: datetime) -> bool:
    """The conditional UPDATE, with its claim-log row and LeadEvent; False when someone was first."""
    taken = (
        update(Lead).where(Lead.id == lead_id, Lead.status == S.UNASSIGNED, Lead.pool_id == pool_id)
        .values(status=S.PENDING, owner_id=user_id, claimed_at=now, last_followup_at=None, updated_at=now)
    )
    if uow.dialect == "postgresql":
        # One round trip: the update and both log rows in one statement.
        moved = taken.returning(Lead.id).cte("moved")
        at = literal(now, UTCDateTime())
        log_claim = insert(LeadClaim).from_select(
            ["user_id", "lead_id", "pool_id", "claimed_at"],
            select(literal(user_id), moved.c.id, literal(pool_id), at)).cte("log_claim")
        log_event = insert(LeadEvent).from_select(
            ["lead_id", "at", "actor_id", "kind", "from_status", "to_status", "from_owner_id", "to_owner_id",
             "pool_id"],
            select(moved.c.id, at, literal(user_id), literal("claim"), literal(S.UNASSIGNED.value),
                   literal(S.PENDING.value), null(), literal(user_id), literal(pool_id))).cte("log_event")
        statement = select(func.count()).select_from(moved).add_cte(log_claim, log_event)
        return uow.session.execute(statement, execution_options={"synchronize_session": False}).scalar() == 1
    if uow.session.execute(taken, execution_options={"synchronize_session": False}).rowcount != 1:
        return False
    uow.session.add(LeadClaim(user_id=user_id, lead_id=lead_id, pool_id=pool_id, claimed_at=now))
    uow.session.add(LeadEvent(lead_id=lead_id, at=now, actor_id=user_id, kind="claim", from_status=S.UNASSIGNED,
                              to_status=S.PENDING, from_owner_id=None, to_owner_id=user_id, pool_id=pool_id))
    return True


# --- releasing and assigning ------------------------------------------------------------------

@dataclass(frozen=True)
class Released:
    lead_id: int
    company: str
    pool: str
    cooldown_days: int


def release(uow: UnitOfWork, user_id: int, lead_id: int | str, reason: str | None, pool_name: str | None,
            now: datetime) -> Released:
    """Back to a pool; a rep in more than one pool says which one."""
    lead_id = parse_id(lead_id)
    lead = lock_lead(uow, lead_id)
    require_owner_side(uow, user_id, lead, now.date())
    before, owner = lead.status, lead.owner_id
    target = next_status("release", lead.status, lead.id)
    pools = visible_pools(uow, user_id)
    if pool_name:
        pool = find_pool(uow, pools, pool_name)
    elif len(pools) == 1:
        pool = pools[0]
    elif not pools and lead.pool_id is not None:
        pool = uow.session.get(Pool, lead.pool_id)
    elif not pools:
        raise UserError("leads/no_pool")
    else:
        raise UserError("leads/choose_pool", lead_id=lead.id, choices=", ".join(p.name for p in pools))
    assert pool is not None
    lead.status, lead.owner_id, lead.pool_id = target, None, pool.id
    lead.claimed_at = lead.last_followup_at = None
    lead.updated_at = now
    record_event(uow, lead, "release", user_id, before, owner, now, (reason or "").strip()[:500] or None)
    return Released(lead.id, lead.company, pool.name, pool.reclaim_cooldown_days)


@dataclass(frozen=True)
class Assigned:
    lead_id: int
    company: str
    rep_name: str
    rep_id: int


def assign(uow: UnitOfWork, actor_id: int, lead_id: int | str, rep: str, now: datetime) -> Assigned:
    """Pool admins and managers hand an unassigned lead to a rep of the pool; his cap still holds."""
    lead_id = parse_id(lead_id)
    lead = lock_lead(uow, lead_id)
    receiver = identity.find_user(uow, rep)
    if receiver is None or not receiver.active:
        raise UserError("leads/unknown_rep", rep=rep[:60])
    actor = uow.session.get(User, actor_id)
    assert actor is not None
    allowed = can_manage_pool(uow, actor_id, lead.pool_id)
    if allowed and actor.role == Role.MANAGER and not _pool_admin(uow, actor_id, lead.pool_id):
        allowed = scope.covers_user(uow, scope.of(uow, actor_id, now.date()), receiver.id)
    if not allowed:
        raise UserError("leads/admin_only", lead_id=lead.id)
    target = next_status("assign", lead.status, lead.id)
    if lead.pool_id not in {p.id for p in ownership.pools_of(uow, receiver.id)}:
        raise UserError("leads/rep_not_in_pool", rep=receiver.name, lead_id=lead.id)
    lock_user(uow, receiver.id)
    if ownership.room(uow, receiver.id) <= 0:
        raise UserError("leads/rep_over_cap", rep=receiver.name, cap=ownership.cap(uow, receiver.id))
    before = lead.status
    lead.status, lead.owner_id, lead.claimed_at, lead.last_followup_at = target, receiver.id, now, None
    lead.updated_at = now
    record_event(uow, lead, "assign", actor_id, before, None, now)
    from bot.services import outbox

    outbox.render_direct(uow, receiver.id, "pool/assigned_dm",
                         {"lead_id": lead.id, "company": lead.company, "by": actor.name},
                         dedupe_key=f"lead-assigned:{lead.id}:{receiver.id}:{now.isoformat()}")
    return Assigned(lead.id, lead.company, receiver.name, receiver.id)


def _pool_admin(uow: UnitOfWork, user_id: int, pool_id: int | None) -> bool:
    user = uow.session.get(User, user_id)
    unit = uow.session.get(OrgUnit, user.unit_id) if user else None
    ancestors = [int(p) for p in unit.path.strip("/").split("/") if p] if unit else []
    return uow.session.scalar(
        select(PoolMember.id).where(PoolMember.pool_id == pool_id, PoolMember.is_admin.is_(True),
                                    or_(PoolMember.user_id == user_id, PoolMember.unit_id.in_(ancestors))).limit(1)
    ) is not None


# --- demo -------------------------------------------------------------------------------------

DEMO_POOL = "demo pool"
DEMO_LEADS = [
    ("上海星河贸易有限公司", "陈静", "+86 138 0013 8001", "华东", "展会", "贸易"),
    ("杭州云杉科技股份有限公司", "刘洋", "0571-8888 1234", "华东", "官网", "软件"),
    ("北京长城机械集团", "赵磊", "010-6543 2100", "华北", "电话", "制造"),
    ("Bluewater Logistics Co., Ltd.", "Emma Stone", "+1 415 555 0101", "West", "referral", "logistics"),
    ("Northwind Foods Inc.", "Tom Baker", "+44 20 7946 0958", "Europe", "web", "food"),
    ("深圳 Lumen 照明 Ltd.", "Kevin 王", "0755-2233 4455", "华南", "展会", "照明"),
]


def load_demo_pool(uow: UnitOfWork, now: datetime) -> None:
    """A demo pool for the whole demo company, with a few unassigned leads. Safe to run twice."""
    if uow.session.scalar(select(Pool.id).where(Pool.name == DEMO_POOL)) is not None:
        return
    root = uow.session.scalar(select(OrgUnit).where(OrgUnit.parent_id.is_(None)).order_by(OrgUnit.id).limit(1))
    if root is None:
        return
    pool = Pool(name=DEMO_POOL, unit_id=root.id, created_at=now)
    uow.session.add(pool)
    uow.session.flush()
    uow.session.add(PoolMember(pool_id=pool.id, unit_id=root.id))
    for manager in uow.session.scalars(select(User).where(User.role == Role.MANAGER)):
        uow.session.add(PoolMember(pool_id=pool.id, user_id=manager.id, is_admin=True))
    for offset, (company, contact, phone, region, source, industry) in enumerate(DEMO_LEADS):
        created = now - timedelta(minutes=len(DEMO_LEADS) - offset)
        lead = Lead(company=company, name_key=dedupe.normalise_company(company), contact_name=contact, phone=phone,
                    phone_key=dedupe.normalise_phone(phone), region=region, source=source, industry=industry,
                    status=S.UNASSIGNED, pool_id=pool.id, created_at=created, updated_at=created)
        uow.session.add(lead)
        uow.session.flush()
        record_event(uow, lead, "create", None, None, None, created, "demo")
