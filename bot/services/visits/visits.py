"""Visits (拜访) pinned to a verified location, and the one place a shared location lands.

A visit starts waiting for a location (status awaiting_location); the first position that arrives
is judged by bot.services.visits.location_checks and pinned; `/visit end` closes it. A visit logged with
--no-location stays unverified until a location is attached inside the unit's window.
Check-ins and check-outs (bot.services.visits.attendance) are visits of another kind and are pinned here too.
"""
import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo

from sqlalchemy import Select, bindparam, func, literal_column, null, or_, select, true
from sqlalchemy.orm import aliased, joinedload

from bot.errors import UserError
from bot.services.core import geo
from bot.services.manager import scope
from bot.services.visits import location_checks as checks
from bot.services.visits.location_checks import Fix, PreviousFix, Reason, Thresholds
from db.models import Customer, Lead, LeadStatus, OrgUnit, User, Visit
from db.models.visit import CustomerLocationRequest, VisitSettings, VisitTrailPoint
from db.session import UnitOfWork

WAITING = "waiting"  # the core column is String(12): "awaiting_location" does not fit
OPEN_STATUSES = (WAITING, "open")
# Written as SQL literals, not bound parameters, so that PostgreSQL matches the partial indexes
# (db.models.visit) even in a prepared statement's generic plan.
_IS_WAITING = Visit.status == literal_column(f"'{WAITING}'")
_IS_OPEN = Visit.status.in_([literal_column(f"'{status}'") for status in OPEN_STATUSES])
MAX_MATCHES = 8
SETLOC_LIFETIME = timedelta(minutes=30)
_ID = re.compile(r"^(?:(?P<kind>[cl])|#)?(?P<id>\d{1,12})$", re.IGNORECASE)


# ---------------------------------------------------------------- results


@dataclass(frozen=True)
class Target:
    kind: str  # customer | lead
    id: int
    name: str
    location: tuple[float, float] | None

    @property
    def ref(self) -> str:
        return f"{self.kind[0]}{self.id}"


@dataclass(frozen=True)
class VisitStarted:
    visit_id: int
    target: Target
    needs_location: bool
    no_location_reason: str | None
    location_deadline: datetime | None  # in the rep's time zone


@dataclass(frozen=True)
class VisitEnded:
    visit_id: int
    target_name: str
    minutes: int
    verdict: str
    had_location: bool


@dataclass(frozen=True)
class Pinned:
    """A position was pinned to a visit or a check-in/out."""

    visit_id: int
    kind: str
    target_name: str | None
    verdict: str
    reasons: list[dict]
    distance_m: float | None
    accuracy_m: float | None
    taken_local: datetime
    located_target: bool = False  # the customer/lead got its first location from this visit


@dataclass(frozen=True)
class LiveUpdate:
    visit_id: int
    verdict: str
    changed: bool


@dataclass(frozen=True)
class CustomerLocated:
    customer_id: int
    name: str
    latitude: float
    longitude: float
    accuracy_m: float | None


@dataclass(frozen=True)
class SetlocRequested:
    customer_id: int
    name: str
    expires_at: datetime


@dataclass(frozen=True)
class VisitRow:
    id: int
    kind: str
    user_name: str
    target_name: str | None
    started_local: datetime
    minutes: int | None
    verdict: str
    review_status: str
    counts: bool
    distance_m: float | None
    reasons: list[dict]
    status: str


@dataclass(frozen=True)
class VisitList:
    first_day: date
    last_day: date
    whose: str  # "me", a user's name, or a unit's name
    rows: list[VisitRow] = field(default_factory=list)

    @property
    def verified(self) -> int:
        return sum(1 for r in self.rows if r.counts)


# ---------------------------------------------------------------- settings and time


def _unit_settings(unit_id) -> Select:
    """The settings row of the nearest unit up the tree (the unit itself first) that has one."""
    ancestor, unit = aliased(OrgUnit), aliased(OrgUnit)
    return (
        select(VisitSettings).join(ancestor, ancestor.id == VisitSettings.unit_id)
        .join(unit, unit.path.startswith(ancestor.path)).where(unit.id == unit_id)
        .order_by(func.length(ancestor.path).desc()).limit(1)
    )


