"""Returning leads to the public pool (回收): THE place for the rule; the others call it.

An owned lead goes back to its pool when, since it was claimed, its owner has not followed it up for
the pool's `return_no_followup_days`, or no deal was created from it after `return_no_deal_created_days`,
or no won deal after `return_no_deal_days` (a customer level may override them in the pool's
`level_rules`; a rule that is None or 0 is off). Locked leads never go back. The owner is warned
`warn_days_before` days ahead, once per lead and last activity (`warn`). After losing a lead
(returned, or released by himself) a rep may not claim it back for the pool's
`reclaim_cooldown_days` (`cooldown_until`, asked by claims.py). Team views count the leads close to
return (`close_to_return`, asked by bot.services.manager.team).

The sweep is set-based: one statement for the whole table (every pool and customer level), never one
round trip per lead. Each returned lead gets an owner-change LeadEvent ("return") and an audit row,
in the same statement on PostgreSQL.
Racing a follow-up, a lead is either followed or returned, never both: on PostgreSQL the sweep
locks candidate rows with SELECT ... FOR UPDATE, which re-checks the rule on the row's newest
version, and a follow-up locks the row too (lifecycle.lock_lead) and refuses a lead that left its owner.
"""
import hashlib
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import (
    JSON,
    ColumnElement,
    Integer,
    ScalarSelect,
    String,
    and_,
    case,
    cast,
    exists,
    func,
    insert,
    literal,
    null,
    or_,
    select,
    text,
    true,
    union_all,
    update,
)

from bot.services.core import audit_log, outbox
from bot.services.leads.lifecycle import S
from bot.services.leads.ownership import constant
from db.base import UTCDateTime
from db.models import Deal, Lead, LeadEvent, Pool, Stage
from db.models.lead import OPEN_LEAD_STATUSES, LeadReturnWarning
from db.session import UnitOfWork
from db.watchdog import deadline

RULES = {
    "return_no_followup_days": "no_followup",
    "return_no_deal_created_days": "no_deal_created",
    "return_no_deal_days": "no_deal",
}
# A rep lost a lead: he released it, or it was returned from him. His cooldown starts there.
LOST_KINDS = ("release", "return")
# Close to return, for a lead outside any pool: the pool's own defaults (db.models.crm.Pool).
DEFAULT_RETURN_DAYS = 7
DEFAULT_WARN_DAYS = 1
WARNING_LIST_LIMIT = 20
CHUNK = 1000
SWEEP_WORK_MEM = "64MB"  # PostgreSQL: enough to keep a million-lead sweep's joins in memory
SWEEP_TIME_LIMIT_S = 600
_RETURNED_VALUES = dict(status=S.UNASSIGNED, owner_id=None, claimed_at=None, last_followup_at=None)


@dataclass
class SweepResult:
    returned: int = 0
    by_reason: dict[str, int] = field(default_factory=dict)
    warned_leads: int = 0
    warned_owners: int = 0


def segments(pool: Pool) -> list[tuple[ColumnElement[bool], dict[str, int | None]]]:
    """(level filter, rules) per customer level with its own rules, plus one for every other level."""
    levels = _level_rules(pool)
    defaults = {rule: getattr(pool, rule) for rule in RULES}
    result: list[tuple[ColumnElement[bool], dict[str, int | None]]] = [
        (Lead.level.not_in([level for level, _ in levels]) if levels else true(), defaults)
    ]
    result += [(Lead.level == level, rules) for level, rules in levels]
    return result


def _level_rules(pool: Pool) -> list[tuple[str, dict[str, int | None]]]:
    """The customer levels with rules of their own, each with its full rule set (defaults overridden)."""
    defaults = {rule: getattr(pool, rule) for rule in RULES}
    return [(level, {**defaults, **{k: v for k, v in rules.items() if k in RULES}})
            for level, rules in (pool.level_rules or {}).items() if isinstance(rules, dict)]


def conditions(rules: dict[str, int | None], at: datetime) -> list[tuple[str, ColumnElement[bool]]]:
    """Each enabled rule as (reason, WHERE clause meaning 'due for return at `at`')."""
    found: list[tuple[str, ColumnElement[bool]]] = []
    for rule, reason in RULES.items():
        days = rules.get(rule)
        if days is None or days <= 0:
            continue
        cutoff = at - timedelta(days=days)
        claimed_long_ago = Lead.claimed_at < cutoff
        if reason == "no_followup":
            clause = and_(claimed_long_ago, or_(Lead.last_followup_at.is_(None), Lead.last_followup_at < cutoff))
        elif reason == "no_deal_created":
            clause = and_(claimed_long_ago, ~exists().where(Deal.lead_id == Lead.id))
        else:
            clause = and_(claimed_long_ago, ~exists().where(Deal.lead_id == Lead.id,
                                                             Deal.stage == Stage.WON))
        found.append((reason, clause))
    return found


