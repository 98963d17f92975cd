"""The weekly report, pushed to each manager by direct message on Monday morning in his own time zone.

The job runs every 15 minutes; each manager's (week) is claimed in the same transaction as his DM,
so several bot processes push it exactly once, and a process that was down catches up later that day.
"""
import logging
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from bot.config import Settings
from bot.scheduler import claim_slot, every, scheduled
from bot.services.core import outbox
from bot.services.manager import reports, scope, team
from db.models import OrgUnit, Role, User
from db.session import Database

log = logging.getLogger(__name__)

JOB = "reports.weekly"
PUSH_WEEKDAY = 0  # Monday
PUSH_HOUR = 8


def due(now: datetime, zone: str) -> str | None:
    """The ISO week being reported when it is Monday 08:00 or later locally, else None."""
    local = now.astimezone(ZoneInfo(zone))
    if local.weekday() != PUSH_WEEKDAY or local.hour < PUSH_HOUR:
        return None
    last_week = (local - timedelta(days=7)).isocalendar()
    return f"{last_week.year}-W{last_week.week:02d}"


@scheduled(JOB, every(15 * 60))
def push_weekly(db: Database, slot: datetime, settings: Settings) -> int:
    with db.uow() as uow:
        managers = uow.session.execute(
            select(User.id, User.timezone).where(User.role == Role.MANAGER, User.active.is_(True))
        ).all()
    sent = 0
    for manager_id, zone in managers:
        week = due(slot, zone)
        if week is None:
            continue
        try:
            sent += _push_one(db, manager_id, week, slot)
        except Exception:  # one manager's failure must not stop the others
            log.exception("weekly report for manager %s failed", manager_id)
    return sent


def _push_one(db: Database, manager_id: int, week: str, now: datetime) -> int:
    with db.uow() as uow:
        if not claim_slot(uow, f"{JOB}:user:{manager_id}", week):
            return 0
        manager = uow.session.get(User, manager_id)
        assert manager is not None
        visible = scope.of(uow, manager_id, team.local_today(now, manager.timezone))
        unit = uow.session.get(OrgUnit, manager.unit_id)
        assert unit is not None
        report, _standing = reports.compute(uow, visible, unit, "week", reports.previous_week(now), manager.timezone)
        outbox.queue_direct(uow, manager_id, "manager/weekly_report", {"report": report},
                             dedupe_key=f"{JOB}:{manager_id}:{week}", now=now)
        uow.commit()
    return 1