def _as_thresholds(row: VisitSettings | None) -> Thresholds:
    if row is None:
        return Thresholds()
    office = (row.office_latitude, row.office_longitude) if row.office_latitude is not None else None
    return Thresholds(
        row.accuracy_max_m, row.geofence_m, row.max_speed_kmh, row.no_location_hours, row.work_start_min,
        row.work_end_min, row.late_threshold_min, office, row.office_radius_m,
    )


def thresholds_for(uow: UnitOfWork, unit_id: int) -> Thresholds:
    """The nearest unit up the tree with its own settings; the defaults (docs/design/rules.md) when none has."""
    return _as_thresholds(uow.session.scalar(_unit_settings(unit_id)))


def zone_of(user: User) -> ZoneInfo:
    return ZoneInfo(user.timezone or "UTC")


def local_day_bounds(zone: ZoneInfo, day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time.min, zone)
    return start, datetime.combine(day + timedelta(days=1), time.min, zone)


def active_user(uow: UnitOfWork, user_id: int, lock: bool = False) -> User:
    if lock:
        # Serialises one user's visit commands (two taps of /visit never open two visits); the row
        # read under the lock replaces the one the router loaded.
        user = uow.session.scalar(
            select(User).options(joinedload(User.unit)).where(User.id == user_id).with_for_update(of=User)
            .execution_options(populate_existing=True)
        )
    else:
        user = uow.session.get(User, user_id)
    if user is None or not user.active:
        raise UserError("not_linked")
    return user


# ---------------------------------------------------------------- targets


def _customers_in(visible: scope.Scope) -> Select:
    return select(Customer).where(
        scope.owned_filter(visible, Customer.owner_id, "customer", Customer.id), Customer.status != "voided"
    )


def _leads_in(visible: scope.Scope) -> Select:
    return select(Lead).where(
        scope.owned_filter(visible, Lead.owner_id, "lead", Lead.id), Lead.status != LeadStatus.VOIDED
    )


def _as_target(record: Customer | Lead) -> Target:
    location = (record.latitude, record.longitude) if record.latitude is not None else None
    if isinstance(record, Customer):
        return Target("customer", record.id, record.name, location)
    return Target("lead", record.id, record.company, location)


def resolve_target(uow: UnitOfWork, visible: scope.Scope, text: str, customers_only: bool = False) -> Target:
    """`c12`, `l7`, `#12` or a name fragment matching exactly one customer or lead the user may see."""
    text = text.strip()
    found: list[Customer | Lead] = []
    by_id = _ID.match(text)
    if by_id:
        number, kind = int(by_id["id"]), (by_id["kind"] or "").lower()
        if kind in ("", "c"):
            found += uow.session.scalars(_customers_in(visible).where(Customer.id == number)).all()
        if kind in ("", "l") and not customers_only and not (kind == "" and found):
            found += uow.session.scalars(_leads_in(visible).where(Lead.id == number)).all()
    else:
        fragment = text.lower()
        found += uow.session.scalars(
            _customers_in(visible).where(func.lower(Customer.name).contains(fragment, autoescape=True))
            .order_by(Customer.id).limit(MAX_MATCHES + 1)
        ).all()
        if not customers_only:
            found += uow.session.scalars(
                _leads_in(visible).where(
                    func.lower(Lead.company).contains(fragment, autoescape=True), Lead.customer_id.is_(None)
                ).order_by(Lead.id).limit(MAX_MATCHES + 1)
            ).all()
    if not found:
        raise UserError("visits/target_not_found", text=text[:60])
    if len(found) > 1:
        matches = [_as_target(r) for r in found[:MAX_MATCHES]]
        raise UserError("visits/target_ambiguous", text=text[:60], matches=matches, more=len(found) > MAX_MATCHES)
    return _as_target(found[0])


def target_of(uow: UnitOfWork, visit: Visit) -> Customer | Lead | None:
    if visit.customer_id is not None:
        return uow.session.get(Customer, visit.customer_id)
    if visit.lead_id is not None:
        return uow.session.get(Lead, visit.lead_id)
    return None


def target_name(record: Customer | Lead | None) -> str | None:
    if record is None:
        return None
    return record.name if isinstance(record, Customer) else record.company


# ---------------------------------------------------------------- start and end


