"""Dwell from a live location: when a rep shares a live location during a visit, its trail says when
he arrived at the place and when he left it, and those times (not the times of /visit and /visit
end) are the visit's time on site. Leaving within minutes of arriving (断点打卡: check in, leave at
once) is flagged like the spoof checks: a manager looks, the visit counts once approved.

The place is the visit's customer's or lead's when it is trusted, else where the trail began (the
position the visit was pinned to). A point is inside within the geofence; it is outside only when
its accuracy circle (reaching in by at most the fence's own radius) stays beyond the fence too, so
a phone jittering at the edge neither arrives nor leaves. Arrival is the first point inside,
departure the last one inside when a later point is outside (a step out and back in is still a
stay), else the trail's last point: a trail still there, or whose sharing stopped there, never left.
"""
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.services.core import geo
from bot.services.visits import evidence
from bot.services.visits.location_checks import FLAG, Reason, Thresholds
from bot.services.visits.spoof_checks import Place, TrailPoint
from bot.services.visits.thresholds import thresholds_for
from bot.services.visits.visit_targets import Target, visit_target
from db.models import Visit
from db.session import UnitOfWork

# What the trail is measured against when the visit's place is not trusted (a place_<kind> label).
PINNED = "pinned"
# Where a trail without a trusted place stayed is looked for among its last this many points.
STAY_POINTS = 120


@dataclass(frozen=True)
class Dwell:
    """A live trail's stay at the place."""

    arrived_at: datetime  # its first point inside the geofence
    departed_at: datetime  # its last point inside before it left, else its last point
    left: bool  # seen outside after departed_at
    place: str  # what it was measured against: customer | lead | saved | address | pinned
    nearest_m: float = 0.0  # the trail's closest point to it

    @property
    def minutes(self) -> int:
        """Whole minutes on site (a reason never says 10 minutes of a stay under 10)."""
        return int((self.departed_at - self.arrived_at).total_seconds() // 60)


def _outside(point: TrailPoint, distance_m: float, fence_m: float) -> bool:
    return distance_m - min(point.accuracy_m or 0.0, fence_m) > fence_m


def _where_it_stayed(points: Sequence[TrailPoint], fence_m: float) -> tuple[float, float]:
    """The trail's point with the most time spent within the geofence around it (each point counts
    the time until the next): where the rep stayed, not the way there, whose updates come often."""
    spent = [(b.taken_at - a.taken_at).total_seconds() for a, b in zip(points, points[1:], strict=False)] + [0.0]
    recent = points[-STAY_POINTS:]
    def time_near(p: TrailPoint) -> float:
        return sum(s for q, s in zip(points, spent, strict=True)
                   if geo.distance_m(p.latitude, p.longitude, q.latitude, q.longitude) <= fence_m)
    best = max(recent, key=time_near)
    return best.latitude, best.longitude


def dwell_of(trail: Sequence[TrailPoint], place: Place | None, fence_m: float) -> Dwell | None:
    """Arrival and departure of a live trail at `place` (None: where the trail stayed longest); None
    when the trail never comes inside the geofence."""
    points = sorted(trail, key=lambda p: p.taken_at)
    if not points:
        return None
    anchor = (place.latitude, place.longitude) if place else _where_it_stayed(points, fence_m)
    distances = [geo.distance_m(p.latitude, p.longitude, *anchor) for p in points]
    inside = [i for i, distance in enumerate(distances) if distance <= fence_m]
    if not inside:
        return None
    last = inside[-1]
    left = any(_outside(points[i], distances[i], fence_m) for i in range(last + 1, len(points)))
    departed = points[last] if left else points[-1]
    return Dwell(points[inside[0]].taken_at, departed.taken_at, left, place.kind if place else PINNED, min(distances))


def check_dwell(stay: Dwell | None, limits: Thresholds) -> list[Reason]:
    """Seen leaving the trusted place less than min_dwell_minutes after arriving (0: off). A trail
    still inside is not judged: the rep may be there yet; nor one without a trusted place: where it
    stayed need not be the customer (such a visit is held for its place anyway)."""
    if stay is None or not stay.left or stay.place == PINNED or limits.min_dwell_minutes <= 0:
        return []
    if stay.departed_at - stay.arrived_at >= timedelta(minutes=limits.min_dwell_minutes):
        return []
    return [Reason("left_early", FLAG, {"minutes": stay.minutes, "limit_min": limits.min_dwell_minutes,
                                        "place": stay.place})]


def reached(visit: Visit, target: Target | None) -> bool:
    """The visit's live trail came within the geofence of its trusted place (judge recorded it)."""
    return visit.arrived_at_place is not None and place_of(target) is not None


def place_of(target: Target | None) -> Place | None:
    """The visit's customer's or lead's place when trusted (a tentative one may be the rep's own)."""
    trusted = target.trusted_location if target is not None else None
    return Place(*trusted, target.kind) if trusted is not None else None


def record(visit: Visit, stay: Dwell | None) -> None:
    """Keep the visit's time on site on its row (None: the trail never reached the place), and
    its distance from a trusted place as the trail's closest point."""
    visit.arrived_at_place = stay.arrived_at if stay else None
    visit.left_place_at = stay.departed_at if stay else None
    if stay is not None and stay.place != PINNED:
        visit.distance_m = stay.nearest_m if visit.distance_m is None else min(visit.distance_m, stay.nearest_m)


def judge(visit: Visit, trail: Sequence[TrailPoint], target: Target | None, limits: Thresholds) -> list[Reason]:
    """A live update of a visit: record its time on site so far and check it."""
    if visit.kind != "visit":
        return []
    stay = dwell_of(trail, place_of(target), limits.geofence_m)
    record(visit, stay)
    return check_dwell(stay, limits)


def at_end(uow: UnitOfWork, visit: Visit, unit_id: int) -> Dwell | None:
    """/visit end: the visit's time on site from its live trail (its unit's geofence), recorded; None
    without a trail, or one that never reached the place."""
    trail = evidence.live_trail(uow, visit.id)
    if not trail:
        return None
    stay = dwell_of(trail, place_of(visit_target(uow, visit)), thresholds_for(uow, unit_id).geofence_m)
    record(visit, stay)
    return stay
