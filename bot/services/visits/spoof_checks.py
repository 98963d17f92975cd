"""Is this position made up? Checks for what mock-location apps, typed coordinates and replays leave
behind, in the style of location_checks: each a small pure function returning reasons (all "flag":
the position is pinned and a manager looks). Thresholds are fields of location_checks.Thresholds
(defaults in db.models.visit, documented in docs/design/rules.md "Visit checks").

What GPS does that a fake does not: every fix scatters around the truth by about its reported
accuracy (Android and iOS report the radius of ~68 % confidence, so the per-axis spread is about
accuracy / 1.5), the accuracy itself changes from fix to fix, and a moving phone's speed and course
wander. The inputs are plain values the location step gathers (Evidence lists them).
"""
import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from bot.messages import TYPED_SOURCE
from bot.services.core import geo
from bot.services.visits.location_checks import FLAG, Fix, Reason, Thresholds

# What a reason measured against (rendered by the templates' place_<kind> labels).
SAVED, ADDRESS, OFFICE = "saved", "address", "office"  # a saved location, a geocoded address, the office
# The reasons that say a position is too perfect to come from a phone (the digest's baselines count
# them apart from the other flags); repeated_coordinates and live_not_moving are location_checks'.
TOO_PERFECT = frozenset({
    "on_stored_place", "accuracy_implausible", "accuracy_repeated", "live_simulated", "heading_mismatch",
    "typed_coordinates", "replayed_position", "replayed_position_recent", "replayed_trail", "replayed_trail_recent",
    "repeated_coordinates", "live_not_moving",
})
# A live trail says something about its shape only from this many updates covering this distance.
LIVE_PATTERN_MIN_POINTS = 6
LIVE_PATTERN_MIN_DISTANCE_M = 50.0
# Telegram dates updates to the whole second: over 30 s or more that rounding spreads a constant
# speed by ~1.4 % (one standard deviation), under the 3 % a simulated walk is judged by.
LIVE_SEGMENT_MIN_S = 30.0
# A reported heading is compared with the path only over a segment long enough for its bearing to
# mean something: at least HEADING_MIN_SEGMENT_M and 1.5 accuracies (position jitter then turns the
# bearing by ~30° at most), and only when enough such segments exist.
HEADING_MIN_SEGMENT_M = 25.0
HEADING_MIN_ACCURACIES = 1.5
HEADING_MIN_SEGMENTS = 5
# A replayed trail: this many consecutive updates each within the replay tolerance of consecutive
# updates of an earlier trail. Two genuine updates at one shop match with ≤ 0.15 % chance (see
# check_replayed_position); three in a row, ~1e-9.
REPLAY_MIN_POINTS = 3
METRES_PER_DEGREE = math.radians(1) * geo.EARTH_RADIUS_M  # of latitude, everywhere
# The accuracy assumed for the replay tolerance when neither position reports one.
REPLAY_UNKNOWN_ACCURACY_M = 10.0
# The same fix sent twice (a resent message, a visit and a check-in pinned from one fix) is not a
# replay of an earlier position.
SAME_FIX = timedelta(seconds=1)
CHECKIN = "checkin"
# A replay younger than this is told in hours ("at another visit"), an older one in days.
RECENT_HOURS = 48


@dataclass(frozen=True)
class Place:
    """A stored position a fix is compared with; kind names it in the reason."""

    latitude: float
    longitude: float
    kind: str  # saved (from a visit, or set by the owner) | address (geocoded) | office


@dataclass(frozen=True)
class TrailPoint:
    """One update of a live location, as received."""

    latitude: float
    longitude: float
    taken_at: datetime
    heading: float | None = None  # degrees clockwise from north (Telegram 1–360); None when not moving
    accuracy_m: float | None = None


@dataclass(frozen=True)
class EarlierFix:
    """A position of the same rep pinned to another visit or check-in (any day)."""

    latitude: float
    longitude: float
    accuracy_m: float | None
    taken_at: datetime


@dataclass(frozen=True)
class VisitWindow:
    started_at: datetime
    ended_at: datetime | None = None  # None while the visit is open


@dataclass(frozen=True)
class Evidence:
    """Everything the spoof checks read for one position; the location step gathers it."""

    fix: Fix
    kind: str  # visit | checkin | checkout
    window: VisitWindow
    place: Place | None = None  # the customer's or lead's stored location, when known
    recent_accuracies: tuple[float | None, ...] = ()  # the rep's previous fixes, newest first
    trail: tuple[TrailPoint, ...] = ()  # this live location's updates so far, this fix included
    earlier_fixes: tuple[EarlierFix, ...] = ()  # the rep's positions at other visits
    earlier_trails: tuple[tuple[TrailPoint, ...], ...] = ()  # the rep's live trails of other visits


