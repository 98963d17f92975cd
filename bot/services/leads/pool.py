"""The public pool (公海): listing, claiming, releasing and assigning, with the pool's rules.

Concurrency: a claim is a conditional UPDATE ... WHERE status = 'unassigned', so of many reps
claiming one lead exactly one row changes; the others are told who has it. A rep's own claims
are serialised on his users row (SELECT ... FOR UPDATE), and the UPDATE, a later statement, counts
his open leads and today's claims afresh and is guarded by them, so he cannot overshoot his cap
or his daily limit. On SQLite every writer is already serialised (BEGIN IMMEDIATE).
"""
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from sqlalchemy import (
    Integer,
    Select,
    String,
    bindparam,
    exists,
    func,
    insert,
    literal,
    null,
    or_,
    select,
    true,
    union_all,
    update,
)

from bot.errors import UserError
from bot.services.core import identity
from bot.services.leads import dedupe, ownership
from bot.services.leads.lifecycle import (
    VISIBLE_POOL_NAMES,
    S,
    can_manage_pool,
    find_pool,
    is_pool_admin,
    lock_lead,
    lock_user,
    next_status,
    parse_id,
    record_event,
    require_owner_side,
    run,
    user_name,
    visible_pool_names,
    visible_pool_query,
    visible_pools,
)
from bot.services.manager import scope
from db import phone_keys
from db.base import UTCDateTime
from db.models import Lead, LeadEvent, OrgUnit, Pool, PoolMember, User
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
    filters_on = {name: value.strip().lower() for name, value in (("region", region), ("source", source),
                                                                 ("industry", industry)) if value}
    params: dict[str, object] = {"user_id": user_id, **filters_on}
    key = dedupe.normalise_company(needle) if needle else ""
    if needle:
        params["like"] = f"%{needle}%"
    if key:
        params["key_like"] = "%" + _escape_like(key) + "%"
    shape = (frozenset(filters_on), bool(needle), bool(key), (page_no - 1) * PAGE_SIZE)
    if uow.dialect == "postgresql":
        pool_names, rows = _pools_and_page(uow, shape, params)
    else:
        pool_names = visible_pool_names(uow, user_id)
        rows = run(uow, _page_query(*shape), {**params, "pool_ids": list(pool_names)}).all() if pool_names else []
    items = [PoolItem(r.id, r.company, r.contact_name, r.region, r.source, r.industry, pool_names[r.pool_id])
             for r in rows[:PAGE_SIZE]]
    filters = " ".join(
        [f"--{name} {_quoted(value)}" for name, value in (("region", region), ("source", source),
                                                          ("industry", industry)) if value]
        + ([needle] if needle else [])
    )
    return PoolPage(items, page_no, len(rows) > PAGE_SIZE, list(pool_names.values()), filters)


def _pools_and_page(uow: UnitOfWork, shape: tuple, params: dict) -> tuple[dict[int, str], list]:
    """PostgreSQL: the caller's pools and the page in one round trip (see _one_trip_query)."""
    pool_names: dict[int, str] = {}
    rows = []
    for row in run(uow, _one_trip_query(*shape), params):
        if row.id is None:
            pool_names[row.pool_id] = row.pool_name
        else:
            rows.append(row)
    return dict(sorted(pool_names.items())), rows


@lru_cache(maxsize=256)
def _one_trip_query(filters: frozenset[str], needle: bool, key: bool, offset: int) -> Select:
    """One row per visible pool (lead columns NULL), then the page: per pool its newest
    offset + PAGE_SIZE + 1 matching leads (an index range each, LATERAL), merged newest first."""
    mine = VISIBLE_POOL_NAMES.cte("mine")
    per_pool = _filtered(
        select(Lead.id, Lead.company, Lead.contact_name, Lead.region, Lead.source, Lead.industry, Lead.created_at)
        .where(Lead.pool_id == mine.c.id, Lead.status == ownership.constant(S.UNASSIGNED.value))
        .order_by(Lead.created_at.desc(), Lead.id.desc())
        .limit(ownership.constant(offset + PAGE_SIZE + 1)),
        filters, needle, key,
    ).lateral("newest")
    page_rows = (
        select(mine.c.id.label("pool_id"), mine.c.name.label("pool_name"), per_pool.c.id, per_pool.c.company,
               per_pool.c.contact_name, per_pool.c.region, per_pool.c.source, per_pool.c.industry)
        .select_from(mine.join(per_pool, true()))
        .order_by(per_pool.c.created_at.desc(), per_pool.c.id.desc())
        .offset(ownership.constant(offset)).limit(ownership.constant(PAGE_SIZE + 1))
        .subquery("page_rows")
    )
    no_lead = [null().label(name) for name in ("id", "company", "contact_name", "region", "source", "industry")]
    pools = select(mine.c.id.label("pool_id"), mine.c.name.label("pool_name"), *no_lead)
    return union_all(pools, select(*page_rows.c)).subquery("result").select()


