"""The morning message: each rep's plan for the day, as a direct message at his local time (08:30
unless he set another, /plan morning), on working days (weekends and company holidays off), unless
he turned it off.

Prepared set-based for every rep due at once: one statement reads the reps and their settings, one
claims (rep, local day) in `plan_pushes` (INSERT ... ON CONFLICT DO NOTHING RETURNING: two processes
running the job at once claim each rep once), a few build every claimed rep's plan
(bot.services.plans.plans.build), one reads where each can be reached and one inserts the outbox rows.
A plan with no stop sends nothing. A rep whose time came while the bot was down gets it within
`WINDOW_MINUTES` after.
"""
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cache
from zoneinfo import ZoneInfo

from sqlalchemy import Date, Integer, Row, bindparam, func, literal, select
from sqlalchemy.dialects.postgresql import ARRAY

from bot.messages import Templated
from bot.services.core import collector
from bot.services.core.queries import among
from bot.services.deals.periods import holidays_between, is_working_day
from bot.services.plans import plans
from bot.services.plans.schedule import DEFAULT_MORNING
from db import bulk
from db.base import UTCDateTime
from db.models import OutboxMessage, PlanPush, PlanSettings, PlatformIdentity, Role, User
from db.session import UnitOfWork

WINDOW_MINUTES = 120
TEMPLATE = "plans/morning"
BUTTON = "plan_start_visit"
ROLES = (Role.REP, Role.MANAGER)


@dataclass(frozen=True)
class Due:
    rep: plans.Rep
    locale: str
    day: date


@dataclass(frozen=True)
class MorningRun:
    due: int  # reps whose time it is, not yet claimed by this run
    claimed: int  # claimed by this run (others were claimed before, or by another process)
    queued: int  # messages queued (claimed reps with a stop and a chat the bot can reach)


@cache
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name or "UTC")


_REPS = (select(User.id, User.name, User.handle, User.timezone, User.locale,
                func.coalesce(PlanSettings.morning_minute, DEFAULT_MORNING).label("minute"))
         .outerjoin(PlanSettings, PlanSettings.user_id == User.id)
         .where(User.active.is_(True), User.role.in_([str(role) for role in ROLES]),
                func.coalesce(PlanSettings.morning, True).is_(True)))


def due_reps(uow: UnitOfWork, now: datetime) -> list[Due]:
    """Reps whose morning time has come today (within the window), on a working day of theirs."""
    rows = uow.session.connection().execute(_REPS).all()
    local_days = {name: now.astimezone(_zone(name)) for name in {row.timezone for row in rows}}
    if not local_days:
        return []
    days = [local.date() for local in local_days.values()]
    holidays = holidays_between(uow, min(days), max(days) + timedelta(days=1))
    due = []
    for row in rows:
        local = local_days[row.timezone]
        minute = local.hour * 60 + local.minute
        if row.minute <= minute < row.minute + WINDOW_MINUTES and is_working_day(local.date(), holidays):
            due.append(Due(plans.Rep(row.id, row.name, row.handle, _zone(row.timezone)), row.locale, local.date()))
    return due


def claim(uow: UnitOfWork, due: Sequence[Due], now: datetime) -> list[Due]:
    """Claim (rep, day) for those not claimed yet, in one statement; the rows another process claimed
    are left out. On PostgreSQL the pairs travel as two arrays (unnest), so the statement never varies."""
    if not due:
        return []
    if uow.dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
        pairs = select(func.unnest(bindparam("ids", [d.rep.id for d in due], ARRAY(Integer))).label("user_id"),
                       func.unnest(bindparam("days", [d.day for d in due], ARRAY(Date))).label("day")).subquery()
        statement = dialect_insert(PlanPush).from_select(
            ["user_id", "day", "queued_at"], select(pairs.c.user_id, pairs.c.day, literal(now, UTCDateTime())))
    else:
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
        statement = dialect_insert(PlanPush).values(
            [{"user_id": d.rep.id, "day": d.day, "queued_at": now} for d in due])
    won = set(uow.session.scalars(statement.on_conflict_do_nothing(index_elements=["user_id", "day"])
                                  .returning(PlanPush.user_id)))
    return [d for d in due if d.rep.id in won]


def dm_routes(uow: UnitOfWork, user_ids: Sequence[int]) -> dict[int, Row]:
    """Where each is reached: his most recently linked identity with a DM chat (as outbox.direct_route)."""
    routes: dict[int, Row] = {}
    for identity in uow.session.connection().execute(
        select(PlatformIdentity.user_id, PlatformIdentity.platform, PlatformIdentity.workspace,
               PlatformIdentity.dm_chat_id)
        .where(among(uow, PlatformIdentity.user_id, user_ids), PlatformIdentity.dm_chat_id.is_not(None),
               PlatformIdentity.unlinked_at.is_(None))
        .order_by(PlatformIdentity.linked_at, PlatformIdentity.id)
    ):
        routes[identity.user_id] = identity  # the newest wins
    return routes


def prepare(uow: UnitOfWork, claimed: Sequence[Due]) -> list[dict]:
    """The outbox rows of the claimed reps' messages: plans built per local day, for all reps at once."""
    by_day: dict[date, list[Due]] = defaultdict(list)
    for due in claimed:
        by_day[due.day].append(due)
    routes = dm_routes(uow, [due.rep.id for due in claimed])
    rows = []
    for day, group in by_day.items():
        built = plans.build(uow, [due.rep for due in group], [day], "today", day)
        for due in group:
            plan, route = built[due.rep.id], routes.get(due.rep.id)
            if route is None or plan.stop_count == 0:
                continue
            context = plans.as_context(plan)
            buttons = tuple({"label": BUTTON, "payload": "visit " + stop["ref"],
                             "params": {"number": stop["number"], "name": stop["name"][:30]}}
                            for stop in context["days"][0]["stops"])
            post = Templated(TEMPLATE, due.locale, {"plan": context, "own": True}, buttons)
            rows.append({"platform": route.platform, "workspace": route.workspace, "chat_id": route.dm_chat_id,
                         "kind": "direct", "payload": post.to_json(), "dedupe_key": f"plan:{due.rep.id}:{day}"})
    return rows


def queue(uow: UnitOfWork, rows: list[dict], now: datetime) -> None:
    """Insert the outbox rows (COPY on PostgreSQL: db.bulk), due from `now`."""
    bulk.insert_rows(uow.session.connection(), OutboxMessage.__table__,
                     [{**row, "created_at": now, "next_attempt_at": now} for row in rows])


def push_due(uow: UnitOfWork, now: datetime) -> MorningRun:
    """Queue the morning message of every rep whose time has come and who has not had it today."""
    with collector.collector_paused():
        due = due_reps(uow, now)
        claimed = claim(uow, due, now)
        rows = prepare(uow, claimed)
        queue(uow, rows, now)
    return MorningRun(len(due), len(claimed), len(rows))
