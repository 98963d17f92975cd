"""Seeded genuine field days, and the spoofs of issue #15, as spoof_checks.Evidence. Not a test file.

A genuine day: a rep checks in at the office around 08:50 (UTC+8), then drives across the city to
five customers (each on its weekday, so each is visited weekly), 20–60 minutes each. Phones report
an accuracy that changes with every fix (a per-phone median of 7–20 m, log-normal spread: mostly
5–50 m, a tail to 150 m) and land off the truth by about that accuracy (the reported accuracy is a
68 % radius: per-axis sigma = accuracy / 1.5). Customers' doors are 100–300 m from their geocoded
address; half of them have a location saved from a first visit instead. About a third of visits are
shared as a live location: a walk from the car, a drive, or standing at the door, with speed and
course that wander and GPS errors correlated from one update to the next; it goes on through the
visit (a still phone updates every few minutes) and, for four in ten, on the drive off after it. Telegram phones send six
decimals, the check-in page a full double. Some visits are started without signal and located later.

Each spoof turns a genuine case into one of the patterns of issue #15.
"""
import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from bot.services.core import geo
from bot.services.visits.location_checks import Fix, Thresholds
from bot.services.visits.spoof_checks import (
    ADDRESS,
    SAVED,
    EarlierFix,
    Evidence,
    Place,
    TrailPoint,
    VisitWindow,
)

CITY = (31.2304, 121.4737)  # Shanghai, People's Square
OFFICE = (31.2231, 121.4452)
LIMITS = Thresholds(office=OFFICE)
MONDAY = datetime(2026, 3, 2, tzinfo=UTC)
LOCAL = timedelta(hours=8)
SIGMA_PER_ACCURACY = 1 / 1.5  # a 68 % radius over a 2-D normal: ~1.5 sigma
GPS_CORRELATION = 0.7  # of a live trail's errors from one update to the next (30–60 s apart)


def move(point: tuple[float, float], east_m: float, north_m: float) -> tuple[float, float]:
    """The point `east_m`, `north_m` metres away (the inverse of geo.offset_m)."""
    lat = point[0] + math.degrees(north_m / geo.EARTH_RADIUS_M)
    lon = point[1] + math.degrees(east_m / (geo.EARTH_RADIUS_M * math.cos(math.radians(point[0]))))
    return lat, lon


def toward(point: tuple[float, float], bearing: float, metres: float) -> tuple[float, float]:
    rad = math.radians(bearing)
    return move(point, metres * math.sin(rad), metres * math.cos(rad))


def in_disc(rng: random.Random, point: tuple[float, float], radius_m: float) -> tuple[float, float]:
    return toward(point, rng.uniform(0, 360), radius_m * math.sqrt(rng.random()))


@dataclass(frozen=True)
class Phone:
    median_accuracy_m: float
    telegram: bool  # six decimals (Telegram) or a full double (the check-in page)

    def accuracy(self, rng: random.Random, worse: float = 1.0) -> float:
        """A fresh accuracy for every fix, between 3 and 150 m (redrawn, not clipped: a clipped value
        would repeat, which no phone does)."""
        while True:
            value = round(self.median_accuracy_m * worse * rng.lognormvariate(0, 0.55), 1)
            if 3.0 <= value <= 150.0:
                return value

    def sent(self, point: tuple[float, float]) -> tuple[float, float]:
        return (round(point[0], 6), round(point[1], 6)) if self.telegram else point


@dataclass(frozen=True)
class Customer:
    door: tuple[float, float]
    place: Place
    weekday: int


@dataclass
class Rep:
    phone: Phone
    home: tuple[float, float]
    customers: list[Customer]
    accuracies: list[float] = field(default_factory=list)  # oldest first
    fixes: list[EarlierFix] = field(default_factory=list)
    trails: list[tuple[TrailPoint, ...]] = field(default_factory=list)


@dataclass(frozen=True)
class Case:
    """One received position with everything the checks read, and what spoofs of it need."""

    evidence: Evidence
    kind: str  # checkin | visit | live
    phone: Phone
    home: tuple[float, float]
    door: tuple[float, float] | None = None