@lru_cache(maxsize=256)
def _page_query(filters: frozenset[str], needle: bool, key: bool, offset: int) -> Select:
    """The page statement for one combination of filters, built once (see ownership's docstring)."""
    query = (
        select(Lead.id, Lead.company, Lead.contact_name, Lead.region, Lead.source, Lead.industry, Lead.pool_id)
        .where(Lead.pool_id.in_(bindparam("pool_ids", expanding=True)),
               Lead.status == ownership.constant(S.UNASSIGNED.value))
        .order_by(Lead.created_at.desc(), Lead.id.desc())
        # Written into the text (one statement per page number): as parameters PostgreSQL would never
        # settle on a generic plan and would plan the page afresh every time.
        .offset(ownership.constant(offset))
        .limit(ownership.constant(PAGE_SIZE + 1))
    )
    return _filtered(query, filters, needle, key)


def _filtered(query: Select, filters: frozenset[str], needle: bool, key: bool) -> Select:
    for column in (Lead.region, Lead.source, Lead.industry):
        if column.key in filters:
            query = query.where(func.lower(column) == bindparam(column.key, type_=String))
    if needle:
        like = bindparam("like", type_=String)
        matches = [Lead.company.ilike(like), Lead.contact_name.ilike(like)]
        if key:
            matches.append(Lead.name_key.like(bindparam("key_like", type_=String), escape="/"))
        query = query.where(or_(*matches))
    return query


def _escape_like(text: str) -> str:
    return text.replace("/", "//").replace("%", "/%").replace("_", "/_")


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


def _refuse_taken(uow: UnitOfWork, user_id: int, lead_id: int, in_my_pool: bool, now: datetime) -> None:
    """The lead is not claimable: say why (someone has it, it is yours, or its state). Who has it
    is told only when the lead comes from one of the rep's pools (two reps raced for it) or is in
    his data scope; otherwise it is "unknown", and nothing about it shows."""
    lead = uow.session.scalar(select(Lead).where(Lead.id == lead_id).execution_options(populate_existing=True))
    assert lead is not None
    if lead.owner_id == user_id and lead.status in (S.PENDING, S.FOLLOWING, S.INVALID):
        raise UserError("leads/already_yours", lead_id=lead.id)
    if not in_my_pool and not _in_scope(uow, user_id, lead, now):
        raise UserError("leads/unknown", lead_id=lead.id)
    if lead.owner_id is not None and lead.status in (S.PENDING, S.FOLLOWING, S.INVALID):
        raise UserError("leads/taken", lead_id=lead.id, company=lead.company, owner=user_name(uow, lead.owner_id))
    next_status("claim", lead.status, lead.id)


