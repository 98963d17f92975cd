"""Private nudges, never public: a rep with no counted visit by a set hour [11:00] on a working day,
behind pace to a month target, or with customers overdue for a revisit (bot.services.customers.cadence)
gets a direct message; his manager gets a digest an hour later.
Each rep can switch nudges off (`/nudges off`). Only counted (verified or approved) visits count.
"""
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from bot.services.core import outbox
from bot.services.customers import cadence
from bot.services.deals import periods, targets
from db.models import Role, User, Visit
from db.models.nudge import NudgeLog, NudgeSettings
from db.models.target import Target
from db.session import UnitOfWork

DEFAULT_VISIT_BY_MINUTE = 11 * 60
DIGEST_DELAY_MINUTES = 60
# Behind pace: below this share of where he should be by today.
PACE_TOLERANCE = Decimal("0.8")
PACE_METRICS = ("won_amount", "collected", "visits")
OVERDUE_LISTED = 10  # customers named in the overdue nudge; the rest are counted


@dataclass(frozen=True)
class NudgeRun:
    nudged: int
    digests: int


@dataclass(frozen=True)
class DigestLine:
    user_id: int
    name: str
    kind: str  # no_visit | behind_pace (overdue customers are counted in the visits digest)
    detail: dict


def set_enabled(uow: UnitOfWork, user_id: int, enabled: bool) -> bool:
    row = uow.session.scalar(select(NudgeSettings).where(NudgeSettings.user_id == user_id))
    if row is None:
        row = NudgeSettings(user_id=user_id)
        uow.session.add(row)
    row.enabled = enabled
    return enabled


def _local(now: datetime, zone_name: str) -> datetime:
    return now.astimezone(ZoneInfo(zone_name))


def log_once(uow: UnitOfWork, user_id: int, day: date, kind: str, detail: dict, now: datetime) -> bool:
    """Record the nudge; False when this user already had it (another process, an earlier run)."""
    if _logged(uow, user_id, day, kind):
        return False
    try:
        with uow.session.begin_nested():
            uow.session.add(NudgeLog(user_id=user_id, day=day, kind=kind, detail=detail, sent_at=now))
    except IntegrityError:
        return False
    return True


def _logged(uow: UnitOfWork, user_id: int, day: date, kind: str) -> bool:
    return uow.session.scalar(select(NudgeLog.id).where(NudgeLog.user_id == user_id, NudgeLog.day == day,
                                                        NudgeLog.kind == kind)) is not None


def run_due(uow: UnitOfWork, now: datetime) -> NudgeRun:
    """Send every nudge and digest that is due at `now`; safe to run often and in several processes."""
    reps = uow.session.scalars(select(User).where(User.active.is_(True), User.role == Role.REP)).all()
    settings = {s.user_id: s for s in uow.session.scalars(select(NudgeSettings))}
    holidays = periods.holidays_between(uow, now.date() - timedelta(days=2), now.date() + timedelta(days=2))
    nudged = 0
    for rep in reps:
        setting = settings.get(rep.id)
        if setting is not None and not setting.enabled:
            continue
        local = _local(now, rep.timezone)
        by = setting.visit_by_minute if setting and setting.visit_by_minute is not None else DEFAULT_VISIT_BY_MINUTE
        if not periods.is_working_day(local.date(), holidays) or local.hour * 60 + local.minute < by:
            continue
        nudged += _nudge_rep(uow, rep, local, now)
    return NudgeRun(nudged, _send_digests(uow, now, holidays))


def _nudge_rep(uow: UnitOfWork, rep: User, local: datetime, now: datetime) -> int:
    zone = ZoneInfo(rep.timezone)
    today = local.date()
    sent = 0
    start, end = periods.utc_range(today, today + timedelta(days=1), zone)
    visited = uow.session.scalar(
        select(Visit.id).where(Visit.user_id == rep.id, Visit.counts.is_(True), Visit.kind == "visit",
                               Visit.started_at >= start, Visit.started_at < end).limit(1)
    )
    if visited is None and log_once(uow, rep.id, today, "no_visit", {}, now):
        outbox.queue_direct(uow, rep.id, "nudges/no_visit", {"name": rep.name}, dedupe_key=f"nudge:{rep.id}:{today}:v",
                            now=now)
        sent += 1
    behind = _behind(uow, rep, today, zone)
    week = today - timedelta(days=today.weekday())  # at most one pace nudge a week
    if behind and log_once(uow, rep.id, week, "behind_pace", behind, now):
        outbox.queue_direct(uow, rep.id, "nudges/behind_pace", {"name": rep.name, **behind},
                             dedupe_key=f"nudge:{rep.id}:{week}:p", now=now)
        sent += 1
    return sent + _nudge_overdue(uow, rep, today, now)


