"""Targets (目标管理): per user or unit, per month or quarter, per metric; achievement rate and pace."""
import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo

from sqlalchemy import select

from bot.errors import UserError
from bot.services.core import identity, org
from bot.services.deals import board_metrics, periods
from bot.services.manager import scope
from db.models import OrgUnit, Role, User
from db.models.target import Target
from db.session import UnitOfWork

TARGET_METRICS = ("won_amount", "collected", "won_deals", "visits", "new_customers")
COUNT_METRICS = ("won_deals", "visits", "new_customers")
TARGET_PERIODS = ("month", "quarter")
MAX_VALUE = Decimal("1e12")


@dataclass(frozen=True)
class Subject:
    kind: str  # user | unit
    id: int
    name: str
    unit_path: str


@dataclass(frozen=True)
class Progress:
    metric: str
    period: str
    period_start: date
    period_end: date
    target: Decimal
    actual: Decimal
    rate: Decimal  # achievement rate (达成率), percent
    expected: Decimal  # where he should be by today (pace)
    money: bool

    @property
    def ahead(self) -> bool:
        return self.actual >= self.expected

    @property
    def reached(self) -> bool:
        return self.actual >= self.target


@dataclass(frozen=True)
class TargetView:
    subject: Subject
    period: str
    period_start: date
    items: list[Progress]


def parse_period(text: str | None, today: date) -> tuple[str, date]:
    """month | quarter (current ones), YYYY-MM, or YYYY-Qn -> (period, first day)."""
    raw = (text or "month").strip().lower()
    if raw in TARGET_PERIODS:
        return raw, periods.period_dates(raw, today)[0]
    if match := re.fullmatch(r"(\d{4})-(\d{1,2})", raw):
        year, month = int(match[1]), int(match[2])
        if 1 <= month <= 12:
            return "month", date(year, month, 1)
    if match := re.fullmatch(r"(\d{4})-?q([1-4])", raw):
        return "quarter", date(int(match[1]), 3 * (int(match[2]) - 1) + 1, 1)
    raise UserError("deals/target_bad_period", value=raw[:20])


def resolve_subject(uow: UnitOfWork, ref: str) -> Subject:
    """A user handle (@li) or a unit name (fragment)."""
    ref = ref.strip()
    user = identity.find_user(uow, ref.lstrip("@"))
    if user is not None:
        unit = uow.session.get(OrgUnit, user.unit_id)
        assert unit is not None
        return Subject("user", user.id, user.name, unit.path)
    units = org.units_by_name(uow, ref)
    if not units:
        raise scope.not_found("who", ref)
    if len(units) != 1:
        raise UserError("deals/target_unknown_subject", name=ref[:60])
    return Subject("unit", units[0].id, units[0].name, units[0].path)


def _user_subject(uow: UnitOfWork, user_id: int) -> Subject:
    user = uow.session.get(User, user_id)
    assert user is not None
    unit = uow.session.get(OrgUnit, user.unit_id)
    assert unit is not None
    return Subject("user", user.id, user.name, unit.path)


@dataclass(frozen=True)
class Saved:
    subject: Subject
    progress: Progress


def set_target_words(uow: UnitOfWork, manager_id: int, words: list[str | None], now: datetime) -> Saved:
    """`/target set WHO PERIOD METRIC VALUE`, as the words typed after "set"."""
    if any(w is None for w in words[:4]) or words[4:] and words[4] is not None:
        raise UserError("deals/target_set_usage")
    ref, period_text, metric, raw_value = (str(w) for w in words[:4])
    try:
        value = Decimal(raw_value.replace(",", ""))
    except InvalidOperation:
        raise UserError("deals/target_bad_value", value=raw_value[:30]) from None
    if not value.is_finite():
        raise UserError("deals/target_bad_value", value=raw_value[:30])
    return set_target(uow, manager_id, ref, period_text, metric.lower(), value, now)