def noisy(rng: random.Random, truth: tuple[float, float], accuracy: float) -> tuple[float, float]:
    sigma = accuracy * SIGMA_PER_ACCURACY
    return move(truth, rng.gauss(0, sigma), rng.gauss(0, sigma))


def new_rep(rng: random.Random) -> Rep:
    phone = Phone(rng.uniform(7, 20), rng.random() < 0.6)
    home = toward(OFFICE, rng.uniform(0, 360), rng.uniform(1000, 15000))
    customers = []
    for i in range(25):
        geocode = in_disc(rng, CITY, 12000)
        door = toward(geocode, rng.uniform(0, 360), rng.uniform(100, 300))
        if rng.random() < 0.5:
            place = Place(*geocode, ADDRESS)
        else:  # saved from a first visit: itself a fix
            place = Place(*phone.sent(noisy(rng, door, phone.accuracy(rng))), SAVED)
        customers.append(Customer(door, place, i % 5))
    return Rep(phone, home, customers)


def fix_of(point: tuple[float, float], accuracy: float, source: str, taken: datetime,
           delay_s: float) -> Fix:
    return Fix(point[0], point[1], accuracy, source, taken, taken + timedelta(seconds=delay_s))


def evidence(rep: Rep, fix: Fix, kind: str, window: VisitWindow, place: Place | None = None,
             trail: tuple[TrailPoint, ...] = ()) -> Evidence:
    return Evidence(fix, kind, window, place, tuple(reversed(rep.accuracies[-10:])), trail,
                    tuple(rep.fixes), tuple(rep.trails))


def remember(rep: Rep, fix: Fix, trail: tuple[TrailPoint, ...] = ()) -> None:
    rep.accuracies.extend(p.accuracy_m or 0.0 for p in trail[:-1])
    rep.accuracies.append(fix.accuracy_m or 0.0)
    rep.fixes.append(EarlierFix(fix.latitude, fix.longitude, fix.accuracy_m, fix.taken_at))
    if trail:
        rep.trails.append(trail)


def checkin(rng: random.Random, rep: Rep, day: datetime) -> tuple[Case, datetime]:
    started = day + timedelta(minutes=rng.gauss(50, 12))  # local 08:50
    accuracy = rep.phone.accuracy(rng, worse=1.5)  # indoors
    truth = in_disc(rng, OFFICE, 25)  # somewhere in the building
    taken = started + timedelta(seconds=rng.uniform(2, 60))
    fix = fix_of(rep.phone.sent(noisy(rng, truth, accuracy)), accuracy, "static", taken, rng.uniform(0.5, 5))
    case = Case(evidence(rep, fix, "checkin", VisitWindow(started, taken)), "checkin", rep.phone, rep.home)
    remember(rep, fix)
    return case, taken + timedelta(minutes=rng.uniform(5, 30))


def static_visit(rng: random.Random, rep: Rep, customer: Customer, started: datetime,
                 minutes: float) -> Case:
    accuracy = rep.phone.accuracy(rng)
    truth = in_disc(rng, customer.door, 15)
    ended = started + timedelta(minutes=minutes)
    if rng.random() < 0.05:  # no signal: the position was taken during the visit, sent hours later
        taken = started + timedelta(minutes=rng.uniform(0, minutes))
        delay = (ended - taken).total_seconds() + rng.uniform(3600, 4 * 3600)
    else:
        taken, delay = started + timedelta(seconds=rng.uniform(2, 120)), rng.uniform(0.5, 5)
    source = "static" if rep.phone.telegram else "web"
    fix = fix_of(rep.phone.sent(noisy(rng, truth, accuracy)), accuracy, source, taken, delay)
    return Case(evidence(rep, fix, "visit", VisitWindow(started, ended), customer.place), "visit",
                rep.phone, rep.home, customer.door)