def open_visit(uow: UnitOfWork, user_id: int) -> Visit | None:
    return uow.session.scalar(
        select(Visit).where(Visit.user_id == user_id, Visit.kind == "visit", _IS_OPEN)
        .order_by(Visit.started_at.desc()).limit(1)
    )


def start_visit(uow: UnitOfWork, user_id: int, target_text: str, note: str | None, now: datetime,
                no_location_reason: str | None = None) -> VisitStarted:
    user = active_user(uow, user_id, lock=True)
    target = resolve_target(uow, scope.of(uow, user_id, now.date()), target_text)
    current = open_visit(uow, user_id)
    if current is not None:
        raise UserError("visits/already_open", visit_id=current.id, target=target_name(target_of(uow, current)) or "")
    visit = Visit(
        user_id=user_id, kind="visit", note=note, started_at=now, created_at=now, source="none",
        customer_id=target.id if target.kind == "customer" else None,
        lead_id=target.id if target.kind == "lead" else None,
        verdict="unverified", reasons=[], counts=False, review_status="none",
    )
    if no_location_reason:
        visit.status = "open"
        visit.no_location_reason = no_location_reason
        window = thresholds_for(uow, user.unit_id).no_location_hours
        visit.location_deadline = now + timedelta(hours=window)
        visit.reasons = [Reason("no_location", checks.NOTE, {"why": no_location_reason[:200]}).to_json()]
    else:
        visit.status = WAITING
    uow.session.add(visit)
    uow.session.flush()
    deadline = visit.location_deadline.astimezone(zone_of(user)) if visit.location_deadline else None
    return VisitStarted(visit.id, target, not no_location_reason, no_location_reason, deadline)


def end_visit(uow: UnitOfWork, user_id: int, note: str | None, now: datetime) -> VisitEnded:
    active_user(uow, user_id, lock=True)
    visit = open_visit(uow, user_id)
    if visit is None:
        raise UserError("visits/none_open")
    had_location = visit.latitude is not None
    if visit.status == WAITING:
        visit.reasons = [*visit.reasons, Reason("no_location_sent", checks.NOTE).to_json()]
    visit.status = "closed"
    visit.ended_at = now
    visit.end_note = note
    minutes = max(0, round((now - visit.started_at).total_seconds() / 60))
    return VisitEnded(visit.id, target_name(target_of(uow, visit)) or "", minutes, visit.verdict, had_location)


# ---------------------------------------------------------------- a location arrives


@dataclass(frozen=True)
class Surroundings:
    """What a position is matched to and judged against, read in one round trip (`lookup`)."""

    user: User  # locked for the rest of the transaction, read fresh
    waiting: Visit | None  # the latest visit or check-in waiting for its location (or the one a link names)
    in_window: Visit | None  # the latest no-signal visit still inside its window
    trail_of: Visit | None  # the visit whose live location this message updates
    setloc: CustomerLocationRequest | None  # the owner asked to set a customer's location
    limits: Thresholds
    previous: PreviousFix | None  # the rep's last position before this one
    repeated: bool  # exactly these coordinates were seen on another day
    targets: dict[int, Target | None] = field(default_factory=dict)  # by visit id


def receive_location(uow: UnitOfWork, user_id: int, fix: Fix, now: datetime, is_private: bool = True,
                     message_id: str | None = None, edited: bool = False
                     ) -> Pinned | LiveUpdate | CustomerLocated | None:
    """Route a shared position to whatever waits for it: a live trail, a visit or check-in waiting
    for its location, a customer whose owner asked to set it, or a no-signal visit inside its window.
    None: an update of a live location that nothing follows (it arrives every few seconds: stay quiet)."""
    if not is_private:
        raise UserError("visits/location_in_group")
    refuse_unusable(fix)
    live_message = message_id if fix.source == "live" else None
    around = lookup(uow, user_id, fix, now, message_id=live_message)
    if around.trail_of is not None and live_message is not None:
        return live_update(uow, around.trail_of, fix, live_message)
    request, waiting = around.setloc, around.waiting
    if request is not None and (waiting is None or request.created_at > waiting.created_at):
        return _set_customer_location(uow, request, fix, now)
    if waiting is None:
        waiting = around.in_window
    if waiting is None and edited:
        return None
    if waiting is None:
        raise UserError("no_location_expected")
    return pin_location(uow, waiting, fix, around, live_message)


