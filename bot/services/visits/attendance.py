"""Check-in and check-out (考勤): the working day, each with a location judged like a visit.

The row is a Visit of kind checkin/checkout waiting for its location; bot.services.visits.shared_location pins it
(with the late/early notes against the unit's working hours and the optional office geofence).
"""
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from bot.errors import UserError
from bot.services.visits import visits
from bot.services.visits.thresholds import thresholds_for
from db.models import Visit
from db.session import UnitOfWork

KINDS = ("checkin", "checkout")


@dataclass(frozen=True)
class AttendanceStarted:
    visit_id: int
    kind: str
    work_start_min: int
    work_end_min: int


def start(uow: UnitOfWork, user_id: int, kind: str, now: datetime) -> AttendanceStarted:
    """Open a check-in (or check-out) waiting for its location; one pinned of each kind per local day."""
    assert kind in KINDS
    user = visits.active_user(uow, user_id, lock=True)
    zone = visits.zone_of(user)
    day_start, day_end = visits.local_day_bounds(zone, now.astimezone(zone).date())
    today = uow.session.scalars(
        select(Visit).where(
            Visit.user_id == user_id, Visit.kind == kind, Visit.started_at >= day_start, Visit.started_at < day_end
        ).order_by(Visit.started_at)
    ).all()
    done = next((v for v in today if v.latitude is not None), None)
    if done is not None:
        raise UserError(f"attendance/already_{kind}", at=(done.taken_at or done.started_at).astimezone(zone))
    limits = thresholds_for(uow, user.unit_id)
    waiting = next((v for v in today if v.status == visits.WAITING), None)
    if waiting is None:
        waiting = Visit(
            user_id=user_id, kind=kind, status=visits.WAITING, started_at=now, created_at=now, source="none",
            verdict="unverified", reasons=[], counts=False, review_status="none",
        )
        uow.session.add(waiting)
        uow.session.flush()
    return AttendanceStarted(waiting.id, kind, limits.work_start_min, limits.work_end_min)