def path_walk(rng: random.Random, door: tuple[float, float]) -> list[tuple[tuple[float, float], float, float]]:
    """(true point, seconds since the previous, course) from 250–600 m away to the door: speed and
    course wander, steering back toward the door."""
    point = toward(door, rng.uniform(0, 360), rng.uniform(250, 600))
    steps = [(point, 0.0, 0.0)]
    while geo.distance_m(*point, *door) > 40 and len(steps) < 30:
        seconds = rng.uniform(30, 60)
        straight = geo.bearing_deg(*point, *door)
        course = (straight + rng.gauss(0, 25)) % 360
        metres = min(seconds * 1.3 * rng.lognormvariate(0, 0.25), geo.distance_m(*point, *door))
        point = toward(point, course, metres)
        steps.append((point, seconds, course))
    return steps


def path_drive(rng: random.Random, door: tuple[float, float]) -> list[tuple[tuple[float, float], float, float]]:
    """A drive on a street grid: along one axis, a turn, along the other; speed varies with traffic."""
    east, north = rng.uniform(-2500, 2500), rng.uniform(-2500, 2500)
    point = move(door, -east, -north)
    steps = [(point, 0.0, 0.0)]
    for leg_east, leg_north in ((east, 0.0), (0.0, north)):
        course = geo.bearing_deg(0, 0, leg_north, leg_east) if (leg_east or leg_north) else 0.0
        left = abs(leg_east) + abs(leg_north)
        while left > 1:
            seconds = rng.uniform(30, 60)
            metres = min(left, seconds * 7 * rng.lognormvariate(0, 0.45))  # ~25 km/h in city traffic
            left -= metres
            point = toward(point, course, metres)
            steps.append((point, seconds, course))
    return steps


def path_stay(rng: random.Random, door: tuple[float, float]) -> list[tuple[tuple[float, float], float, float]]:
    return [(in_disc(rng, door, 5), rng.uniform(30, 60), 0.0) for _ in range(rng.randint(8, 12))]


def path_away(rng: random.Random, door: tuple[float, float]) -> list[tuple[tuple[float, float], float, float]]:
    """Driving off from the door: along one street, a turn, along another, 1.6–3.2 km in all."""
    course, turn = rng.choice((0.0, 90.0, 180.0, 270.0)), rng.choice((90.0, 270.0))
    point, steps = door, []
    for leg_course, left in ((course, rng.uniform(800, 1600)), ((course + turn) % 360, rng.uniform(800, 1600))):
        while left > 1:
            seconds = rng.uniform(30, 60)
            metres = min(left, seconds * 7 * rng.lognormvariate(0, 0.45))
            left -= metres
            point = toward(point, leg_course, metres)
            steps.append((point, seconds, leg_course))
    return steps


def live_trail(rng: random.Random, rep: Rep, door: tuple[float, float], start: datetime,
               minutes: float) -> tuple[TrailPoint, ...]:
    """The way to the door, the visit there and, when the rep keeps sharing (four in ten), the drive
    off: a phone standing still sends an update only every few minutes."""
    shape = rng.choices((path_walk, path_drive, path_stay), weights=(5, 2, 3))[0]
    steps = shape(rng, door)
    if shape is not path_stay:
        steps += [(in_disc(rng, door, 10), rng.uniform(30, 60), 0.0) for _ in range(rng.randint(2, 4))]
    stayed = 0.0
    while stayed < minutes * 60:
        seconds = rng.uniform(300, 900)
        steps.append((in_disc(rng, door, 10), seconds, 0.0))
        stayed += seconds
    if rng.random() < 0.4:
        steps += path_away(rng, door)
    return reported(rng, rep.phone, steps, start)