def refuse_unusable(fix: Fix) -> None:
    """Bad coordinates, a forwarded position or one dated in the future: refused, nothing written."""
    if not geo.is_valid(fix.latitude, fix.longitude):
        raise UserError("visits/bad_coordinates", latitude=str(fix.latitude)[:20], longitude=str(fix.longitude)[:20])
    refused = checks.rejections(fix)
    if refused:
        raise UserError(f"visits/refused_{refused[0].code}", **refused[0].params)


def pin_from_link(uow: UnitOfWork, user_id: int, visit_id: int, fix: Fix) -> Pinned:
    """The check-in page's position: the same checks as a chat location, for the visit the link names."""
    refuse_unusable(fix)
    around = lookup(uow, user_id, fix, fix.arrived_at, visit_id=visit_id)
    visit = around.waiting
    if visit is None or visit.user_id != user_id or visit.status != WAITING:
        raise UserError("visits/link_done")
    return pin_location(uow, visit, fix, around)


def _waiting_visit_id(user_id) -> Select:
    return (select(Visit.id).where(Visit.user_id == user_id, _IS_WAITING)
            .order_by(Visit.created_at.desc(), Visit.id.desc()).limit(1))


def _visit_in_window_id(user_id, now) -> Select:
    return select(Visit.id).where(
        Visit.user_id == user_id, Visit.no_location_reason.is_not(None), Visit.latitude.is_(None),
        Visit.location_deadline > now, Visit.verdict == "unverified",
    ).order_by(Visit.started_at.desc(), Visit.id.desc()).limit(1)


def _live_trail_visit_id(user_id, message_id) -> Select:
    return (select(VisitTrailPoint.visit_id)
            .where(VisitTrailPoint.user_id == user_id, VisitTrailPoint.message_id == message_id)
            .order_by(VisitTrailPoint.id.desc()).limit(1))


def previous_fix_query(user_id, before) -> Select:
    """The rep's last position before `before`: an index-only scan of ix_visits_user_taken_cover."""
    return (select(Visit.latitude, Visit.longitude, Visit.taken_at)
            .where(Visit.user_id == user_id, Visit.taken_at < before, Visit.latitude.is_not(None))
            .order_by(Visit.taken_at.desc()).limit(1))


def previous_fix(uow: UnitOfWork, user_id: int, before: datetime) -> PreviousFix | None:
    row = uow.session.execute(previous_fix_query(user_id, before)).first()
    return PreviousFix(row.latitude, row.longitude, row.taken_at) if row else None


def _repeated_query(latitude, longitude, day_start, day_end) -> Select:
    """Any position at exactly these coordinates outside the local day (index-only on ix_visits_coordinates)."""
    return select(Visit.taken_at).where(
        Visit.latitude == latitude, Visit.longitude == longitude,
        or_(Visit.taken_at < day_start, Visit.taken_at >= day_end),
    ).limit(1)


@cache
def _lookup_template(by_visit_id: bool, by_message: bool) -> Select:
    """Built once per process (bound parameters only): building and cache-keying an expression this
    size costs more than running it, and this is the hot path of every shared location."""
    user_id = bindparam("user_id")
    if by_visit_id:
        candidates = [Visit.id == bindparam("visit_id")]
    else:
        candidates = [Visit.id == _waiting_visit_id(user_id).scalar_subquery(),
                      Visit.id == _visit_in_window_id(user_id, bindparam("now")).scalar_subquery()]
    trail_of = _live_trail_visit_id(user_id, bindparam("message_id")).scalar_subquery()
    if by_message:
        candidates.append(Visit.id == trail_of)
    setloc = aliased(CustomerLocationRequest, _setloc_waiting(user_id, bindparam("now")).subquery(), name="setloc")
    unit_settings = aliased(VisitSettings, _unit_settings(bindparam("unit_id")).subquery(), name="unit_settings")
    previous = previous_fix_query(user_id, bindparam("taken_at")).subquery("previous")
    repeated = _repeated_query(
        bindparam("latitude"), bindparam("longitude"), bindparam("day_start"), bindparam("day_end")
    ).subquery("repeated")
    return (
        select(User, Visit, Customer.name, Customer.latitude, Customer.longitude, Lead.company, Lead.latitude,
               Lead.longitude, trail_of if by_message else null(), setloc, unit_settings, previous.c.latitude,
               previous.c.longitude, previous.c.taken_at, repeated.c.taken_at)
        .select_from(User)
        .outerjoin(Visit, (Visit.user_id == User.id) & or_(*candidates))
        .outerjoin(Customer, Customer.id == Visit.customer_id)
        .outerjoin(Lead, Lead.id == Visit.lead_id)
        .outerjoin(setloc, true()).outerjoin(unit_settings, true())
        .outerjoin(previous, true()).outerjoin(repeated, true())
        .where(User.id == user_id)
        # Serialises one rep's positions (two taps never pin twice); the user row is read fresh.
        .with_for_update(of=User)
        .execution_options(populate_existing=True)
    )


