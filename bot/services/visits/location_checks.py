"""Can this position be trusted? Every check is a small pure function returning reasons.

A reason has a severity: "reject" (the position is refused and nothing is pinned), "flag" (pinned,
but a manager must look: the visit does not count until approved), "hold" (nothing is wrong with
the position, but the place it is judged against is not confirmed yet: the visit waits, see
bot.services.visits.places) or "note" (kept for the record, e.g. a location sent late or a late
check-in; it does not change the verdict).
The thresholds come from the unit's settings (db.models.visit.VisitSettings) with the defaults of
docs/design/rules.md ("Visit checks").
"""
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bot.services.core import geo
from db.models.visit import (
    DEFAULT_ACCURACY_M,
    DEFAULT_BACKDATE_MIN,
    DEFAULT_GEOFENCE_M,
    DEFAULT_HEADING_OFF_DEG,
    DEFAULT_LATE_MINUTES,
    DEFAULT_MAX_SPEED_KMH,
    DEFAULT_MIN_ACCURACY_M,
    DEFAULT_MIN_DWELL_MINUTES,
    DEFAULT_NO_LOCATION_HOURS,
    DEFAULT_OFFICE_RADIUS_M,
    DEFAULT_REPLAY_DAYS,
    DEFAULT_REPLAY_FRACTION,
    DEFAULT_SAME_ACCURACY_FIXES,
    DEFAULT_SAME_PLACE_M,
    DEFAULT_STEADY_SPEED_PCT,
    DEFAULT_STRAIGHT_LINE_M,
    DEFAULT_TYPED_DECIMALS,
    DEFAULT_VISIT_WINDOW_HOURS,
    DEFAULT_WINDOW_SLACK_MIN,
    DEFAULT_WORK_END,
    DEFAULT_WORK_START,
)

REJECT, FLAG, HOLD, NOTE = "reject", "flag", "hold", "note"
# The verdict of a visit whose only doubt is its place (a HOLD reason): it waits for the place.
UNCONFIRMED = "unconfirmed"
# How far a customer's or lead's place is trusted (bot.services.visits.places decides it).
TRUSTED, TENTATIVE = "trusted", "tentative"
# Phones and servers disagree by a few seconds; beyond this a date in the future is forged.
CLOCK_SKEW = timedelta(minutes=2)
# A position that took longer than this to reach us is marked as sent late (kept, not flagged).
SENT_LATE_AFTER = timedelta(minutes=10)
# Below this distance the implied speed says nothing (GPS jitter over a few seconds).
TRAVEL_MIN_DISTANCE_M = 1000.0
LIVE_STILL_MIN_UPDATES = 3
MANUAL_SOURCES = ("venue", "manual")


@dataclass(frozen=True)
class Thresholds:
    accuracy_max_m: float = DEFAULT_ACCURACY_M
    geofence_m: float = DEFAULT_GEOFENCE_M
    max_speed_kmh: float = DEFAULT_MAX_SPEED_KMH
    no_location_hours: int = DEFAULT_NO_LOCATION_HOURS
    work_start_min: int = DEFAULT_WORK_START
    work_end_min: int = DEFAULT_WORK_END
    late_threshold_min: int = DEFAULT_LATE_MINUTES
    office: tuple[float, float] | None = None
    office_radius_m: float | None = None
    # Spoofed positions (spoof_checks): per unit like the others (unit_settings.SPOOF_THRESHOLDS).
    same_place_m: float = DEFAULT_SAME_PLACE_M
    min_accuracy_m: float = DEFAULT_MIN_ACCURACY_M
    same_accuracy_fixes: int = DEFAULT_SAME_ACCURACY_FIXES
    straight_line_m: float = DEFAULT_STRAIGHT_LINE_M
    steady_speed_pct: float = DEFAULT_STEADY_SPEED_PCT
    heading_off_deg: float = DEFAULT_HEADING_OFF_DEG
    typed_decimals: int = DEFAULT_TYPED_DECIMALS
    replay_fraction: float = DEFAULT_REPLAY_FRACTION
    replay_days: int = DEFAULT_REPLAY_DAYS
    visit_window_hours: float = DEFAULT_VISIT_WINDOW_HOURS
    window_slack_min: int = DEFAULT_WINDOW_SLACK_MIN
    backdate_min: int = DEFAULT_BACKDATE_MIN
    min_dwell_minutes: int = DEFAULT_MIN_DWELL_MINUTES  # bot.services.visits.dwell
    office_default_radius_m: float = DEFAULT_OFFICE_RADIUS_M


@dataclass(frozen=True)
class Fix:
    """One received position."""

    latitude: float
    longitude: float
    accuracy_m: float | None
    source: str  # live | static | venue | web | manual
    taken_at: datetime
    arrived_at: datetime
    forwarded: bool = False
    heading: float | None = None  # a moving live location's reported course (Telegram), degrees


