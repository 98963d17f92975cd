"""A rep's plan for a day or a week: the visits he scheduled, the customers due a visit and the leads
whose follow-up is due, routed from his last trusted position (today) or his office (bot.services.plans.routes).

Plans are built for many reps at once (`build`: one statement per source for all of them), so the
morning push and /plan share one path. Stops without coordinates are listed after the route,
marked, and not routed.
"""
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from bot.services.core.geo import is_valid
from bot.services.manager import scope
from bot.services.plans import plan_sources, routes
from bot.services.plans.plan_sources import Source
from bot.services.visits.visits import zone_of
from db.models import User
from db.session import UnitOfWork

PERIODS = ("today", "tomorrow", "week")
WEEK_DAYS = 7
MAX_STOPS = 12  # a day's stops shown and routed; due customers beyond it are counted, not listed
_RANK = {"planned": 0, "followup": 1, "due": 2}


@dataclass(slots=True)
class Stop:
    number: int  # 1.. in route order; unlocated stops follow the route
    kind: str  # customer | lead
    id: int
    name: str
    why: str  # planned | followup | due
    minute: int | None  # local minutes after midnight set for it (a planned visit's, a follow-up's)
    located: bool
    leg_km: float  # from the previous stop (or the start); 0 when not located

    @property
    def ref(self) -> str:
        return f"{self.kind[0]}{self.id}"


@dataclass(frozen=True)
class DayPlan:
    day: date
    stops: list[Stop]
    start: str | None  # position | office | None (the route starts at its first stop)
    total_km: float  # straight-line legs of the route, start included
    nearest_neighbour_km: float
    more_due: int = 0  # due customers not listed (over MAX_STOPS)

    @property
    def unlocated(self) -> int:
        return sum(not stop.located for stop in self.stops)


@dataclass(frozen=True)
class Plan:
    user_id: int
    name: str
    handle: str
    period: str
    days: list[DayPlan] = field(default_factory=list)
    algorithm: str = routes.ALGORITHM

    @property
    def total_km(self) -> float:
        return sum(day.total_km for day in self.days)

    @property
    def stop_count(self) -> int:
        return sum(len(day.stops) for day in self.days)


@dataclass(frozen=True)
class Rep:
    """What building a plan needs of a rep: read once, for many reps, by the caller."""

    id: int
    name: str
    handle: str
    zone: ZoneInfo


def days_of(period: str, today: date) -> list[date]:
    if period == "tomorrow":
        return [today + timedelta(days=1)]
    if period == "week":
        return [today + timedelta(days=n) for n in range(WEEK_DAYS)]
    return [today]


def build(uow: UnitOfWork, reps: Sequence[Rep], days: Sequence[date], period: str, today: date) -> dict[int, Plan]:
    """Every rep's plan over the same local days (first day = `today` or later). One statement per
    source for all reps; routes are computed per rep and day in Python."""
    ids = [rep.id for rep in reps]
    if not ids:
        return {}
    first, end = days[0], days[-1] + timedelta(days=1)
    zones = {rep.zone for rep in reps}
    start_utc = min(datetime.combine(first, time.min, zone) for zone in zones).astimezone(UTC)
    end_utc = max(datetime.combine(end, time.min, zone) for zone in zones).astimezone(UTC)
    sources = [*plan_sources.planned(uow, ids, first, end),
               *plan_sources.due_customers(uow, ids, first),
               *plan_sources.due_followups(uow, ids, start_utc, end_utc)]
    by_user = plan_sources.group_by_user(sources)
    positions = plan_sources.last_trusted_positions(uow, ids)
    offices = plan_sources.offices(uow, ids)
    days_of_reps = []  # per rep, per day: its stops chosen, before routing
    for rep in reps:
        mine = [_localised(source, rep.zone, first) for source in by_user.get(rep.id, [])]
        days_of_reps.append([_Day(day, [s for s in mine if s.day == day],
                                  *_start(day == today, positions.get(rep.id), offices.get(rep.id)))
                             for day in days])
    routed = iter(routes.plan_routes([(d.start, d.points) for rep_days in days_of_reps for d in rep_days]))
    plans = {}
    for rep, rep_days in zip(reps, days_of_reps, strict=True):
        plan_days = [d.plan(next(routed)) for d in rep_days]
        # Days with a stop; a plan with none shows its first day ("nothing planned").
        plans[rep.id] = Plan(rep.id, rep.name, rep.handle, period, [d for d in plan_days if d.stops] or plan_days[:1])
    return plans