def lookup_statement(user: User, fix: Fix, now: datetime, visit_id: int | None = None,
                     message_id: str | None = None) -> tuple[Select, dict]:
    """One statement for everything a position needs, locking the rep: the visit it lands on (with
    its customer's or lead's name and place), the visit a live location's message follows, a pending
    /setloc, the unit's thresholds, the previous position and a repeated one.

    Each fact is a one-row derived table LEFT JOINed `ON true` to the user's row, so a missing fact
    is NULLs, not a missing row; the candidate visits (waiting, in-window and followed, or the one a
    link names) give at most three rows. Every part is an index lookup (see db.models.visit)."""
    zone = zone_of(user)
    day_start, day_end = local_day_bounds(zone, fix.taken_at.astimezone(zone).date())
    params = {
        "user_id": user.id, "unit_id": user.unit_id, "now": now, "taken_at": fix.taken_at,
        "latitude": fix.latitude, "longitude": fix.longitude, "day_start": day_start, "day_end": day_end,
    }
    if visit_id is not None:
        params["visit_id"] = visit_id
    if message_id is not None:
        params["message_id"] = message_id
    return _lookup_template(visit_id is not None, message_id is not None), params


def lookup(uow: UnitOfWork, user_id: int, fix: Fix, now: datetime, visit_id: int | None = None,
           message_id: str | None = None) -> Surroundings:
    """Lock the rep and read everything his position needs. The router has already loaded him in
    this session: his unit and time zone (for the statement's parameters) cost no query."""
    known = uow.session.get(User, user_id)
    if known is None:
        raise UserError("not_linked")
    statement, params = lookup_statement(known, fix, now, visit_id, message_id)
    rows = uow.session.execute(statement, params).all()
    user = rows[0][0] if rows else None
    if user is None or not user.active:
        raise UserError("not_linked")
    waiting = in_window = trail_of = None
    targets: dict[int, Target | None] = {}
    for (_user, visit, customer_name, customer_lat, customer_lon, lead_name, lead_lat, lead_lon, trail_id, *_) in rows:
        if visit is None:
            continue
        if visit.customer_id is not None:
            place = (customer_lat, customer_lon) if customer_lat is not None else None
            targets[visit.id] = Target("customer", visit.customer_id, customer_name, place)
        elif visit.lead_id is not None:
            place = (lead_lat, lead_lon) if lead_lat is not None else None
            targets[visit.id] = Target("lead", visit.lead_id, lead_name, place)
        else:
            targets[visit.id] = None
        if visit.id == trail_id:
            trail_of = visit
        elif visit_id is not None or visit.status == WAITING:
            waiting = visit
        else:
            in_window = visit
    *_, setloc, unit_settings, previous_lat, previous_lon, previous_at, repeated_at = rows[0]
    previous = PreviousFix(previous_lat, previous_lon, previous_at) if previous_at is not None else None
    return Surroundings(
        user, waiting, in_window, trail_of, setloc, _as_thresholds(unit_settings), previous,
        repeated_at is not None, targets,
    )


