"""Taking leads out of the pool and giving them back: claiming (the rep's cap, the pool's daily limit
and the cooldown after he lost the lead), releasing, and assigning by pool admins and managers.

Concurrency: a claim is a conditional UPDATE ... WHERE status = 'unassigned', so of many reps
claiming one lead exactly one row changes; the others are told who has it. A rep's own claims
are serialised on his users row (SELECT ... FOR UPDATE), and the UPDATE, a later statement, counts
his open leads and today's claims afresh and is guarded by them, so he cannot overshoot his cap
or his daily limit. On SQLite every writer is already serialised (BEGIN IMMEDIATE).
The UPDATE bypasses the audit listener: the claim log, the LeadEvent and the audit row are written
with it (on PostgreSQL in the same statement).
"""
import json
from dataclasses import dataclass
from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

from sqlalchemy import (
    JSON,
    Integer,
    Select,
    String,
    bindparam,
    cast,
    exists,
    func,
    insert,
    null,
    select,
    update,
)

from bot.errors import UserError
from bot.services.core import audit_log, identity, outbox
from bot.services.leads import ownership, reach, returns
from bot.services.leads.lifecycle import (
    UNCLAIMED,
    S,
    claimed_fields,
    lock_lead,
    lock_user,
    next_status,
    parse_id,
    record_event,
    require_owner_side,
    user_name,
)
from bot.services.leads.ownership import run
from bot.services.leads.pool import (
    can_manage_pool,
    find_pool,
    is_pool_admin,
    sees_pool,
    visible_pools,
)
from bot.services.manager import scope
from db.base import UTCDateTime
from db.models import Lead, LeadClaim, LeadEvent, Pool, User
from db.models.org import Role
from db.session import UnitOfWork


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
    if not in_my_pool and not reach.may_read_lead(uow, user_id, lead, now.date()):
        raise scope.not_found("lead", lead.id)
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
        raise scope.not_found("lead", lead_id)
    if check.status != S.UNASSIGNED:
        _refuse_taken(uow, user_id, lead_id, bool(check.in_my_pool), now)
    if not check.in_my_pool:
        lead = uow.session.get(Lead, lead_id)
        if lead is None or not reach.may_read_lead(uow, user_id, lead, now.date()):
            raise scope.not_found("lead", lead_id)
        raise UserError("leads/not_your_pool", lead_id=lead_id)
    until = returns.cooldown_until(_aware(check.last_lost), check.cooldown_days)
    if until is not None and until > now:
        raise UserError("leads/cooldown", lead_id=lead_id, days=check.cooldown_days,
                        until=until.astimezone(_zone(check.timezone)))
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
_ACTOR = bindparam("audit_actor", type_=Integer)
_PLATFORM = bindparam("audit_platform", type_=String)
_AFTER = bindparam("audit_after", type_=JSON)