def reported(rng: random.Random, phone: Phone, steps: list[tuple[tuple[float, float], float, float]],
             start: datetime) -> tuple[TrailPoint, ...]:
    """Steps (true point, seconds since the previous, course; 0 when still) as a phone's live location
    reports them."""
    points, taken, error, log_worse = [], start, (0.0, 0.0), 0.0
    for truth, seconds, course in steps:
        taken += timedelta(seconds=seconds)
        log_worse = GPS_CORRELATION * log_worse + rng.gauss(0, 0.3)
        accuracy = phone.accuracy(rng, worse=math.exp(log_worse))
        # AR(1): each error keeps GPS_CORRELATION of the previous one; the first is a full draw.
        keep = GPS_CORRELATION if points else 0.0
        sigma = accuracy * SIGMA_PER_ACCURACY * math.sqrt(1 - keep ** 2)
        error = (keep * error[0] + rng.gauss(0, sigma), keep * error[1] + rng.gauss(0, sigma))
        moving = course and seconds  # the phone reports a course while moving
        heading = (round((course + rng.gauss(0, 15)) % 360) or 360) if moving else None
        lat, lon = phone.sent(move(truth, *error))
        points.append(TrailPoint(lat, lon, taken.replace(microsecond=0), heading, accuracy))
    return tuple(points)


def live_visit(rng: random.Random, rep: Rep, customer: Customer, started: datetime, minutes: float) -> Case:
    trail = live_trail(rng, rep, customer.door, started, minutes)
    last = trail[-1]
    fix = fix_of((last.latitude, last.longitude), last.accuracy_m or 0.0, "live", last.taken_at, rng.uniform(0.5, 3))
    window = VisitWindow(started, max(started + timedelta(minutes=minutes), last.taken_at))
    return Case(evidence(rep, fix, "visit", window, customer.place, trail), "live", rep.phone, rep.home,
                customer.door)


def field_day(rng: random.Random, rep: Rep, day: datetime, weekday: int) -> list[Case]:
    """One working day; `day` is local midnight as a UTC instant."""
    case, now = checkin(rng, rep, day)
    cases, where = [case], OFFICE
    for customer in (c for c in rep.customers if c.weekday == weekday):
        drive_km = geo.distance_m(*where, *customer.door) / 1000
        now += timedelta(hours=drive_km / rng.uniform(18, 30), minutes=rng.uniform(3, 8))
        minutes = rng.uniform(20, 60)
        if rng.random() < 0.3:
            case = live_visit(rng, rep, customer, now, minutes)
            remember(rep, case.evidence.fix, case.evidence.trail)
        else:
            case = static_visit(rng, rep, customer, now, minutes)
            remember(rep, case.evidence.fix)
        cases.append(case)
        now, where = case.evidence.window.ended_at or now, customer.door
    return cases


def genuine_cases(seed: int = 15, reps: int = 16, weeks: int = 9) -> list[Case]:
    """Every position of `reps` reps over `weeks` working weeks, in the order they arrived per rep."""
    rng = random.Random(seed)
    cases = []
    for _ in range(reps):
        rep = new_rep(rng)
        for d in range(weeks * 7):
            local = MONDAY + timedelta(days=d)
            if local.weekday() < 5:
                cases.extend(field_day(rng, rep, local - LOCAL, local.weekday()))
    return cases


# Spoofs: each turns a genuine case into one pattern of issue #15 (None when the case does not fit).
Spoof = Callable[[random.Random, Case], Case | None]


def _with_fix(case: Case, **changes) -> Case:
    return replace(case, evidence=replace(case.evidence, fix=replace(case.evidence.fix, **changes)))


def mock_on_place(rng: random.Random, case: Case) -> Case | None:
    """A mock app set to the customer's stored coordinates."""
    place = case.evidence.place
    if case.kind != "visit" or place is None:
        return None
    lat, lon = case.phone.sent((place.latitude, place.longitude))
    return _with_fix(case, latitude=lat, longitude=lon)


def mock_constant_accuracy(rng: random.Random, case: Case) -> Case | None:
    """A mock app in use all day, reporting one accuracy on every fix."""
    if len(case.evidence.recent_accuracies) < 4:
        return None
    value = rng.choice((1.0, 3.0, 5.0, 10.0, 20.0, round(rng.uniform(3, 30), 1)))
    spoofed = _with_fix(case, accuracy_m=value)
    return replace(spoofed, evidence=replace(spoofed.evidence, recent_accuracies=(value,) * 10))


def mock_zero_accuracy(rng: random.Random, case: Case) -> Case | None:
    return _with_fix(case, accuracy_m=rng.choice((0.0, 0.0, round(rng.uniform(0.1, 0.9), 1))))