def check_on_stored_place(fix: Fix, place: Place | None, limits: Thresholds) -> list[Reason]:
    """Exactly on the stored coordinates. Even a 5 m fix scatters ~3.3 m per axis, so it lands within
    0.5 m of a given point with ~1 % chance, a usual 10–50 m fix with 0.3–0.01 % (and a saved place
    that was itself a fix adds its own noise); a mock app set to the customer's pin lands at 0.00 m,
    give or take float rounding (Telegram's six decimals: under 0.1 m)."""
    if place is None:
        return []
    distance = geo.distance_m(fix.latitude, fix.longitude, place.latitude, place.longitude)
    if distance >= limits.same_place_m:
        return []
    return [Reason("on_stored_place", FLAG, {"distance_m": round(distance, 2), "place": place.kind})]


def check_accuracy_implausible(fix: Fix, limits: Thresholds) -> list[Reason]:
    """Accuracy 0 or below a metre: phone GNSS claims a few metres at best; mock apps send 0 or 1."""
    if fix.accuracy_m is None or fix.accuracy_m >= limits.min_accuracy_m:
        return []
    return [Reason("accuracy_implausible", FLAG, {"accuracy_m": round(fix.accuracy_m, 1),
                                                  "limit_m": limits.min_accuracy_m})]


def check_accuracy_repeated(fix: Fix, recent: Sequence[float | None], limits: Thresholds) -> list[Reason]:
    """The very same accuracy value on this fix and the previous ones: a real phone's accuracy changes
    with every fix (satellites, sky view, Wi-Fi), a mock app's is a constant."""
    run = [fix.accuracy_m, *recent[: limits.same_accuracy_fixes - 1]]
    if len(run) < limits.same_accuracy_fixes or None in run or len(set(run)) > 1:
        return []
    return [Reason("accuracy_repeated", FLAG, {"accuracy_m": round(run[0] or 0.0, 1), "fixes": len(run)})]


def _in_time_order(trail: Sequence[TrailPoint]) -> list[TrailPoint]:
    return sorted(trail, key=lambda p: p.taken_at)


def _segments(points: list[TrailPoint]) -> list[tuple[TrailPoint, TrailPoint]]:
    """Consecutive stretches of at least LIVE_SEGMENT_MIN_S (shorter updates merged into the next)."""
    stretches, start = [], points[0]
    for point in points[1:]:
        if (point.taken_at - start.taken_at).total_seconds() >= LIVE_SEGMENT_MIN_S:
            stretches.append((start, point))
            start = point
    return stretches


def _off_line_m(points: list[TrailPoint]) -> tuple[float, float]:
    """(length of the straight line from the first point to the last, farthest any point lies off it)."""
    first = points[0]
    xy = [geo.offset_m(first.latitude, first.longitude, p.latitude, p.longitude) for p in points]
    end_x, end_y = xy[-1]
    length = math.hypot(end_x, end_y)
    if length == 0:
        return 0.0, 0.0
    return length, max(abs(x * end_y - y * end_x) / length for x, y in xy)


def check_simulated_walk(trail: Sequence[TrailPoint], limits: Thresholds) -> list[Reason]:
    """A live location along a perfectly straight line at a constant speed. A real walk or drive is
    never both: position jitter alone puts points metres off any line, and a walker's speed varies
    by 15 % or more from one half-minute to the next (crossings, pace), a car's by more."""
    points = _in_time_order(trail)
    if len(points) < LIVE_PATTERN_MIN_POINTS:
        return []
    length, off_line = _off_line_m(points)
    stretches = _segments(points)
    if length < LIVE_PATTERN_MIN_DISTANCE_M or len(stretches) < LIVE_PATTERN_MIN_POINTS - 2:
        return []
    speeds = [geo.distance_m(a.latitude, a.longitude, b.latitude, b.longitude)
              / (b.taken_at - a.taken_at).total_seconds() for a, b in stretches]
    spread_pct = 100 * statistics.pstdev(speeds) / statistics.fmean(speeds)
    if off_line > limits.straight_line_m or spread_pct > limits.steady_speed_pct:
        return []
    return [Reason("live_simulated", FLAG, {"updates": len(points), "off_line_m": round(off_line, 1),
                                            "speed_spread_pct": round(spread_pct, 1)})]


