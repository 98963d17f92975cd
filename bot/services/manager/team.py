"""Team views for managers: pipeline by stage, visits (verified/flagged), leads owned and close to
return, targets and pace — per rep for a team, per sub-team for a unit with sub-units.

Everything is read through the viewer's data scope: the population is the unit's subtree intersected
with the users his scope covers, so the same numbers come out of /team, /report and the weekly push.
"""
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import and_, case, func, select

from bot.services.leads import returns
from bot.services.manager import scope
from db.models import Deal, Lead, OrgUnit, Stage, User, Visit
from db.models.lead import OPEN_LEAD_STATUSES
from db.session import UnitOfWork

OPEN_STAGES = (Stage.INITIAL, Stage.INTENT, Stage.NEGOTIATION)


@dataclass
class Row:
    key: str  # "u<id>" for a rep, "g<id>" for a sub-team
    name: str
    kind: str  # rep | unit
    reps: int = 0
    stages: dict[str, tuple[int, Decimal]] = field(default_factory=dict)
    visits_today: tuple[int, int] = (0, 0)  # (verified, flagged)
    visits_week: tuple[int, int] = (0, 0)
    visits_by_day: list[int] = field(default_factory=lambda: [0] * 7)  # counted visits, Monday first
    leads_open: int = 0
    leads_due: int = 0
    won_amount: Decimal = Decimal("0")
    won_deals: int = 0
    target: Decimal | None = None

    @property
    def pipeline_amount(self) -> Decimal:
        return sum((amount for _n, amount in self.stages.values()), Decimal("0"))

    @property
    def achievement(self) -> float | None:
        if not self.target:
            return None
        return float(self.won_amount / self.target)


@dataclass(frozen=True)
class Period:
    name: str  # day | week | month
    start: datetime
    end: datetime
    first_day: date
    last_day: date


@dataclass
class TeamView:
    unit_name: str
    today: date
    week_start: date
    month_pace: float  # share of the month elapsed, for target pace
    rows: list[Row]
    totals: Row


def local_today(now: datetime, zone: str) -> date:
    return now.astimezone(ZoneInfo(zone)).date()


def _start_of(day: date, zone: str) -> datetime:
    return datetime.combine(day, time(0), ZoneInfo(zone)).astimezone(UTC)