def _candidates(pool: Pool, level_filter: ColumnElement[bool], rules: dict, at: datetime):
    """The SELECT of due leads with the first rule that catches each, or None when no rule is on."""
    found = conditions(rules, at)
    if not found:
        return None
    reason = case(*[(clause, literal(name)) for name, clause in found], else_=literal("rule"))
    return select(Lead.id, Lead.owner_id, Lead.status, reason.label("reason")).where(
        Lead.pool_id == pool.id, Lead.status.in_(OPEN_LEAD_STATUSES), Lead.locked.is_(False),
        Lead.owner_id.is_not(None), level_filter, or_(*[clause for _, clause in found]),
    )


def _rules_tables(pools: list[Pool], at: datetime):
    """The return rules of every active pool as two small tables (CTEs): one row per pool with its
    defaults, and one per pool and customer level with its own rules (None when no pool has any);
    each rule as its cutoff time (a lead claimed before it is due), NULL when the rule is off.
    Two tables, not one with a NULL level: PostgreSQL then expects a row per pool, not one in all,
    and reads the leads once instead of once per pool. None when no rule is on."""
    defaults, levels, any_rule = [], [], False
    for pool in pools:
        for level, rules in [(None, {rule: getattr(pool, rule) for rule in RULES})] + _level_rules(pool):
            cutoffs = {reason: (at - timedelta(days=rules[rule]) if rules.get(rule) and rules[rule] > 0 else None)
                       for rule, reason in RULES.items()}
            any_rule = any_rule or any(cutoffs.values())
            row = [literal(pool.id, Integer).label("pool_id")]
            row += [literal(level, String).label("level")] if level is not None else []
            row += [literal(cutoff, UTCDateTime()).label(reason) for reason, cutoff in cutoffs.items()]
            (defaults if level is None else levels).append(select(*row))
    if not any_rule:
        return None
    return union_all(*defaults).cte("default_rules"), union_all(*levels).cte("level_rules") if levels else None


def _all_candidates(default_rule, level_rule):
    """The SELECT of every due lead of every active pool, with the first rule that catches it:
    one pass over the leads, whatever the number of pools and levels."""

    def cutoff(reason: str):
        if level_rule is None:
            return default_rule.c[reason]
        return case((level_rule.c.pool_id.is_not(None), level_rule.c[reason]), else_=default_rule.c[reason])

    followup, deal_created, deal = cutoff("no_followup"), cutoff("no_deal_created"), cutoff("no_deal")
    due = {
        "no_followup": and_(followup.is_not(None), Lead.claimed_at < followup,
                            or_(Lead.last_followup_at.is_(None), Lead.last_followup_at < followup)),
        "no_deal_created": and_(deal_created.is_not(None), Lead.claimed_at < deal_created,
                                ~exists().where(Deal.lead_id == Lead.id)),
        "no_deal": and_(deal.is_not(None), Lead.claimed_at < deal,
                        ~exists().where(Deal.lead_id == Lead.id, Deal.stage == Stage.WON)),
    }
    reason = case(*[(clause, literal(name)) for name, clause in due.items()], else_=literal("rule"))
    joined = Lead.__table__.join(default_rule, default_rule.c.pool_id == Lead.pool_id)
    if level_rule is not None:
        joined = joined.outerjoin(level_rule, and_(level_rule.c.pool_id == Lead.pool_id,
                                                   level_rule.c.level == Lead.level))
    return select(Lead.id, Lead.owner_id, Lead.status, Lead.pool_id, reason.label("reason"), Lead.claimed_at,
                  Lead.last_followup_at).select_from(joined).where(
        Lead.status.in_(OPEN_LEAD_STATUSES), Lead.locked.is_(False), Lead.owner_id.is_not(None), or_(*due.values()),
    )


_AFTER = {key: audit_log.plain(value) for key, value in _RETURNED_VALUES.items()}