def claim(uow: UnitOfWork, user_id: int, lead_id: int | str, now: datetime) -> Claimed:
    """Two statements and the commit. The first locks the rep's users row (his concurrent claims
    queue there) and reads every rule; the second, which starts after the lock is held and so sees
    every claim committed before it, re-counts his open leads and today's claims and takes the lead
    only if both are still under the limits."""
    lead_id = parse_id(lead_id)
    check = run(uow, _LOCK_AND_CHECK, {"user_id": user_id, "the_lead": lead_id}).one()
    if check.status is None:
        raise UserError("leads/unknown", lead_id=lead_id)
    if check.status != S.UNASSIGNED:
        _refuse_taken(uow, user_id, lead_id, bool(check.in_my_pool), now)
    if not check.in_my_pool:
        raise UserError("leads/not_your_pool", lead_id=lead_id)
    last_lost = _aware(check.last_lost)
    if last_lost is not None and check.cooldown_days:
        until = last_lost + timedelta(days=check.cooldown_days)
        if until > now:
            raise UserError("leads/cooldown", lead_id=lead_id, days=check.cooldown_days,
                            until=until.astimezone(_zone(check.timezone)))
    if check.held >= check.cap:  # early answer; the take re-checks on fresh counts
        raise UserError("leads/over_cap", cap=check.cap)
    held, today, taken = _take(uow, user_id, lead_id, check, _local_midnight(check.timezone, now), now)
    if held >= check.cap:
        raise UserError("leads/over_cap", cap=check.cap)
    if today >= check.daily_limit:
        raise UserError("leads/daily_limit", limit=check.daily_limit)
    if not taken:
        _refuse_taken(uow, user_id, lead_id, True, now)
    return Claimed(lead_id, check.company, held + 1, check.cap, today + 1, check.daily_limit)


def _aware(at: datetime | None) -> datetime | None:
    """On SQLite a subquery loses the column type, so its time comes back naive (it is UTC)."""
    return at.replace(tzinfo=UTC) if at is not None and at.tzinfo is None else at


def _zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except Exception:
        return ZoneInfo("UTC")


def _local_midnight(zone_name: str | None, now: datetime) -> datetime:
    zone = _zone(zone_name)
    return datetime.combine(now.astimezone(zone).date(), time(0), tzinfo=zone)


# The claim's statements, built once with bind parameters (see ownership's docstring).
# (Not named like a column: insert() and update() reserve those names.)
_NOW = bindparam("the_time", type_=UTCDateTime())
_SINCE = bindparam("since", type_=UTCDateTime())
_LEAD_ID = bindparam("the_lead", type_=Integer)
_POOL_ID = bindparam("the_pool", type_=Integer)
_REP = bindparam("the_rep", type_=Integer)
_CAP = bindparam("the_cap", type_=Integer)
_LIMIT = bindparam("the_limit", type_=Integer)


def _lock_and_check_query() -> Select:
    """The rep's users row, locked, with everything a claim decides on: the lead, its pool's rules,
    his cap (ownership.cap_query), open leads (ownership.open_leads_query) and when he last lost
    this lead. The lead's columns are NULL when it does not exist."""
    user_id = ownership.USER_ID
    visible = visible_pool_query(user_id).with_only_columns(Pool.id)
    return (
        select(
            User.timezone, Lead.status, Lead.pool_id, Lead.company,
            Pool.daily_claim_limit.label("daily_limit"), Pool.reclaim_cooldown_days.label("cooldown_days"),
            Lead.pool_id.in_(visible).label("in_my_pool"),
            ownership.cap_query(user_id).label("cap"),
            ownership.open_leads_query(user_id).label("held"),
            select(func.max(LeadEvent.at)).where(
                LeadEvent.lead_id == Lead.id,
                LeadEvent.kind.in_([ownership.constant("release"), ownership.constant("return")]),
                LeadEvent.from_owner_id == user_id,
            ).scalar_subquery().label("last_lost"),
        )
        .select_from(User).outerjoin(Lead, Lead.id == _LEAD_ID).outerjoin(Pool, Pool.id == Lead.pool_id)
        .where(User.id == user_id)
        .with_for_update(of=User)
    )


_LOCK_AND_CHECK = _lock_and_check_query()