def _lock_and_check_query() -> Select:
    """The rep's users row, locked, with everything a claim decides on: the lead, its pool's rules,
    whether he sees that pool (pool.sees_pool), his cap (ownership.cap_query) and when he last lost
    this lead (returns.last_lost_query). His pools are looked up once, for both. His open leads are
    not read here: the take counts them after the lock. The lead's columns are NULL when it does
    not exist."""
    user_id = ownership.USER_ID
    mine = ownership.member_pool_ids(user_id).cte("my_pools")
    my_pool_ids = select(mine.c.pool_id)
    return (
        select(
            User.timezone, Lead.status, Lead.pool_id, Lead.company,
            Pool.daily_claim_limit.label("daily_limit"), Pool.reclaim_cooldown_days.label("cooldown_days"),
            sees_pool(user_id, my_pool_ids).label("in_my_pool"),
            ownership.cap_query(user_id, my_pool_ids).label("cap"),
            returns.last_lost_query(Lead.id, user_id).label("last_lost"),
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
        .values(status=ownership.constant(S.PENDING.value), owner_id=_REP, claimed_at=_NOW, last_followup_at=null(),
                updated_at=_NOW)
    )
    fresh = counts.cte("fresh")
    under_limits = exists().where(fresh.c.held < _CAP, fresh.c.today < _LIMIT)
    moved = taken.where(under_limits).returning(Lead.id).cte("moved")
    log_claim = insert(LeadClaim).from_select(
        ["user_id", "lead_id", "pool_id", "claimed_at"],
        select(_REP, moved.c.id, _POOL_ID, _NOW)).cte("log_claim")
    log_event = insert(LeadEvent).from_select(
        ["lead_id", "at", "actor_id", "kind", "from_status", "to_status", "from_owner_id", "to_owner_id", "pool_id"],
        select(moved.c.id, _NOW, _REP, ownership.constant("claim"), ownership.constant(S.UNASSIGNED.value),
               ownership.constant(S.PENDING.value), null(), _REP, _POOL_ID)).cte("log_event")
    log_audit = audit_log.insert_from(
        select(_NOW, _ACTOR, _PLATFORM, ownership.constant("lead"), moved.c.id, ownership.constant("update"),
               cast(ownership.constant(json.dumps(UNCLAIMED)), JSON).label("before"), cast(_AFTER, JSON), _REP),
    ).cte("log_audit")
    take_and_log = select(fresh.c.held, fresh.c.today, select(func.count()).select_from(moved).scalar_subquery()
                          .label("taken")).add_cte(log_claim, log_event, log_audit)
    return counts, taken, take_and_log


_COUNTS, _TAKE, _TAKE_AND_LOG = _take_statements()


def _take(uow: UnitOfWork, user_id: int, lead_id: int, check, since: datetime,
          now: datetime) -> tuple[int, int, bool]:
    """(open leads, claims today) before this claim, and whether it took the lead (False: over a
    limit, or someone was first)."""
    params = {"the_rep": user_id, "the_lead": lead_id, "the_pool": check.pool_id, "the_time": now, "since": since,
              "the_cap": check.cap, "the_limit": check.daily_limit}
    options = {"synchronize_session": False}
    after = claimed_fields(user_id, now)
    if uow.dialect == "postgresql":
        actor = audit_log.actor_fields()
        params.update(audit_actor=actor["actor_id"], audit_platform=actor["platform"], audit_after=after)
        held, today, taken = run(uow, _TAKE_AND_LOG, params).one()
        return held, today, taken == 1
    # SQLite: every writer is serialised, so count-then-update cannot race.
    held, today = uow.session.execute(_COUNTS, params).one()
    if held >= check.cap or today >= check.daily_limit:
        return held, today, False
    if uow.session.execute(_TAKE, params, execution_options=options).rowcount != 1:
        return held, today, False
    audit_log.write(uow.session, audit_log.bulk_rows("lead", "update", [(lead_id, UNCLAIMED, after, user_id)], now))
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
    reach.require_readable(uow, actor_id, lead, lead.id, now.date())
    actor = uow.session.get(User, actor_id)
    assert actor is not None
    if not can_manage_pool(uow, actor_id, lead.pool_id):
        raise UserError("leads/admin_only", lead_id=lead.id)
    receiver = _receiver(uow, actor, rep, lead.pool_id, now)
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
    outbox.queue_direct(uow, receiver.id, "pool/assigned_dm",
                         {"lead_id": lead.id, "company": lead.company, "by": actor.name},
                         dedupe_key=f"lead-assigned:{lead.id}:{receiver.id}:{now.isoformat()}", now=now)
    return Assigned(lead.id, lead.company, receiver.name, receiver.id)


def _receiver(uow: UnitOfWork, actor: User, rep: str, pool_id: int | None, now: datetime) -> User:
    """Whom a lead may be assigned to: someone in the actor's scope, or for a pool admin a member of the
    lead's pool. Anyone else reads as unknown, like a handle nobody has."""
    receiver = identity.find_user(uow, rep)
    if receiver is None or not receiver.active:
        raise scope.not_found("user", rep)
    in_pool = pool_id in {p.id for p in ownership.pools_of(uow, receiver.id)}
    pool_admin = actor.role == Role.ADMIN or is_pool_admin(uow, actor, pool_id)
    if not (pool_admin and in_pool):
        scope.user_or_not_found(uow, scope.of(uow, actor.id, now.date()), receiver, rep)
    return receiver