def set_target(
    uow: UnitOfWork, manager_id: int, ref: str, period_text: str, metric: str, value: Decimal, now: datetime,
) -> Saved:
    manager = uow.session.get(User, manager_id)
    assert manager is not None
    if manager.role not in (Role.MANAGER, Role.ADMIN):
        raise UserError("deals/target_managers_only")
    today = now.astimezone(ZoneInfo(manager.timezone)).date()
    subject = resolve_subject(uow, ref)
    visible = scope.of(uow, manager_id, today)
    covered = (scope.covers_user(uow, visible, subject.id)
               if subject.kind == "user" else scope.covers_unit(uow, visible, subject.id))
    if not covered:
        raise scope.not_found("who", ref)
    if subject.kind == "user" and subject.id == manager_id:
        raise UserError("deals/target_outside", name=subject.name)
    if metric not in TARGET_METRICS:
        raise UserError("deals/target_bad_metric", metric=metric[:30], metrics=", ".join(TARGET_METRICS))
    if value <= 0 or value > MAX_VALUE:
        raise UserError("deals/target_bad_value", value=str(value)[:30])
    if metric in COUNT_METRICS and value != value.to_integral_value():
        raise UserError("deals/target_whole_number", value=str(value)[:30])
    period, start = parse_period(period_text, today)
    row = uow.session.scalar(
        select(Target).where(Target.subject_type == subject.kind, Target.subject_id == subject.id,
                             Target.period == period, Target.period_start == start, Target.metric == metric)
    )
    if row is None:
        row = Target(subject_type=subject.kind, subject_id=subject.id, period=period, period_start=start, metric=metric)
        uow.session.add(row)
    row.value = value
    row.set_by_id = manager_id
    row.updated_at = now
    uow.session.flush()
    return Saved(subject, progress_of(uow, subject, row, today, ZoneInfo(manager.timezone)))


def progress_of(uow: UnitOfWork, subject: Subject, target: Target, today: date, zone: ZoneInfo) -> Progress:
    start, end = periods.period_dates(target.period, target.period_start)
    window = periods.Window(target.period, start, end, *periods.utc_range(start, end, zone))
    members = select(User.id).join(OrgUnit, User.unit_id == OrgUnit.id).where(OrgUnit.path.startswith(subject.unit_path))
    if subject.kind == "user":
        values = board_metrics.user_values(uow, target.metric, window, user_ids=[subject.id])
    else:
        values = board_metrics.user_values(uow, target.metric, window, users=members)
    actual = sum((v for v, _ in values.values()), Decimal(0))
    goal = Decimal(target.value)
    holidays = periods.holidays_between(uow, start, end)
    all_days = periods.working_days(start, end, holidays)
    elapsed = [d for d in all_days if d <= today]
    share = Decimal(len(elapsed)) / Decimal(len(all_days)) if all_days else Decimal(1)
    if today >= end:
        share = Decimal(1)
    return Progress(
        metric=target.metric, period=target.period, period_start=start, period_end=end, target=goal, actual=actual,
        rate=(actual * 100 / goal).quantize(Decimal("0.1")) if goal else Decimal(0),
        expected=(goal * share).quantize(Decimal("0.01")), money=target.metric in board_metrics.MONEY_METRICS,
    )


def targets_of(uow: UnitOfWork, subject: Subject, period: str, start: date) -> list[Target]:
    return list(uow.session.scalars(
        select(Target).where(Target.subject_type == subject.kind, Target.subject_id == subject.id,
                             Target.period == period, Target.period_start == start).order_by(Target.metric)
    ))


def show(uow: UnitOfWork, user_id: int, ref: str | None, period_text: str | None, now: datetime) -> TargetView:
    """/target: own progress, a rep's (in scope), or a unit's (own chain or in scope)."""
    user = uow.session.get(User, user_id)
    assert user is not None
    zone = ZoneInfo(user.timezone)
    today = now.astimezone(zone).date()
    if ref and ref.lower() in TARGET_PERIODS or (ref and re.fullmatch(r"\d{4}-(\d{1,2}|q[1-4])", ref.lower())):
        ref, period_text = None, ref
    subject = resolve_subject(uow, ref) if ref else _user_subject(uow, user_id)
    visible = scope.of(uow, user_id, today)
    if subject.kind == "user" and not scope.covers_user(uow, visible, subject.id):
        raise scope.not_found("who", ref or "")
    if subject.kind == "unit":
        own_unit = uow.session.get(OrgUnit, user.unit_id)
        assert own_unit is not None
        if not own_unit.path.startswith(subject.unit_path) and not scope.covers_unit(uow, visible, subject.id):
            raise scope.not_found("who", ref or "")
    period, start = parse_period(period_text, today)
    items = [progress_of(uow, subject, t, today, zone) for t in targets_of(uow, subject, period, start)]
    return TargetView(subject, period, start, items)


def month_progress(uow: UnitOfWork, user_id: int, metric: str, today: date, zone: ZoneInfo) -> Progress | None:
    """The user's current month target progress on one metric, for announcements and nudges."""
    subject = _user_subject(uow, user_id)
    start = periods.period_dates("month", today)[0]
    target = uow.session.scalar(
        select(Target).where(Target.subject_type == "user", Target.subject_id == user_id, Target.period == "month",
                             Target.period_start == start, Target.metric == metric)
    )
    return progress_of(uow, subject, target, today, zone) if target else None