def _straight_trail(rng: random.Random, case: Case,
                    heading_of: Callable[[float], float | None]) -> tuple[TrailPoint, ...]:
    door = case.door or OFFICE
    bearing = rng.uniform(0, 360)
    speed = rng.choice((rng.uniform(1.1, 1.5), rng.uniform(6, 11)))  # a walk or a drive, m/s
    count = rng.randint(8, 14)
    start = toward(door, (bearing + 180) % 360, speed * 45 * count)
    first = case.evidence.fix.taken_at - timedelta(seconds=45 * count)
    points, elapsed = [], 0.0
    for _ in range(count):
        elapsed += rng.uniform(30, 60)
        truth = toward(start, bearing, speed * elapsed)
        lat, lon = case.phone.sent(in_disc(rng, truth, 0.3))  # a sprinkle of jitter, as some apps add
        taken = (first + timedelta(seconds=elapsed + rng.uniform(-0.5, 0.5))).replace(microsecond=0)
        points.append(TrailPoint(lat, lon, taken, heading_of(bearing), case.phone.accuracy(rng)))
    return tuple(points)


def _as_live(case: Case, trail: tuple[TrailPoint, ...]) -> Case:
    last = trail[-1]
    spoofed = _with_fix(case, latitude=last.latitude, longitude=last.longitude, accuracy_m=last.accuracy_m,
                        source="live", taken_at=last.taken_at, arrived_at=last.taken_at + timedelta(seconds=1))
    window = VisitWindow(trail[0].taken_at - timedelta(seconds=30), last.taken_at + timedelta(minutes=30))
    return replace(spoofed, kind="live", evidence=replace(spoofed.evidence, trail=trail, window=window))


def simulated_walk(rng: random.Random, case: Case) -> Case | None:
    """A straight line at constant speed, heading along it (or none)."""
    if case.kind == "checkin":
        return None
    trail = _straight_trail(rng, case, lambda b: rng.choice((round(b) or 360, None)))
    return _as_live(case, trail)


def heading_off(rng: random.Random, case: Case) -> Case | None:
    """A walk (as a real one) whose heading is made up on every update, or frozen at a direction at
    least 60° off the way it walks (a frozen heading that happens to point along the walk agrees
    with it: no check can tell, and it is not this pattern)."""
    if case.kind == "checkin" or case.door is None:
        return None
    steps = path_walk(rng, case.door)
    way = geo.bearing_deg(*steps[0][0], *case.door)
    frozen = rng.choice((None, round((way + rng.uniform(60, 300)) % 360) or 360.0))
    start = case.evidence.fix.taken_at - timedelta(seconds=sum(s for _, s, _ in steps))
    points, taken = [], start
    for truth, seconds, _course in steps:
        taken += timedelta(seconds=seconds)
        accuracy = case.phone.accuracy(rng)
        lat, lon = case.phone.sent(noisy(rng, truth, accuracy))
        heading = frozen if frozen is not None else float(rng.randint(1, 360))
        points.append(TrailPoint(lat, lon, taken.replace(microsecond=0), heading, accuracy))
    return _as_live(case, tuple(points)) if len(points) >= 8 else None


def typed_coordinates(rng: random.Random, case: Case) -> Case | None:
    digits = rng.choice((2, 3, 4))
    fix = case.evidence.fix
    return _with_fix(case, latitude=round(fix.latitude, digits), longitude=round(fix.longitude, digits))


def replayed_position(rng: random.Random, case: Case, fraction: float = 0.03) -> Case | None:
    """An earlier position of the rep (the last one at this place on another day, or one from earlier
    today at another visit) sent again with jitter within `fraction` of its accuracy."""
    fix, earlier = case.evidence.fix, case.evidence.earlier_fixes
    today = [e for e in earlier if e.taken_at.date() == fix.taken_at.date() and e.taken_at < fix.taken_at]
    here = [e for e in earlier if e.taken_at.date() != fix.taken_at.date()
            and geo.distance_m(e.latitude, e.longitude, fix.latitude, fix.longitude) < 500]
    pool = today if today and (not here or rng.random() < 0.5) else here
    if not pool:
        return None
    source = pool[-1] if pool is here else rng.choice(pool)
    accuracy = source.accuracy_m or 10.0
    lat, lon = case.phone.sent(in_disc(rng, (source.latitude, source.longitude), fraction * accuracy))
    return _with_fix(case, latitude=lat, longitude=lon, accuracy_m=source.accuracy_m)