@dataclass(frozen=True)
class PreviousFix:
    latitude: float
    longitude: float
    taken_at: datetime


@dataclass(frozen=True)
class Reason:
    code: str
    severity: str
    params: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        return {"code": self.code, "severity": self.severity, **self.params}


def check_forwarded(fix: Fix) -> list[Reason]:
    return [Reason("forwarded", REJECT)] if fix.forwarded else []


def check_future(fix: Fix) -> list[Reason]:
    ahead = fix.taken_at - fix.arrived_at
    return [Reason("future", REJECT, {"minutes": round(ahead.total_seconds() / 60)})] if ahead > CLOCK_SKEW else []


def check_source(fix: Fix) -> list[Reason]:
    return [Reason("manual", FLAG, {"source": fix.source})] if fix.source in MANUAL_SOURCES else []


def check_accuracy(fix: Fix, limits: Thresholds) -> list[Reason]:
    if fix.accuracy_m is None:
        return [Reason("no_accuracy", FLAG)]
    if fix.accuracy_m > limits.accuracy_max_m:
        return [Reason("low_accuracy", FLAG, {"accuracy_m": round(fix.accuracy_m), "limit_m": round(limits.accuracy_max_m)})]
    return []


def distance_to(fix: Fix, target: tuple[float, float] | None) -> float | None:
    if target is None:
        return None
    return geo.distance_m(fix.latitude, fix.longitude, target[0], target[1])


def check_geofence(distance: float | None, limit_m: float, place: str) -> list[Reason]:
    """`place` names what the distance was measured to: customer, lead (their saved location) or office."""
    if distance is None or distance <= limit_m:
        return []
    return [Reason("outside_geofence", FLAG, {"distance_m": round(distance), "limit_m": round(limit_m), "place": place})]


def check_place(trust: str | None) -> list[Reason]:
    """A visit to a customer or lead whose place is not trusted yet waits for it (never flagged)."""
    return [] if trust == TRUSTED else [Reason("place_unconfirmed", HOLD)]


def check_travel(fix: Fix, previous: PreviousFix | None, limits: Thresholds) -> list[Reason]:
    if previous is None:
        return []
    distance = geo.distance_m(previous.latitude, previous.longitude, fix.latitude, fix.longitude)
    if distance < TRAVEL_MIN_DISTANCE_M:
        return []
    speed = geo.speed_kmh(distance, previous.taken_at, fix.taken_at)
    if speed <= limits.max_speed_kmh:
        return []
    minutes = abs((fix.taken_at - previous.taken_at).total_seconds()) / 60
    return [Reason("impossible_travel", FLAG, {
        "km": round(distance / 1000, 1), "minutes": round(minutes),
        "speed_kmh": None if speed == float("inf") else round(speed), "limit_kmh": round(limits.max_speed_kmh),
    })]


def check_live_still(trail: list[tuple[float, float]]) -> list[Reason]:
    """A live location whose updates never move at all is a replay, not a phone in a pocket."""
    if len(trail) < LIVE_STILL_MIN_UPDATES or len(set(trail)) > 1:
        return []
    return [Reason("live_not_moving", FLAG, {"updates": len(trail)})]


def check_sent_late(fix: Fix) -> list[Reason]:
    delay = fix.arrived_at - fix.taken_at
    if delay <= SENT_LATE_AFTER:
        return []
    return [Reason("sent_late", NOTE, {"minutes": round(delay.total_seconds() / 60)})]


def check_attached_late(started_at: datetime, fix: Fix) -> list[Reason]:
    """A no-signal visit got its location later: kept with the time the position was taken."""
    hours = (fix.taken_at - started_at).total_seconds() / 3600
    return [Reason("attached_late", NOTE, {"hours": round(hours, 1)})] if hours > 0.25 else []


def check_work_hours(kind: str, local_minute: int, limits: Thresholds) -> list[Reason]:
    """Late check-in or early check-out against the unit's working hours."""
    if kind == "checkin" and local_minute > limits.work_start_min + limits.late_threshold_min:
        return [Reason("late_checkin", NOTE, {"minutes": local_minute - limits.work_start_min})]
    if kind == "checkout" and local_minute < limits.work_end_min - limits.late_threshold_min:
        return [Reason("early_checkout", NOTE, {"minutes": limits.work_end_min - local_minute})]
    return []


def rejections(fix: Fix) -> list[Reason]:
    return check_forwarded(fix) + check_future(fix)


def verdict_of(reasons: list[Reason] | list[dict], has_location: bool = True) -> str:
    severities = {r.severity if isinstance(r, Reason) else r.get("severity") for r in reasons}
    if REJECT in severities:
        return "rejected"
    if not has_location:
        return "unverified"
    if FLAG in severities:
        return "flagged"
    return UNCONFIRMED if HOLD in severities else "verified"