def check_heading(trail: Sequence[TrailPoint], limits: Thresholds) -> list[Reason]:
    """A reported heading that disagrees with the trail's own path. A phone's course agrees with the
    path within ~15–30° on average (turns and jitter included); a made-up heading is off by 90° on
    average, a frozen one by however far the path turns from it."""
    points = _in_time_order(trail)
    angles = []
    for a, b in zip(points, points[1:], strict=False):
        length = geo.distance_m(a.latitude, a.longitude, b.latitude, b.longitude)
        shortest = max(HEADING_MIN_SEGMENT_M, HEADING_MIN_ACCURACIES * max(a.accuracy_m or 0, b.accuracy_m or 0))
        if b.heading is None or length < shortest:
            continue
        path = geo.bearing_deg(a.latitude, a.longitude, b.latitude, b.longitude)
        angles.append(geo.angle_between_deg(b.heading, path))
    if len(angles) < HEADING_MIN_SEGMENTS or statistics.fmean(angles) <= limits.heading_off_deg:
        return []
    return [Reason("heading_mismatch", FLAG, {"degrees": round(statistics.fmean(angles)),
                                              "limit_deg": round(limits.heading_off_deg)})]


def decimals(value: float | str | Decimal) -> int:
    """Decimals of a coordinate as received. A float is read through its shortest round-trip repr
    (repr(31.23) == "31.23", never "31.229999…"), the text JSON carried; trailing zeros carry no
    precision, so "31.230" counts 2 either way."""
    text = repr(value) if isinstance(value, float) else str(value)
    exponent = Decimal(text).normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def check_typed_coordinates(latitude: float | str | Decimal, longitude: float | str | Decimal,
                            limits: Thresholds) -> list[Reason]:
    """Coordinates with few decimals were typed or pasted. Phones send 6 decimals (Telegram) or a
    full double (the check-in page); both ending in two zeros happens once in 10,000 fixes."""
    most = max(decimals(latitude), decimals(longitude))
    if most > limits.typed_decimals:
        return []
    return [Reason("typed_coordinates", FLAG, {"decimals": most})]


def _tolerance_m(limits: Thresholds, *accuracies: float | None) -> float:
    """A fraction of the better accuracy: two genuine fixes disagree by at least the worse one's noise,
    so the better one sets how close is too close (and a replay keeps its original's accuracy)."""
    known = [a for a in accuracies if a]
    return limits.replay_fraction * (min(known) if known else REPLAY_UNKNOWN_ACCURACY_M)