def replayed_trail(rng: random.Random, case: Case, fraction: float = 0.03) -> Case | None:
    """An earlier live trail of the rep at this place, re-timed to now, with jitter on every update."""
    if case.kind == "checkin" or case.door is None:
        return None
    fix = case.evidence.fix
    door = case.door
    pool = [t for t in case.evidence.earlier_trails
            if min(geo.distance_m(p.latitude, p.longitude, *door) for p in t) < 200]
    if not pool:
        return None
    old = pool[-1]
    shift = fix.taken_at - old[-1].taken_at
    trail = tuple(
        TrailPoint(*case.phone.sent(in_disc(rng, (p.latitude, p.longitude), fraction * (p.accuracy_m or 10.0))),
                   p.taken_at + shift, p.heading, p.accuracy_m)
        for p in old
    )
    return _as_live(case, trail)


def left_early(rng: random.Random, case: Case) -> Case | None:
    """断点打卡: a live location shared at the customer's door, and the rep drives off a few minutes later."""
    if case.kind == "checkin" or case.door is None:
        return None
    steps = [(in_disc(rng, case.door, 10), 0.0, 0.0)]
    steps += [(in_disc(rng, case.door, 10), rng.uniform(30, 90), 0.0) for _ in range(rng.randint(1, 3))]
    start = case.evidence.window.started_at + timedelta(seconds=rng.uniform(10, 120))
    return _as_live(case, reported(rng, case.phone, steps + path_away(rng, case.door), start))


def located_hours_later(rng: random.Random, case: Case) -> Case | None:
    """A no-signal visit 'located' with a position taken hours after it ended."""
    if case.kind != "visit":
        return None
    window = case.evidence.window
    end = window.ended_at or window.started_at + timedelta(minutes=45)
    taken = end + timedelta(hours=rng.uniform(1, 6))
    return _with_fix(case, taken_at=taken, arrived_at=taken + timedelta(seconds=3))


def checkin_from_home(rng: random.Random, case: Case) -> Case | None:
    if case.kind != "checkin":
        return None
    accuracy = case.phone.accuracy(rng)
    lat, lon = case.phone.sent(noisy(rng, in_disc(rng, case.home, 20), accuracy))
    return _with_fix(case, latitude=lat, longitude=lon, accuracy_m=accuracy)


def backdated(rng: random.Random, case: Case) -> Case | None:
    taken = case.evidence.window.started_at - timedelta(minutes=rng.uniform(10, 180))
    return _with_fix(case, taken_at=taken)


# Each spoof with the reason codes that catch it (left_early: bot.services.visits.dwell on a visit's trail).
SPOOFS: dict[str, tuple[Spoof, set[str]]] = {
    "mock on the stored place": (mock_on_place, {"on_stored_place"}),
    "constant accuracy": (mock_constant_accuracy, {"accuracy_repeated", "accuracy_implausible"}),
    "zero or sub-metre accuracy": (mock_zero_accuracy, {"accuracy_implausible"}),
    "simulated straight walk": (simulated_walk, {"live_simulated"}),
    "heading off the path": (heading_off, {"heading_mismatch"}),
    "typed coordinates": (typed_coordinates, {"typed_coordinates"}),
    "replayed position": (replayed_position, {"replayed_position", "replayed_position_recent"}),
    "replayed trail": (replayed_trail, {"replayed_trail", "replayed_trail_recent"}),
    "located hours later": (located_hours_later, {"taken_after_visit"}),
    "check-in from home": (checkin_from_home, {"away_from_office"}),
    "backdated": (backdated, {"taken_before_start"}),
    "left early": (left_early, {"left_early"}),
}
