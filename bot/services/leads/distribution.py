"""Fair auto-distribution of new pool leads: weighted round-robin by each rep's remaining
capacity, ties broken at random, so the longest-serving rep does not get everything.

Each lead goes to the rep with the most room left; his room then shrinks by one. Over a batch
every rep receives leads in proportion to his free capacity, and equal reps alternate at random.
A pool whose `distribution` is matched weighs the draw by each rep's record on leads like it
(bot.services.leads.matching). Each assignment's history event records the mode (and the weights).
"""
import heapq
import random
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import exists, select, update

from bot.services.core import audit_log
from bot.services.leads import matching, ownership
from bot.services.leads.lifecycle import UNCLAIMED, S, claimed_fields, lock_user
from db.models import Lead, LeadEvent, OrgUnit, Pool, PoolMember, User
from db.models.org import Role
from db.session import UnitOfWork

# Leads that were never owned: a returned lead waits in the pool to be claimed, not pushed.
NEVER_OWNED_KINDS = ("claim", "assign", "release", "return")
PLAIN_NOTE = {"mode": "plain"}


@dataclass(frozen=True)
class Distributed:
    pool_id: int
    assigned: dict[int, list[int]]  # rep id -> lead ids


def pool_reps(uow: UnitOfWork, pool: Pool) -> list[int]:
    """Active reps who belong to the pool, directly or through their unit or an ancestor unit."""
    members = list(uow.session.execute(select(PoolMember.unit_id, PoolMember.user_id)
                                       .where(PoolMember.pool_id == pool.id, PoolMember.removed_at.is_(None))))
    user_ids = {m.user_id for m in members if m.user_id}
    unit_ids = [m.unit_id for m in members if m.unit_id]
    paths = list(uow.session.scalars(select(OrgUnit.path).where(OrgUnit.id.in_(unit_ids)))) if unit_ids else []
    reps = set()
    for user in uow.session.scalars(select(User).join(OrgUnit, User.unit_id == OrgUnit.id)
                                    .where(User.active.is_(True), User.role == Role.REP)):
        if user.id in user_ids or any(user.unit.path.startswith(path) for path in paths):
            reps.add(user.id)
    return sorted(reps)


def plan(rooms: dict[int, int], lead_ids: list[int], rng: random.Random) -> dict[int, list[int]]:
    """Who gets which lead: most room first, random among equals; nobody beyond his room."""
    heap = [(-room, rng.random(), rep) for rep, room in rooms.items() if room > 0]
    heapq.heapify(heap)
    result: dict[int, list[int]] = {}
    for lead_id in lead_ids:
        if not heap:
            break
        negative_room, _, rep = heapq.heappop(heap)
        result.setdefault(rep, []).append(lead_id)
        if negative_room + 1 < 0:
            heapq.heappush(heap, (negative_room + 1, rng.random(), rep))
    return result


def distribute(uow: UnitOfWork, pool_id: int, now: datetime, rng: random.Random | None = None,
               batch: int = 500) -> Distributed:
    pool = uow.session.get(Pool, pool_id)
    if pool is None or not pool.auto_distribute or not pool.active:
        return Distributed(pool_id, {})
    rng = rng or random.Random()
    owned_before = exists().where(LeadEvent.lead_id == Lead.id, LeadEvent.kind.in_(NEVER_OWNED_KINDS))
    leads = list(uow.session.execute(
        select(Lead.id, Lead.industry, Lead.region, Lead.source)
        .where(Lead.pool_id == pool.id, Lead.status == S.UNASSIGNED, ~owned_before)
        .order_by(Lead.created_at, Lead.id).limit(batch)
    ))
    if not leads:
        return Distributed(pool_id, {})
    reps = pool_reps(uow, pool)
    for rep in reps:
        lock_user(uow, rep)
    rooms = {rep: ownership.room(uow, rep) for rep in reps}
    notes: dict[int, dict] = {}
    if pool.distribution == matching.MATCHED:
        history = matching.history(uow, pool.id, reps, leads, now)
        assigned, notes = matching.plan(history, rooms, leads, rng)
    else:
        assigned = plan(rooms, [lead.id for lead in leads], rng)
    done: dict[int, list[int]] = {}
    changes: list[audit_log.Change] = []
    for rep, ids in assigned.items():
        rows = uow.session.execute(
            update(Lead).where(Lead.id.in_(ids), Lead.status == S.UNASSIGNED)
            .values(status=S.PENDING, owner_id=rep, claimed_at=now, last_followup_at=None, updated_at=now)
            .returning(Lead.id).execution_options(synchronize_session=False)
        ).scalars().all()
        if rows:
            uow.session.add_all([
                LeadEvent(lead_id=lead_id, at=now, actor_id=None, kind="assign", from_status=S.UNASSIGNED,
                          to_status=S.PENDING, from_owner_id=None, to_owner_id=rep, pool_id=pool.id,
                          reason="auto-distribution", data=notes.get(lead_id, PLAIN_NOTE))
                for lead_id in rows
            ])
            done[rep] = list(rows)
            after = claimed_fields(rep, now)
            changes += [(lead_id, UNCLAIMED, after, rep) for lead_id in rows]
    audit_log.write(uow.session, audit_log.bulk_rows("lead", "update", changes, now))
    return Distributed(pool_id, done)