def _how_long_ago(code: str, earlier: datetime, later: datetime) -> tuple[str, dict]:
    """A replay's code and age: "<code>_recent" with hours under two days, else "<code>" with days."""
    hours = (later - earlier).total_seconds() / 3600
    if hours < RECENT_HOURS:
        return f"{code}_recent", {"hours": round(hours, 1)}
    return code, {"days": int(hours // 24)}


def check_replayed_position(fix: Fix, earlier: Sequence[EarlierFix], limits: Thresholds) -> list[Reason]:
    """Within a small fraction of the accuracy of one of the rep's earlier positions: a replay with a
    little jitter added. Two genuine fixes at one shop are independent draws of the GPS error, about an
    accuracy apart; they fall within 5 % of the better accuracy with ≤ 0.15 % chance per pair
    (Rayleigh), so even daily check-ins at one office over the 90-day lookback stay well under 2 %."""
    since = fix.taken_at - timedelta(days=limits.replay_days)
    for before in earlier:
        if not since <= before.taken_at < fix.taken_at - SAME_FIX:
            continue
        distance = geo.distance_m(fix.latitude, fix.longitude, before.latitude, before.longitude)
        if distance <= _tolerance_m(limits, fix.accuracy_m, before.accuracy_m):
            code, age = _how_long_ago("replayed_position", before.taken_at, fix.taken_at)
            return [Reason(code, FLAG, {"distance_m": round(distance, 1), **age})]
    return []


def _matches(a: TrailPoint, b: TrailPoint, limits: Thresholds) -> bool:
    tolerance = _tolerance_m(limits, a.accuracy_m, b.accuracy_m)
    if abs(a.latitude - b.latitude) * METRES_PER_DEGREE > tolerance:  # never nearer than that: skip the trigonometry
        return False
    return geo.distance_m(a.latitude, a.longitude, b.latitude, b.longitude) <= tolerance


def _longest_run(now: list[TrailPoint], before: list[TrailPoint], limits: Thresholds) -> int:
    """The most consecutive updates of `now` matching consecutive updates of `before`."""
    best = 0
    for i in range(len(now)):
        for j in range(len(before)):
            run = 0
            while i + run < len(now) and j + run < len(before) and _matches(now[i + run], before[j + run], limits):
                run += 1
            best = max(best, run)
    return best


def check_replayed_trail(trail: Sequence[TrailPoint], earlier_trails: Sequence[Sequence[TrailPoint]],
                         limits: Thresholds) -> list[Reason]:
    """A live trail whose updates repeat, one by one with a little jitter, an earlier trail of the rep."""
    now = _in_time_order(trail)
    if len(now) < REPLAY_MIN_POINTS:
        return []
    since = now[-1].taken_at - timedelta(days=limits.replay_days)
    for earlier in earlier_trails:
        before = _in_time_order(earlier)
        if len(before) < REPLAY_MIN_POINTS or not since <= before[0].taken_at < now[0].taken_at:
            continue
        run = _longest_run(now, before, limits)
        if run >= REPLAY_MIN_POINTS:
            code, age = _how_long_ago("replayed_trail", before[0].taken_at, now[0].taken_at)
            return [Reason(code, FLAG, {"updates": run, **age})]
    return []


def check_taken_after_visit(fix: Fix, window: VisitWindow, limits: Thresholds) -> list[Reason]:
    """A position taken after the visit was over (a no-signal visit located hours later from
    elsewhere). An open visit's window is its start plus visit_window_hours."""
    end = window.ended_at or window.started_at + timedelta(hours=limits.visit_window_hours)
    after = fix.taken_at - end
    if after <= timedelta(minutes=limits.window_slack_min):
        return []
    return [Reason("taken_after_visit", FLAG, {"hours": round(after.total_seconds() / 3600, 1)})]


def check_taken_before_start(fix: Fix, window: VisitWindow, limits: Thresholds) -> list[Reason]:
    """A position taken before the visit started: backdated, or an old fix sent again. A few minutes
    are allowed for a phone's cached fix and its clock."""
    before = window.started_at - fix.taken_at
    if before <= timedelta(minutes=limits.backdate_min):
        return []
    return [Reason("taken_before_start", FLAG, {"minutes": round(before.total_seconds() / 60)})]


def check_away_from_office(kind: str, fix: Fix, limits: Thresholds) -> list[Reason]:
    """A check-in outside the office geofence when the unit has an office (home, a café). The fix's
    accuracy circle may reach into the fence, by no more than the fence's own radius. Check-outs are
    left alone: a field rep often checks out at his last customer."""
    if kind != CHECKIN or limits.office is None:
        return []
    radius = limits.office_radius_m or limits.office_default_radius_m
    distance = geo.distance_m(fix.latitude, fix.longitude, limits.office[0], limits.office[1])
    if distance <= radius + min(fix.accuracy_m or 0.0, radius):
        return []
    return [Reason("away_from_office", FLAG, {"distance_m": round(distance), "limit_m": round(radius),
                                              "place": OFFICE})]


def stored_place(evidence: Evidence, limits: Thresholds) -> Place | None:
    """What the fix is compared with: the office for a check-in or check-out, else the target's place."""
    if evidence.kind != "visit" and limits.office is not None:
        return Place(limits.office[0], limits.office[1], OFFICE)
    return evidence.place


def trail_reasons(trail: Sequence[TrailPoint], earlier: Sequence[Sequence[TrailPoint]],
                  limits: Thresholds) -> list[Reason]:
    """The spoof checks of a live trail's shape (judged again on every update)."""
    return (check_simulated_walk(trail, limits) + check_heading(trail, limits)
            + check_replayed_trail(trail, earlier, limits))


def fix_reasons(fix: Fix, earlier: Sequence[EarlierFix], limits: Thresholds) -> list[Reason]:
    """The checks of a position on its own and against the rep's earlier ones (also for /setloc)."""
    return (check_accuracy_implausible(fix, limits)
            + (check_typed_coordinates(fix.latitude, fix.longitude, limits) if fix.source != TYPED_SOURCE else [])
            + check_replayed_position(fix, earlier, limits))


def spoof_reasons(evidence: Evidence, limits: Thresholds) -> list[Reason]:
    """Every spoof check for one position."""
    fix = evidence.fix
    reasons = (
        check_on_stored_place(fix, stored_place(evidence, limits), limits)
        + fix_reasons(fix, evidence.earlier_fixes, limits)
        + check_accuracy_repeated(fix, evidence.recent_accuracies, limits)
        + check_taken_before_start(fix, evidence.window, limits)
        + check_away_from_office(evidence.kind, fix, limits)
    )
    if evidence.trail:
        reasons += trail_reasons(evidence.trail, evidence.earlier_trails, limits)
    if evidence.kind == "visit":
        reasons += check_taken_after_visit(fix, evidence.window, limits)
    return reasons