def judge(visit: Visit, user: User, fix: Fix, target: Target | None,
          around: Surroundings) -> tuple[list[Reason], float | None]:
    """Every check for one position; returns the reasons and the distance to the target."""
    limits = around.limits
    if visit.kind == "visit":
        anchor, fence = (target.location if target is not None else None), limits.geofence_m
    else:
        anchor, fence = limits.office, limits.office_radius_m or limits.geofence_m
    distance = checks.distance_to(fix, anchor)
    reasons = (
        checks.check_source(fix)
        + checks.check_accuracy(fix, limits)
        + checks.check_geofence(distance, fence)
        + checks.check_travel(fix, around.previous, limits)
        + checks.check_repeated(around.repeated)
        + checks.check_sent_late(fix)
    )
    if visit.no_location_reason:
        reasons += checks.check_attached_late(visit.started_at, fix)
    if visit.kind in ("checkin", "checkout"):
        local = fix.taken_at.astimezone(zone_of(user))
        reasons += checks.check_work_hours(visit.kind, local.hour * 60 + local.minute, limits)
    return reasons, distance


def pin_location(uow: UnitOfWork, visit: Visit, fix: Fix, around: Surroundings,
                 live_message: str | None = None) -> Pinned:
    """Judge a position and pin it to the visit (the same path for chat, web page and console)."""
    user = around.user
    target = around.targets.get(visit.id)
    reasons, distance = judge(visit, user, fix, target, around)
    kept = [r for r in visit.reasons if r.get("code") == "no_location"]
    visit.latitude, visit.longitude, visit.accuracy_m = fix.latitude, fix.longitude, fix.accuracy_m
    visit.source, visit.taken_at, visit.arrived_at = fix.source, fix.taken_at, fix.arrived_at
    visit.distance_m = distance
    visit.reasons = kept + [r.to_json() for r in reasons]
    visit.verdict = checks.verdict_of(reasons)
    visit.counts = visit.verdict == "verified" or visit.review_status == "approved"
    if visit.status == WAITING:
        visit.status = "open" if visit.kind == "visit" else "closed"
    if live_message is not None:  # the first point of the trail its updates extend
        _add_trail_point(uow, visit, fix, live_message)
    located = visit.verdict == "verified" and target is not None and target.location is None
    if located:
        record = target_of(uow, visit)
        assert record is not None
        record.latitude, record.longitude = fix.latitude, fix.longitude
        if isinstance(record, Customer):
            record.location_source, record.location_set_at = "visit", fix.arrived_at
    uow.session.flush()
    return Pinned(visit.id, visit.kind, target.name if target else None, visit.verdict, visit.reasons, distance,
                  fix.accuracy_m, fix.taken_at.astimezone(zone_of(user)), located)


def _add_trail_point(uow: UnitOfWork, visit: Visit, fix: Fix, message_id: str) -> None:
    """One point of a live location's trail; `message_id` is the live message its edits come as."""
    uow.session.add(VisitTrailPoint(
        visit_id=visit.id, user_id=visit.user_id, message_id=message_id, latitude=fix.latitude,
        longitude=fix.longitude, accuracy_m=fix.accuracy_m, source=fix.source, taken_at=fix.taken_at,
        arrived_at=fix.arrived_at,
    ))


def live_update(uow: UnitOfWork, visit: Visit, fix: Fix, message_id: str) -> LiveUpdate:
    """A live-location edit: extend the trail, and flag a trail that never moves."""
    _add_trail_point(uow, visit, fix, message_id)
    uow.session.flush()
    trail = [
        (p.latitude, p.longitude) for p in uow.session.execute(
            select(VisitTrailPoint.latitude, VisitTrailPoint.longitude).where(
                VisitTrailPoint.visit_id == visit.id, VisitTrailPoint.message_id == message_id)
        )
    ]
    others = [r for r in visit.reasons if r.get("code") != "live_not_moving"]
    reasons = others + [r.to_json() for r in checks.check_live_still(trail)]
    before = visit.verdict
    visit.reasons = reasons
    visit.verdict = checks.verdict_of(reasons, has_location=visit.latitude is not None)
    visit.counts = visit.verdict == "verified" or visit.review_status == "approved"
    return LiveUpdate(visit.id, visit.verdict, before != visit.verdict)


# ---------------------------------------------------------------- customer location set by the owner


def _setloc_waiting(user_id, now) -> Select:
    return select(CustomerLocationRequest).where(
        CustomerLocationRequest.user_id == user_id, CustomerLocationRequest.status == "waiting",
        CustomerLocationRequest.expires_at > now,
    ).order_by(CustomerLocationRequest.created_at.desc(), CustomerLocationRequest.id.desc()).limit(1)