def _before(dialect: str, row) -> ColumnElement:
    """The returned fields as they were, built in SQL from the moved rows."""
    return audit_log.json_object(dialect, **{key: row[key] for key in _RETURNED_VALUES})


def _audit_rows(rows, now: datetime) -> list[dict]:
    return audit_log.bulk_rows("lead", "update", [
        (row.id, {key: audit_log.plain(getattr(row, key)) for key in _RETURNED_VALUES}, _AFTER, None) for row in rows
    ], now)


def _return_postgres(uow: UnitOfWork, candidates, now: datetime) -> dict[str, int]:
    """One statement: lock the due rows (re-checked on their newest version), move them, log them
    (data-modifying CTEs: the UPDATE's RETURNING feeds the INSERTs of the history and audit rows)."""
    # The due rows are joined back to the table they update (a hash join) and kept for two readers.
    # Spilled into batches, the join would update the rows in hash order, all over the table and its
    # indexes; in memory, it updates them in the table's order. SET LOCAL: until the transaction ends.
    uow.session.execute(text(f"SET LOCAL work_mem = '{SWEEP_WORK_MEM}'"))
    # A million-lead company's sweep is one statement of tens of seconds: longer than a command may
    # take (statement_timeout, db.watchdog's deadline), and it is nobody's command.
    uow.session.execute(text(f"SET LOCAL statement_timeout = '{SWEEP_TIME_LIMIT_S}s'"))
    old = candidates.with_for_update(of=Lead).subquery("old")
    moved = (
        update(Lead).where(Lead.id == old.c.id).values(**_RETURNED_VALUES, updated_at=now)
        .returning(old.c.id, old.c.owner_id, old.c.status, old.c.pool_id, old.c.reason, old.c.claimed_at,
                   old.c.last_followup_at).cte("moved")
    )
    logged = insert(LeadEvent).from_select(
        ["lead_id", "at", "actor_id", "kind", "from_status", "to_status", "from_owner_id", "to_owner_id", "pool_id",
         "reason"],
        select(moved.c.id, literal(now, UTCDateTime()), null(), literal("return"), moved.c.status,
               literal(S.UNASSIGNED.value), moved.c.owner_id, null(), moved.c.pool_id, moved.c.reason),
    ).returning(LeadEvent.reason).cte("logged")
    actor = audit_log.actor_fields()
    audited = audit_log.insert_from(select(
        literal(now, UTCDateTime()), literal(actor["actor_id"], Integer), literal(actor["platform"], String),
        literal("lead", String), moved.c.id,
        literal("update"), _before(uow.dialect, moved.c), cast(literal(_AFTER, JSON), JSON), null(),
    )).cte("audited")
    with deadline(SWEEP_TIME_LIMIT_S):
        rows = uow.session.execute(select(logged.c.reason, func.count()).group_by(logged.c.reason).add_cte(audited),
                                   execution_options={"synchronize_session": False}).all()
    return {reason: count for reason, count in rows}


def _return_serialised(uow: UnitOfWork, candidates, now: datetime) -> dict[str, int]:
    """SQLite: writers are serialised (BEGIN IMMEDIATE), so read-then-update cannot race."""
    rows = list(uow.session.execute(candidates))
    for start in range(0, len(rows), CHUNK):
        ids = [row.id for row in rows[start:start + CHUNK]]
        uow.session.execute(update(Lead).where(Lead.id.in_(ids)).values(**_RETURNED_VALUES, updated_at=now),
                            execution_options={"synchronize_session": False})
    if rows:
        uow.session.execute(insert(LeadEvent), [
            dict(lead_id=row.id, at=now, actor_id=None, kind="return", from_status=row.status,
                 to_status=S.UNASSIGNED, from_owner_id=row.owner_id, to_owner_id=None, pool_id=row.pool_id,
                 reason=row.reason)
            for row in rows
        ])
        audit_log.write(uow.session, _audit_rows(rows, now))
    by_reason: dict[str, int] = {}
    for row in rows:
        by_reason[row.reason] = by_reason.get(row.reason, 0) + 1
    return by_reason


def sweep(uow: UnitOfWork, now: datetime) -> SweepResult:
    """Return every due lead of every active pool in one set-based statement; the caller commits."""
    result = SweepResult()
    pools = list(uow.session.scalars(select(Pool).where(Pool.active.is_(True)).order_by(Pool.id)))
    rules = _rules_tables(pools, now)
    if rules is None:
        return result
    mover = _return_postgres if uow.dialect == "postgresql" else _return_serialised
    for reason, count in mover(uow, _all_candidates(*rules), now).items():
        result.returned += count
        result.by_reason[reason] = count
    return result