def period_of(name: str, now: datetime, zone: str) -> Period:
    """The current day, week (Monday first) or month in the viewer's time zone, as UTC bounds."""
    today = local_today(now, zone)
    if name == "day":
        first, last = today, today
    elif name == "week":
        first = today - timedelta(days=today.weekday())
        last = first + timedelta(days=6)
    elif name == "month":
        first = today.replace(day=1)
        last = (first + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    else:
        raise ValueError(name)
    return Period(name, _start_of(first, zone), _start_of(last + timedelta(days=1), zone), first, last)


def resolve_unit(uow: UnitOfWork, visible: scope.Scope, unit_name: str | None) -> OrgUnit:
    """The unit a manager asks about (default: his own), only inside his scope."""
    if unit_name is None:
        unit = uow.session.get(OrgUnit, visible.unit_id)
        assert unit is not None
        return unit
    wanted = unit_name.strip().lower()
    unit = uow.session.scalar(select(OrgUnit).where(func.lower(OrgUnit.name) == wanted, OrgUnit.active.is_(True)))
    return scope.unit_or_not_found(uow, visible, unit, unit_name)


def population(uow: UnitOfWork, visible: scope.Scope, unit: OrgUnit) -> dict[int, tuple[str, str, str]]:
    """user id -> (row key, row name, row kind): direct members as reps, deeper people under their sub-team."""
    query = (
        select(User.id, User.name, OrgUnit.path)
        .join(OrgUnit, User.unit_id == OrgUnit.id)
        .where(OrgUnit.path.startswith(unit.path), User.active.is_(True), scope.users_filter(visible, User.id))
    )
    people = uow.session.execute(query).all()
    child_ids = {int(p.path[len(unit.path):].split("/")[0]) for p in people if p.path != unit.path}
    child_names = dict(uow.session.execute(select(OrgUnit.id, OrgUnit.name).where(OrgUnit.id.in_(child_ids))).tuples().all())
    rows = {}
    for person in people:
        if person.path == unit.path:
            rows[person.id] = (f"u{person.id}", person.name, "rep")
        else:
            child = int(person.path[len(unit.path):].split("/")[0])
            rows[person.id] = (f"g{child}", child_names.get(child, "?"), "unit")
    return rows


def _people_filter(visible: scope.Scope, unit: OrgUnit, column):
    """SQL: the column holds a user of the unit's subtree whom the viewer may see."""
    in_unit = select(User.id).join(OrgUnit, User.unit_id == OrgUnit.id).where(OrgUnit.path.startswith(unit.path))
    return and_(column.in_(in_unit), scope.users_filter(visible, column))


def build(uow: UnitOfWork, viewer_id: int, unit_name: str | None, now: datetime) -> TeamView:
    viewer = uow.session.get(User, viewer_id)
    assert viewer is not None
    today = local_today(now, viewer.timezone)
    visible = scope.of(uow, viewer_id, today)
    unit = resolve_unit(uow, visible, unit_name)
    return compute(uow, visible, unit, now, viewer.timezone)


def compute(uow: UnitOfWork, visible: scope.Scope, unit: OrgUnit, now: datetime, zone: str) -> TeamView:
    who = population(uow, visible, unit)
    rows: dict[str, Row] = {}
    for key, name, kind in who.values():
        row = rows.setdefault(key, Row(key, name, kind))
        row.reps += 1

    def row_of(user_id: int | None) -> Row | None:
        entry = who.get(user_id) if user_id is not None else None
        return rows[entry[0]] if entry else None

    day, week, month = (period_of(p, now, zone) for p in ("day", "week", "month"))
    _pipeline(uow, visible, unit, row_of)
    _visits(uow, visible, unit, day, week, row_of)
    _leads(uow, visible, unit, now, row_of)
    _wins(uow, visible, unit, month, row_of)
    _targets(uow, who, rows, month.first_day)
    ordered = sorted(rows.values(), key=lambda r: (r.kind != "unit", -r.won_amount, r.name))
    days_in_month = (month.last_day - month.first_day).days + 1
    pace = (day.first_day - month.first_day).days + 1
    return TeamView(unit.name, day.first_day, week.first_day, pace / days_in_month, ordered, total_of(ordered))


def total_of(rows: list[Row]) -> Row:
    total = Row("total", "", "total")
    for row in rows:
        total.reps += row.reps
        for stage, (count, amount) in row.stages.items():
            c, a = total.stages.get(stage, (0, Decimal("0")))
            total.stages[stage] = (c + count, a + amount)
        total.visits_today = tuple(a + b for a, b in zip(total.visits_today, row.visits_today, strict=True))
        total.visits_week = tuple(a + b for a, b in zip(total.visits_week, row.visits_week, strict=True))
        total.visits_by_day = [a + b for a, b in zip(total.visits_by_day, row.visits_by_day, strict=True)]
        total.leads_open += row.leads_open
        total.leads_due += row.leads_due
        total.won_amount += row.won_amount
        total.won_deals += row.won_deals
        if row.target is not None:
            total.target = (total.target or Decimal("0")) + row.target
    return total


def _pipeline(uow, visible, unit, row_of) -> None:
    query = (
        select(Deal.owner_id, Deal.stage, func.count(), func.coalesce(func.sum(Deal.amount), 0))
        .where(Deal.stage.in_(OPEN_STAGES), _people_filter(visible, unit, Deal.owner_id))
        .group_by(Deal.owner_id, Deal.stage)
    )
    for owner_id, stage, count, amount in uow.session.execute(query):
        row = row_of(owner_id)
        if row is not None:
            c, a = row.stages.get(stage, (0, Decimal("0")))
            row.stages[stage] = (c + count, a + Decimal(amount))


def _visits(uow, visible, unit, day: Period, week: Period, row_of) -> None:
    verified = func.sum(case((Visit.counts.is_(True), 1), else_=0))
    flagged = func.sum(case((Visit.verdict == "flagged", 1), else_=0))
    base = and_(Visit.kind == "visit", _people_filter(visible, unit, Visit.user_id))
    for period in (day, week):
        query = (
            select(Visit.user_id, verified, flagged)
            .where(base, Visit.started_at >= period.start, Visit.started_at < period.end)
            .group_by(Visit.user_id)
        )
        for user_id, good, bad in uow.session.execute(query):
            row = row_of(user_id)
            if row is None:
                continue
            pair = (int(good or 0), int(bad or 0))
            if period is day:
                row.visits_today = tuple(a + b for a, b in zip(row.visits_today, pair, strict=True))
            else:
                row.visits_week = tuple(a + b for a, b in zip(row.visits_week, pair, strict=True))
    started = uow.session.execute(
        select(Visit.user_id, Visit.started_at)
        .where(base, Visit.counts.is_(True), Visit.started_at >= week.start, Visit.started_at < week.end)
    )
    for user_id, at in started:
        row = row_of(user_id)
        if row is not None:
            index = min(6, max(0, int((at - week.start).total_seconds() // 86400)))
            row.visits_by_day[index] += 1


def _leads(uow, visible, unit, now: datetime, row_of) -> None:
    mine = and_(Lead.status.in_(OPEN_LEAD_STATUSES), _people_filter(visible, unit, Lead.owner_id))
    for owner_id, count in uow.session.execute(select(Lead.owner_id, func.count()).where(mine).group_by(Lead.owner_id)):
        row = row_of(owner_id)
        if row is not None:
            row.leads_open += count
    due = and_(mine, returns.close_to_return(uow, now))
    for owner_id, count in uow.session.execute(select(Lead.owner_id, func.count()).where(due).group_by(Lead.owner_id)):
        row = row_of(owner_id)
        if row is not None:
            row.leads_due += count


def _wins(uow, visible, unit, month: Period, row_of) -> None:
    query = (
        select(Deal.owner_id, func.count(), func.coalesce(func.sum(Deal.amount), 0))
        .where(Deal.stage == Stage.WON, Deal.won_at >= month.start, Deal.won_at < month.end,
               _people_filter(visible, unit, Deal.owner_id))
        .group_by(Deal.owner_id)
    )
    for owner_id, count, amount in uow.session.execute(query):
        row = row_of(owner_id)
        if row is not None:
            row.won_deals += count
            row.won_amount += Decimal(amount)


def _targets(uow, who: dict[int, tuple[str, str, str]], rows: dict[str, Row], month_start: date) -> None:
    """Monthly won-amount targets of the reps (the deals capability owns the table; absent: no targets)."""
    try:
        from db.models import Target
    except ImportError:  # pragma: no cover - the deals capability is not installed
        return
    query = select(Target.subject_id, Target.value).where(
        Target.subject_type == "user", Target.period == "month", Target.period_start == month_start,
        Target.metric == "won_amount",
    )
    sums: dict[str, Decimal] = defaultdict(Decimal)
    for user_id, value in uow.session.execute(query):
        if user_id in who:
            sums[who[user_id][0]] += Decimal(value)
    for key, value in sums.items():
        rows[key].target = value