def request_customer_location(uow: UnitOfWork, user_id: int, customer_text: str, now: datetime) -> SetlocRequested:
    """`/setloc CUSTOMER`: the next location the owner shares becomes the customer's location."""
    active_user(uow, user_id, lock=True)
    visible = scope.of(uow, user_id, now.date())
    target = resolve_target(uow, visible, customer_text, customers_only=True)
    customer = uow.session.get(Customer, target.id)
    assert customer is not None
    scope.require(uow, visible, "customer", customer.id, customer.owner_id, write=True)
    for old in uow.session.scalars(select(CustomerLocationRequest).where(
            CustomerLocationRequest.user_id == user_id, CustomerLocationRequest.status == "waiting")):
        old.status = "replaced"
    request = CustomerLocationRequest(
        user_id=user_id, customer_id=customer.id, status="waiting", created_at=now, expires_at=now + SETLOC_LIFETIME
    )
    uow.session.add(request)
    uow.session.flush()
    return SetlocRequested(customer.id, customer.name, request.expires_at)


def _set_customer_location(uow: UnitOfWork, request: CustomerLocationRequest, fix: Fix, now: datetime) -> CustomerLocated:
    customer = uow.session.get(Customer, request.customer_id)
    assert customer is not None
    customer.latitude, customer.longitude = fix.latitude, fix.longitude
    customer.location_source, customer.location_set_at = "owner", now
    request.status, request.done_at = "done", now
    return CustomerLocated(customer.id, customer.name, fix.latitude, fix.longitude, fix.accuracy_m)


# ---------------------------------------------------------------- listing


def period_days(period: str | None, day: date | None, today: date) -> tuple[date, date]:
    if day is not None:
        return day, day
    if period == "yesterday":
        return today - timedelta(days=1), today - timedelta(days=1)
    if period == "week":
        monday = today - timedelta(days=today.weekday())
        return monday, today
    if period == "month":
        return today.replace(day=1), today
    return today, today


def list_visits(uow: UnitOfWork, viewer_id: int, now: datetime, period: str | None = None, day: date | None = None,
                rep_handle: str | None = None, unit_name: str | None = None, limit: int = 50) -> VisitList:
    viewer = active_user(uow, viewer_id)
    visible = scope.of(uow, viewer_id, now.date())
    zone = zone_of(viewer)
    first, last = period_days(period, day, now.astimezone(zone).date())
    start, _ = local_day_bounds(zone, first)
    _, end = local_day_bounds(zone, last)
    query = select(Visit, User.name).join(User, Visit.user_id == User.id).where(
        Visit.started_at >= start, Visit.started_at < end
    )
    whose = "me"
    if rep_handle:
        rep = uow.session.scalar(select(User).where(User.handle == rep_handle.lstrip("@").lower()))
        if rep is None:
            raise UserError("visits/unknown_rep", handle=rep_handle[:40])
        if not scope.covers_user(uow, visible, rep.id):
            raise UserError("visits/rep_out_of_scope", name=rep.name)
        query, whose = query.where(Visit.user_id == rep.id), rep.name
    elif unit_name:
        unit = uow.session.scalar(select(OrgUnit).where(func.lower(OrgUnit.name) == unit_name.lower()))
        if unit is None or not scope.covers_unit(uow, visible, unit.id):
            raise UserError("visits/unit_out_of_scope", name=unit_name[:60])
        members = select(User.id).join(OrgUnit, User.unit_id == OrgUnit.id).where(OrgUnit.path.startswith(unit.path))
        query = query.where(Visit.user_id.in_(members), scope.users_filter(visible, Visit.user_id))
        whose = unit.name
    else:
        query = query.where(Visit.user_id == viewer_id)
    rows = []
    for visit, user_name in uow.session.execute(query.order_by(Visit.started_at.desc()).limit(limit)):
        minutes = round((visit.ended_at - visit.started_at).total_seconds() / 60) if visit.ended_at else None
        rows.append(VisitRow(
            visit.id, visit.kind, user_name, target_name(target_of(uow, visit)),
            (visit.taken_at or visit.started_at).astimezone(zone), minutes, visit.verdict, visit.review_status,
            visit.counts, visit.distance_m, visit.reasons, visit.status,
        ))
    return VisitList(first, last, whose, rows)