def _nudge_overdue(uow: UnitOfWork, rep: User, today: date, now: datetime) -> int:
    """Once a working day while any of his customers is past its revisit cadence."""
    if _logged(uow, rep.id, today, "overdue"):  # the runs after the first skip the customers' query
        return 0
    overdue = [due for due in cadence.due_customers(uow, rep.id, today) if due.overdue]
    if not overdue or not log_once(uow, rep.id, today, "overdue", {"count": len(overdue)}, now):
        return 0
    outbox.queue_direct(uow, rep.id, "nudges/overdue",
                         {"name": rep.name, "customers": overdue[:OVERDUE_LISTED], "count": len(overdue)},
                         dedupe_key=f"nudge:{rep.id}:{today}:o", now=now)
    return 1


def _behind(uow: UnitOfWork, rep: User, today: date, zone: ZoneInfo) -> dict:
    start = periods.period_dates("month", today)[0]
    metrics = uow.session.scalars(
        select(Target.metric).where(Target.subject_type == "user", Target.subject_id == rep.id,
                                    Target.period == "month", Target.period_start == start,
                                    Target.metric.in_(PACE_METRICS))
    ).all()
    for metric in metrics:
        progress = targets.month_progress(uow, rep.id, metric, today, zone)
        if progress and progress.expected > 0 and progress.actual < progress.expected * PACE_TOLERANCE:
            return {"metric": metric, "actual": str(progress.actual), "expected": str(progress.expected),
                    "target": str(progress.target), "rate": str(progress.rate), "money": progress.money}
    return {}


def digest_lines(uow: UnitOfWork, manager_id: int, day: date) -> list[DigestLine]:
    """Reps reporting to this manager who were nudged on `day` (their local day); for any digest."""
    week = day - timedelta(days=day.weekday())
    rows = uow.session.execute(
        select(NudgeLog, User.name).join(User, NudgeLog.user_id == User.id)
        .where(User.manager_id == manager_id,
               ((NudgeLog.kind == "no_visit") & (NudgeLog.day == day))
               | ((NudgeLog.kind == "behind_pace") & (NudgeLog.day == week) & (NudgeLog.sent_at >= _day_floor(day))))
        .order_by(User.name, NudgeLog.kind)
    ).all()
    return [DigestLine(log.user_id, name, log.kind, log.detail) for log, name in rows]


def _day_floor(day: date) -> datetime:
    # A pace nudge is logged under its week; the digest shows it on the day it was sent (+-14 h of zones).
    return datetime.combine(day, time(0), UTC) - timedelta(hours=14)


def _send_digests(uow: UnitOfWork, now: datetime, holidays: set[date]) -> int:
    manager_ids = set(uow.session.scalars(
        select(User.manager_id).where(User.manager_id.is_not(None), User.active.is_(True), User.role == Role.REP)
    ))
    sent = 0
    for manager in uow.session.scalars(select(User).where(User.id.in_(manager_ids), User.active.is_(True))):
        local = _local(now, manager.timezone)
        due = DEFAULT_VISIT_BY_MINUTE + DIGEST_DELAY_MINUTES
        if not periods.is_working_day(local.date(), holidays) or local.hour * 60 + local.minute < due:
            continue
        if not log_once(uow, manager.id, local.date(), "digest", {}, now):
            continue
        lines = digest_lines(uow, manager.id, local.date())
        if lines:
            outbox.queue_direct(uow, manager.id, "nudges/digest",
                                 {"lines": [line.__dict__ for line in lines], "day": local.date()},
                                 dedupe_key=f"nudge-digest:{manager.id}:{local.date()}", now=now)
            sent += 1
    return sent