def _take_statements():
    """The fresh counts, and the conditional UPDATE guarded by them; on PostgreSQL in one statement
    with the claim-log row and the LeadEvent (data-modifying CTEs)."""
    claims_today = (select(func.count()).select_from(LeadClaim)
                    .where(LeadClaim.user_id == _REP, LeadClaim.claimed_at >= _SINCE).scalar_subquery())
    counts = select(ownership.open_leads_query(_REP).label("held"), claims_today.label("today"))
    taken = (
        update(Lead).where(Lead.id == _LEAD_ID, Lead.status == ownership.constant(S.UNASSIGNED.value),
                           Lead.pool_id == _POOL_ID)
        .values(status=S.PENDING, owner_id=_REP, claimed_at=_NOW, last_followup_at=None, updated_at=_NOW)
    )
    fresh = counts.cte("fresh")
    under_limits = exists().where(fresh.c.held < _CAP, fresh.c.today < _LIMIT)
    moved = taken.where(under_limits).returning(Lead.id).cte("moved")
    log_claim = insert(LeadClaim).from_select(
        ["user_id", "lead_id", "pool_id", "claimed_at"],
        select(_REP, moved.c.id, _POOL_ID, _NOW)).cte("log_claim")
    log_event = insert(LeadEvent).from_select(
        ["lead_id", "at", "actor_id", "kind", "from_status", "to_status", "from_owner_id", "to_owner_id", "pool_id"],
        select(moved.c.id, _NOW, _REP, literal("claim"), literal(S.UNASSIGNED.value),
               literal(S.PENDING.value), null(), _REP, _POOL_ID)).cte("log_event")
    take_and_log = select(fresh.c.held, fresh.c.today, select(func.count()).select_from(moved).scalar_subquery()
                          .label("taken")).add_cte(log_claim, log_event)
    return counts, taken, take_and_log


_COUNTS, _TAKE, _TAKE_AND_LOG = _take_statements()


def _take(uow: UnitOfWork, user_id: int, lead_id: int, check, since: datetime,
          now: datetime) -> tuple[int, int, bool]:
    """(open leads, claims today) before this claim, and whether it took the lead (False: over a
    limit, or someone was first)."""
    params = {"the_rep": user_id, "the_lead": lead_id, "the_pool": check.pool_id, "the_time": now, "since": since,
              "the_cap": check.cap, "the_limit": check.daily_limit}
    options = {"synchronize_session": False}
    if uow.dialect == "postgresql":
        held, today, taken = run(uow, _TAKE_AND_LOG, params).one()
        return held, today, taken == 1
    # SQLite: every writer is serialised, so count-then-update cannot race.
    held, today = uow.session.execute(_COUNTS, params).one()
    if held >= check.cap or today >= check.daily_limit:
        return held, today, False
    if uow.session.execute(_TAKE, params, execution_options=options).rowcount != 1:
        return held, today, False
    uow.session.add(LeadClaim(user_id=user_id, lead_id=lead_id, pool_id=check.pool_id, claimed_at=now))
    uow.session.add(LeadEvent(lead_id=lead_id, at=now, actor_id=user_id, kind="claim", from_status=S.UNASSIGNED,
                              to_status=S.PENDING, from_owner_id=None, to_owner_id=user_id, pool_id=check.pool_id))
    return held, today, True


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
    if lead.owner_id is not None and not _in_scope(uow, actor_id, lead, now):
        raise UserError("leads/unknown", lead_id=lead.id)
    receiver = identity.find_user(uow, rep)
    if receiver is None or not receiver.active:
        raise UserError("leads/unknown_rep", rep=rep[:60])
    actor = uow.session.get(User, actor_id)
    assert actor is not None
    allowed = can_manage_pool(uow, actor_id, lead.pool_id)
    if allowed and actor.role == Role.MANAGER and not is_pool_admin(uow, actor, lead.pool_id):
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
    from bot.services.core import outbox

    outbox.render_direct(uow, receiver.id, "pool/assigned_dm",
                         {"lead_id": lead.id, "company": lead.company, "by": actor.name},
                         dedupe_key=f"lead-assigned:{lead.id}:{receiver.id}:{now.isoformat()}")
    return Assigned(lead.id, lead.company, receiver.name, receiver.id)


def _in_scope(uow: UnitOfWork, user_id: int, lead: Lead, now: datetime) -> bool:
    return scope.can_access(uow, scope.of(uow, user_id, now.date()), "lead", lead.id, lead.owner_id)


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
                    phone_key=phone_keys.phone_key(phone, root.phone_region or phone_keys.DEFAULT_REGION),
                    region=region, source=source, industry=industry,
                    status=S.UNASSIGNED, pool_id=pool.id, created_at=created, updated_at=created)
        uow.session.add(lead)
        uow.session.flush()
        record_event(uow, lead, "create", None, None, None, created, "demo")