def _localised(source: Source, zone: ZoneInfo, first: date) -> Source:
    """A follow-up's day and time on the rep's clock; a due customer due from the first day. (Sources
    are fresh from their statement and this rep's own: set in place.)"""
    if source.due_at is not None:
        local = source.due_at.astimezone(zone)
        source.day, source.minute = local.date(), local.hour * 60 + local.minute
    elif source.day is None:
        source.day = first
    return source


def _start(today: bool, position: tuple[float, float] | None, office: tuple[float, float] | None
           ) -> tuple[tuple[float, float] | None, str | None]:
    """Today the route starts where he last was (trusted), else at his office; later days at the office."""
    order = [(position, "position"), (office, "office")] if today else [(office, "office"), (position, "position")]
    for point, where in order:
        if point is not None:
            return point, where
    return None, None


class _Day:
    """One day's stops, merged (one stop per customer or lead, the strongest reason kept), cut to
    MAX_STOPS and split into those with a place (routed) and those without; then, once routed, its plan."""

    def __init__(self, day: date, sources: Sequence[Source], start: tuple[float, float] | None, where: str | None):
        merged: dict[tuple[str, int], Source] = {}
        for source in sorted(sources, key=lambda s: (_RANK[s.why], s.minute is None, s.minute or 0, s.id)):
            merged.setdefault((source.kind, source.id), source)
        chosen = list(merged.values())
        self.day, self.start, self.where = day, start, where
        self.more = max(0, len(chosen) - MAX_STOPS)
        self.located: list[Source] = []
        self.unlocated: list[Source] = []
        for source in chosen[:MAX_STOPS]:
            (self.located if is_valid(source.latitude, source.longitude) else self.unlocated).append(source)
        self.points = [(s.latitude, s.longitude) for s in self.located]

    def plan(self, route: routes.Route) -> DayPlan:
        stops = [_stop(n, self.located[i], True, route.legs_m[n - 1] / 1000) for n, i in enumerate(route.order, 1)]
        stops += [_stop(len(stops) + n, s, False, 0.0) for n, s in enumerate(self.unlocated, 1)]
        return DayPlan(self.day, stops, self.where if self.located else None, route.total_km,
                       route.nearest_neighbour_m / 1000, self.more)


def _stop(number: int, source: Source, located: bool, leg_km: float) -> Stop:
    return Stop(number, source.kind, source.id, source.name, source.why, source.minute, located, leg_km)


def as_context(plan: Plan) -> dict:
    """The plan as plain values for an outbox post (what the templates read of it)."""
    return {"name": plan.name, "handle": plan.handle, "period": plan.period, "days": [
        {"day": d.day, "start": d.start, "total_km": d.total_km, "nearest_neighbour_km": d.nearest_neighbour_km,
         "more_due": d.more_due, "unlocated": d.unlocated,
         "stops": [{"number": s.number, "ref": s.ref, "name": s.name, "why": s.why, "minute": s.minute,
                    "located": s.located, "leg_km": s.leg_km} for s in d.stops]} for d in plan.days]}


def rep_of(user: User) -> Rep:
    return Rep(user.id, user.name, user.handle, zone_of(user))


def plan_for(uow: UnitOfWork, viewer: User, period: str, now: datetime, who: str | None = None) -> Plan:
    """The viewer's plan, or a rep's within his scope (out of scope reads like an unknown handle)."""
    subject = viewer
    if who is not None:
        handle = who.strip().lstrip("@")
        found = uow.session.scalar(select(User).where(User.handle == handle, User.active.is_(True)))
        subject = scope.user_or_not_found(uow, scope.of(uow, viewer.id), found, who)
    rep = rep_of(subject)
    today = now.astimezone(rep.zone).date()
    return build(uow, [rep], days_of(period, today), period, today)[rep.id]