@dataclass(frozen=True)
class WarnedLead:
    id: int
    company: str
    reason: str


def warn(uow: UnitOfWork, now: datetime) -> SweepResult:
    """Direct-message each owner about his leads due for return within the pool's warning days.
    A lead is warned once per owner and last activity (LeadReturnWarning); one message per owner."""
    result = SweepResult()
    per_owner: dict[int, list[tuple[WarnedLead, int]]] = defaultdict(list)
    basis = func.coalesce(Lead.last_followup_at, Lead.claimed_at)
    for pool in uow.session.scalars(select(Pool).where(Pool.active.is_(True)).order_by(Pool.id)).all():
        if not pool.warn_days_before or pool.warn_days_before <= 0:
            continue
        for level_filter, rules in segments(pool):
            candidates = _candidates(pool, level_filter, rules, now + timedelta(days=pool.warn_days_before))
            if candidates is None:
                continue
            warned_before = exists().where(LeadReturnWarning.lead_id == Lead.id,
                                           LeadReturnWarning.owner_id == Lead.owner_id,
                                           LeadReturnWarning.basis_at == basis)
            rows = list(uow.session.execute(candidates.add_columns(Lead.company, basis.label("basis"))
                                            .where(~warned_before).order_by(Lead.id)))
            if not rows:
                continue
            uow.session.execute(insert(LeadReturnWarning), [
                dict(lead_id=r.id, owner_id=r.owner_id, basis_at=r.basis, days_left=pool.warn_days_before,
                     sent_at=now) for r in rows
            ])
            for r in rows:
                per_owner[r.owner_id].append((WarnedLead(r.id, r.company, r.reason), pool.warn_days_before))
    for owner_id, items in per_owner.items():
        ids = ",".join(str(lead.id) for lead, _ in items)
        key = "lead-return-warning:" + hashlib.sha1(f"{owner_id}:{now.date()}:{ids}".encode()).hexdigest()[:24]
        outbox.queue_direct(uow, owner_id, "pool/return_warning", {
            "leads": [lead for lead, _ in items[:WARNING_LIST_LIMIT]],
            "more": max(0, len(items) - WARNING_LIST_LIMIT),
            "days": min(days for _, days in items),
        }, dedupe_key=key, now=now)
        result.warned_leads += len(items)
        result.warned_owners += 1
    return result


# --- after a return: the cooldown --------------------------------------------------------------

def last_lost_query(lead_id: ColumnElement[int], user_id) -> ScalarSelect:
    """When the user last lost the lead (see LOST_KINDS); NULL when he never did."""
    return select(func.max(LeadEvent.at)).where(
        LeadEvent.lead_id == lead_id,
        LeadEvent.kind.in_([constant(kind) for kind in LOST_KINDS]),
        LeadEvent.from_owner_id == user_id,
    ).scalar_subquery()


def cooldown_until(last_lost: datetime | None, cooldown_days: int | None) -> datetime | None:
    """Until when a rep may not claim back a lead he lost; None: no cooldown holds."""
    if last_lost is None or not cooldown_days:
        return None
    return last_lost + timedelta(days=cooldown_days)


# --- before a return: what team views show -----------------------------------------------------

def close_to_return(uow: UnitOfWork, now: datetime) -> ColumnElement[bool]:
    """An unlocked lead quiet (no follow-up since it was claimed, or created) for longer than its
    pool's no-follow-up days minus the warning days: the managers' early view of the sweep's main
    rule (any pool, active or not; a lead outside any pool on the pool defaults)."""
    quiet_since = func.coalesce(Lead.last_followup_at, Lead.claimed_at, Lead.created_at)
    rules = [(p.id, p.return_no_followup_days, p.warn_days_before) for p in uow.session.scalars(select(Pool))]
    rules.append((None, DEFAULT_RETURN_DAYS, DEFAULT_WARN_DAYS))
    due = []
    for pool_id, days, warn in rules:
        if days is None:
            continue
        cutoff = now - timedelta(days=max(0, days - warn))
        in_pool = Lead.pool_id.is_(None) if pool_id is None else Lead.pool_id == pool_id
        due.append(and_(in_pool, quiet_since <= cutoff))
    return and_(Lead.locked.is_(False), or_(*due))
