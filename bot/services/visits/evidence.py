"""What the spoof checks read beyond the position itself (spoof_checks.Evidence), gathered from the
rep's own history: the accuracies of his last pinned positions, his earlier positions and live
trails near this one, the live trail this update extends. Only the rep's own history counts: two
reps at one office point are not a replay of each other.

Every read is bounded: the last few fixes by ix_visits_user_taken; earlier positions within a small
box around this one (ix_visits_coordinates) and replay_days back; earlier trails within the same box,
by the rep's trail points (ix_visit_trail_message leads with user_id).
"""
import math
from datetime import datetime, timedelta

from sqlalchemy import select

from bot.services.core import geo
from bot.services.visits.location_checks import Fix, Thresholds
from bot.services.visits.spoof_checks import EarlierFix, TrailPoint
from db.models import Visit, VisitTrailPoint
from db.session import UnitOfWork

# Earlier positions are looked for within this many metres: a replay lies within a fraction of the
# accuracy (5 % of at most a few hundred metres), so this box holds every candidate with room to spare.
NEAR_M = 50.0
# The accuracies the repeated-accuracy check needs: the fix itself and this many before it at most.
ACCURACY_HISTORY = 20


def _box(latitude: float, longitude: float, metres: float) -> tuple[float, float, float, float]:
    """(south, north, west, east) around a point."""
    dlat = math.degrees(metres / geo.EARTH_RADIUS_M)
    dlon = dlat / max(math.cos(math.radians(latitude)), 0.01)
    return latitude - dlat, latitude + dlat, longitude - dlon, longitude + dlon


def recent_accuracies(uow: UnitOfWork, user_id: int, before: datetime, count: int) -> tuple[float | None, ...]:
    """The accuracies of the rep's pinned positions taken before `before`, newest first (an index
    range of ix_visits_user_taken; a live trail's own updates are judged by the trail checks)."""
    rows = uow.session.execute(
        select(Visit.accuracy_m).where(Visit.user_id == user_id, Visit.latitude.is_not(None), Visit.taken_at < before)
        .order_by(Visit.taken_at.desc()).limit(min(count, ACCURACY_HISTORY)))
    return tuple(row.accuracy_m for row in rows)


def earlier_fixes(uow: UnitOfWork, user_id: int, visit_id: int | None, fix: Fix,
                  limits: Thresholds) -> tuple[EarlierFix, ...]:
    """The rep's positions at his other visits and check-ins (all of them: visit_id None) near this
    one, replay_days back."""
    south, north, west, east = _box(fix.latitude, fix.longitude, NEAR_M)
    query = select(Visit.latitude, Visit.longitude, Visit.accuracy_m, Visit.taken_at).where(
        Visit.latitude.between(south, north), Visit.longitude.between(west, east),
        Visit.taken_at >= fix.taken_at - timedelta(days=limits.replay_days), Visit.user_id == user_id)
    rows = uow.session.execute(query if visit_id is None else query.where(Visit.id != visit_id))
    return tuple(EarlierFix(r.latitude, r.longitude, r.accuracy_m, r.taken_at) for r in rows)


def live_trail(uow: UnitOfWork, visit_id: int, message_id: str) -> tuple[TrailPoint, ...]:
    """This live location's updates so far, in the order they were taken."""
    rows = uow.session.execute(
        select(VisitTrailPoint.latitude, VisitTrailPoint.longitude, VisitTrailPoint.taken_at, VisitTrailPoint.heading,
               VisitTrailPoint.accuracy_m)
        .where(VisitTrailPoint.visit_id == visit_id, VisitTrailPoint.message_id == message_id)
        .order_by(VisitTrailPoint.taken_at, VisitTrailPoint.id))
    return tuple(TrailPoint(*row) for row in rows)


def earlier_trails(uow: UnitOfWork, user_id: int, visit_id: int, trail: tuple[TrailPoint, ...],
                   limits: Thresholds) -> tuple[tuple[TrailPoint, ...], ...]:
    """The rep's live trails of other visits passing near this trail (within NEAR_M of the box around
    its updates: a replay may begin after a fresh first update), replay_days back, each whole and in order."""
    if not trail:
        return ()
    south, _, west, _ = _box(min(p.latitude for p in trail), min(p.longitude for p in trail), NEAR_M)
    _, north, _, east = _box(max(p.latitude for p in trail), max(p.longitude for p in trail), NEAR_M)
    near = (select(VisitTrailPoint.visit_id).where(
        VisitTrailPoint.user_id == user_id, VisitTrailPoint.visit_id != visit_id,
        VisitTrailPoint.taken_at >= trail[-1].taken_at - timedelta(days=limits.replay_days),
        VisitTrailPoint.latitude.between(south, north), VisitTrailPoint.longitude.between(west, east),
    ).distinct())
    rows = uow.session.execute(
        select(VisitTrailPoint.visit_id, VisitTrailPoint.latitude, VisitTrailPoint.longitude, VisitTrailPoint.taken_at,
               VisitTrailPoint.heading, VisitTrailPoint.accuracy_m)
        .where(VisitTrailPoint.user_id == user_id, VisitTrailPoint.visit_id.in_(near))
        .order_by(VisitTrailPoint.visit_id, VisitTrailPoint.taken_at, VisitTrailPoint.id))
    trails: dict[int, list[TrailPoint]] = {}
    for visit, *point in rows:
        trails.setdefault(visit, []).append(TrailPoint(*point))
    return tuple(tuple(points) for points in trails.values())
