"""Where a shared position goes, and the one place it lands: a live location's trail, a visit or
check-in waiting for its location (pinned after bot.services.visits.location_checks judged it), a
customer whose owner asked to set its location (customer_location), a /nearby waiting for where the
rep is (nearby: answered, nothing pinned), or a no-signal visit inside its window. One statement
(`lookup`) reads everything the position needs and locks the rep.
"""
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache

from sqlalchemy import Select, bindparam, func, literal_column, null, or_, select, true
from sqlalchemy.orm import aliased

from bot.errors import UserError
from bot.services.core import geo
from bot.services.visits import dwell, evidence, nearby, places, refusals
from bot.services.visits import location_checks as checks
from bot.services.visits import spoof_checks as spoof
from bot.services.visits.customer_location import (
    CustomerLocated,
    set_customer_location,
    waiting_request_query,
)
from bot.services.visits.location_checks import Fix, PreviousFix, Reason, Thresholds
from bot.services.visits.nearby import Nearby
from bot.services.visits.places import PlaceNews
from bot.services.visits.refusals import Refused
from bot.services.visits.thresholds import as_thresholds, unit_settings_query
from bot.services.visits.visit_targets import Target, target_of
from bot.services.visits.visits import WAITING, zone_of
from db.models import (
    Customer,
    CustomerLocationRequest,
    Lead,
    User,
    Visit,
    VisitSettings,
    VisitTrailPoint,
)
from db.models.visit import DEFAULT_REPLAY_DAYS
from db.session import UnitOfWork

# A literal, not a bound parameter, so that PostgreSQL matches the partial index on waiting visits
# (db.models.visits) even in a prepared statement's generic plan.
_IS_WAITING = Visit.status == literal_column(f"'{WAITING}'")
# Reasons a visit had before its position arrived, kept beside the position's own: why it had no
# signal (a note), a doubtful photo sent while it waited (a flag, bot.services.visits.photos), and
# the forwarded or future-dated positions refused while it waited (flags, bot.services.visits.refusals).
KEPT_WHEN_PINNED = ("no_location", "photo_flagged", *refusals.CODES)


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
    place: PlaceNews | None = None  # what this visit did to its customer's or lead's place


@dataclass(frozen=True)
class LiveUpdate:
    visit_id: int
    verdict: str
    changed: bool
    reasons: list[dict]


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
    targets: dict[int, Target | None] = field(default_factory=dict)  # by visit id
    history: evidence.History = evidence.History()  # what the spoof checks read of his own history


def receive_location(uow: UnitOfWork, user_id: int, fix: Fix, now: datetime, is_private: bool = True,
                     message_id: str | None = None, edited: bool = False
                     ) -> Pinned | LiveUpdate | CustomerLocated | Nearby | Refused | None:
    """Route a shared position to whatever waits for it: a live trail, a visit or check-in waiting
    for its location, a customer whose owner asked to set it, a /nearby, or a no-signal visit inside
    its window.
    None: an update of a live location that nothing follows (it arrives every few seconds: stay quiet).
    Refused: a forwarded or future-dated position, kept on the visit it was meant for (refusals)."""
    if not is_private:
        raise UserError("visits/location_in_group")
    rejection = refuse_unusable(fix)
    live_message = message_id if fix.source == "live" and rejection is None else None
    around = lookup(uow, user_id, fix, now, message_id=live_message)
    if around.trail_of is not None and live_message is not None:
        return live_update(uow, around.trail_of, fix, live_message, around)
    request, waiting = around.setloc, around.waiting
    # A live location's update comes on its own, wherever the owner is: it never answers /setloc.
    if request is not None and not edited and (waiting is None or request.created_at > waiting.created_at):
        return answer_request(uow, request, fix, rejection, around, now)
    if waiting is None:
        waiting = around.in_window
    if rejection is not None:  # a live location's edit is no attempt at a waiting visit
        return refusals.refuse(uow, around.user, None if edited else waiting, rejection, now)
    if waiting is None and edited:
        return None
    if waiting is None:
        raise UserError("no_location_expected")
    return pin_location(uow, waiting, fix, around, live_message)


def answer_request(uow: UnitOfWork, request: CustomerLocationRequest, fix: Fix, rejection: Reason | None,
                   around: Surroundings, now: datetime) -> CustomerLocated | Nearby:
    """The position answers a waiting /setloc (the customer's place) or /nearby (the list around it)."""
    if rejection is not None:  # meant for the customer's place or /nearby: nothing of a visit to keep
        refusals.refuse(uow, around.user, None, rejection, now)  # raises: nothing written
    if request.customer_id is None:  # /nearby asked for it
        assert request.radius_m is not None
        nearby.require_precise(fix.accuracy_m, request.radius_m, around.limits.accuracy_max_m)
        request.status, request.done_at = "done", now
        return nearby.around(uow, around.user.id, fix.latitude, fix.longitude, request.radius_m, fix.taken_at)
    return set_customer_location(uow, request, fix, now, around.user, around.limits, around.previous,
                                 around.history.earlier_fixes())


def answer_from_link(uow: UnitOfWork, user_id: int, request_id: int, fix: Fix) -> CustomerLocated | Nearby:
    """The check-in page's position for the request its link names: the same path as a chat location,
    provided that request is still the one of his waiting for a position."""
    rejection = refuse_unusable(fix)
    around = lookup(uow, user_id, fix, fix.arrived_at)
    if around.setloc is None or around.setloc.id != request_id:  # answered, replaced, expired or not his
        raise UserError("visits/link_request_done")
    return answer_request(uow, around.setloc, fix, rejection, around, fix.arrived_at)


def refuse_unusable(fix: Fix) -> Reason | None:
    """Bad coordinates are refused here (UserError, nothing written); a forwarded position or one
    dated in the future is returned, for the caller to refuse and trace (refusals.refuse)."""
    if not geo.is_valid(fix.latitude, fix.longitude):
        raise UserError("visits/bad_coordinates", latitude=str(fix.latitude)[:20], longitude=str(fix.longitude)[:20])
    refused = checks.rejections(fix)
    return refused[0] if refused else None


def pin_from_link(uow: UnitOfWork, user_id: int, visit_id: int, fix: Fix) -> Pinned | Refused:
    """The check-in page's position: the same checks as a chat location, for the visit the link names."""
    rejection = refuse_unusable(fix)
    around = lookup(uow, user_id, fix, fix.arrived_at, visit_id=visit_id)
    visit = around.waiting
    usable = visit is not None and visit.user_id == user_id and visit.status == WAITING
    if rejection is not None:
        return refusals.refuse(uow, around.user, visit if usable else None, rejection, fix.arrived_at)
    if visit is None or not usable:
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
    setloc = aliased(CustomerLocationRequest, waiting_request_query(user_id, bindparam("now")).subquery(), name="setloc")
    # A CTE: the nearby positions' window reads its replay_days too.
    settings = unit_settings_query(bindparam("unit_id")).cte("unit_settings")
    unit_settings = aliased(VisitSettings, settings, name="unit_settings")
    taken_at = bindparam("taken_at", type_=Visit.taken_at.type)
    previous = evidence.previous_fix_query(user_id, taken_at).subquery("previous")
    recent = evidence.accuracies_table(user_id, taken_at)
    replay_days = func.coalesce(select(settings.c.replay_days).scalar_subquery(), DEFAULT_REPLAY_DAYS)
    nearby = evidence.nearby_table(user_id, taken_at, replay_days)
    return (
        select(User, Visit, Customer.name, Customer.latitude, Customer.longitude, Lead.company, Lead.latitude,
               Lead.longitude, Customer.location_trust, Lead.location_trust, trail_of if by_message else null(), setloc,
               unit_settings, previous.c.latitude, previous.c.longitude, previous.c.taken_at, recent.c.rows,
               nearby.c.rows)
        .select_from(User)
        .outerjoin(Visit, (Visit.user_id == User.id) & or_(*candidates))
        .outerjoin(Customer, Customer.id == Visit.customer_id)
        .outerjoin(Lead, Lead.id == Visit.lead_id)
        .outerjoin(setloc, true()).outerjoin(unit_settings, true())
        .outerjoin(previous, true()).outerjoin(recent, true()).outerjoin(nearby, true())
        .where(User.id == user_id)
        # Serialises one rep's positions (two taps never pin twice); the user row is read fresh.
        .with_for_update(of=User)
        .execution_options(populate_existing=True)
    )


def lookup_statement(user: User, fix: Fix, now: datetime, visit_id: int | None = None,
                     message_id: str | None = None) -> tuple[Select, dict]:
    """One statement for everything a position needs, locking the rep: the visit it lands on (with
    its customer's or lead's name and place), the visit a live location's message follows, a pending
    /setloc, the unit's thresholds, the previous position and the rep's history the spoof checks read
    (evidence.History: his last accuracies, his positions near this one).

    Each fact is a one-row derived table LEFT JOINed `ON true` to the user's row, so a missing fact
    is NULLs, not a missing row; the candidate visits (waiting, in-window and followed, or the one a
    link names) give at most three rows. Every part is an index lookup (see db.models.visits)."""
    params = {"user_id": user.id, "unit_id": user.unit_id, "now": now, "taken_at": fix.taken_at,
              **evidence.near_params(fix)}
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
    for (_user, visit, customer_name, customer_lat, customer_lon, lead_name, lead_lat, lead_lon, customer_trust,
         lead_trust, trail_id, *_) in rows:
        if visit is None:
            continue
        if visit.customer_id is not None:
            place = (customer_lat, customer_lon) if customer_lat is not None else None
            targets[visit.id] = Target("customer", visit.customer_id, customer_name, place, customer_trust)
        elif visit.lead_id is not None:
            place = (lead_lat, lead_lon) if lead_lat is not None else None
            targets[visit.id] = Target("lead", visit.lead_id, lead_name, place, lead_trust)
        else:
            targets[visit.id] = None
        if visit.id == trail_id:
            trail_of = visit
        elif visit_id is not None or visit.status == WAITING:
            waiting = visit
        else:
            in_window = visit
    *_, setloc, unit_settings, previous_lat, previous_lon, previous_at, accuracies, nearby = rows[0]
    previous = PreviousFix(previous_lat, previous_lon, previous_at) if previous_at is not None else None
    return Surroundings(user, waiting, in_window, trail_of, setloc, as_thresholds(unit_settings), previous, targets,
                        evidence.history_of(accuracies, nearby))


def judge(visit: Visit, user: User, fix: Fix, target: Target | None, around: Surroundings,
          evidence: spoof.Evidence) -> tuple[list[Reason], float | None]:
    """Every check for one position; returns the reasons and the distance to the target (a visit's
    customer or lead; the office for a check-in or check-out, judged by spoof.check_away_from_office)."""
    limits = around.limits
    if visit.kind == "visit":
        # A place not trusted yet never flags: the visit is held until the place is confirmed.
        held = checks.check_place(target.trust) if target is not None else []
        distance = checks.distance_to(fix, target.location if target is not None else None)
        fence = float("inf") if held else limits.geofence_m
        reasons = checks.check_geofence(distance, fence, target.kind if target is not None else "expected") + held
    else:
        distance, reasons = checks.distance_to(fix, limits.office), []
    reasons += (
        checks.check_source(fix)
        + checks.check_accuracy(fix, limits)
        + checks.check_travel(fix, around.previous, limits)
        + checks.check_sent_late(fix)
        + spoof.spoof_reasons(evidence, limits)
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
    reasons, distance = judge(visit, user, fix, target, around, gather(visit, fix, target, around))
    kept = [r for r in visit.reasons if r.get("code") in KEPT_WHEN_PINNED]
    visit.latitude, visit.longitude, visit.accuracy_m = fix.latitude, fix.longitude, fix.accuracy_m
    visit.source, visit.taken_at, visit.arrived_at = fix.source, fix.taken_at, fix.arrived_at
    visit.distance_m = distance
    visit.reasons = kept + [r.to_json() for r in reasons]
    visit.verdict = checks.verdict_of([*reasons, *kept])
    visit.counts = visit.verdict == "verified" or visit.review_status == "approved"
    if visit.status == WAITING:
        visit.status = "open" if visit.kind == "visit" else "closed"
    if live_message is not None:  # the first point of the trail its updates extend
        _add_trail_point(uow, visit, fix, live_message)
    news = None
    if visit.verdict == checks.UNCONFIRMED and target is not None:
        uow.session.flush()  # the held visits of its record are read back, this one among them
        news = places.settle(uow, visit, target_of(uow, visit), around.limits.geofence_m, fix.arrived_at)
    uow.session.flush()
    return Pinned(visit.id, visit.kind, target.name if target else None, visit.verdict, visit.reasons,
                  visit.distance_m, fix.accuracy_m, fix.taken_at.astimezone(zone_of(user)), news)


def gather(visit: Visit, fix: Fix, target: Target | None, around: Surroundings) -> spoof.Evidence:
    """What the spoof checks read for a position pinned to `visit`: the rep's own history near it, as
    the lookup read it (no query); the visit's own position is never a replay of itself."""
    trusted = target.trusted_location if target is not None else None
    place = spoof.Place(*trusted, spoof.SAVED) if trusted is not None else None
    return spoof.Evidence(
        fix, visit.kind, spoof.VisitWindow(visit.started_at, visit.ended_at), place,
        recent_accuracies=around.history.accuracies[: around.limits.same_accuracy_fixes - 1],
        earlier_fixes=around.history.earlier_fixes(visit.id),
    )


def _add_trail_point(uow: UnitOfWork, visit: Visit, fix: Fix, message_id: str) -> None:
    """One point of a live location's trail; `message_id` is the live message its edits come as."""
    uow.session.add(VisitTrailPoint(
        visit_id=visit.id, user_id=visit.user_id, message_id=message_id, latitude=fix.latitude,
        longitude=fix.longitude, accuracy_m=fix.accuracy_m, heading=fix.heading, source=fix.source, taken_at=fix.taken_at,
        arrived_at=fix.arrived_at,
    ))


# The reasons a live trail gives (its shape, its stay at the place); each update judges the trail
# so far afresh.
TRAIL_CODES = frozenset({"live_not_moving", "live_simulated", "heading_mismatch", "replayed_trail",
                         "replayed_trail_recent", "left_early"})


def live_update(uow: UnitOfWork, visit: Visit, fix: Fix, message_id: str, around: Surroundings) -> LiveUpdate:
    """A live-location edit: extend the trail, judge its shape (never moving, a simulated walk,
    a heading off its own path, a replay of one of the rep's earlier trails) and its stay at the
    place (the visit's time on site; leaving at once is flagged)."""
    _add_trail_point(uow, visit, fix, message_id)
    uow.session.flush()
    trail, limits = evidence.live_trail(uow, visit.id, message_id), around.limits
    found = (checks.check_live_still([(p.latitude, p.longitude) for p in trail])
             + spoof.trail_reasons(trail, evidence.earlier_trails(uow, visit.user_id, visit.id, trail, limits), limits)
             + dwell.judge(visit, trail, around.targets.get(visit.id), limits))
    # A trail that reached its trusted place outweighs how far its first update was from it.
    judged_again = TRAIL_CODES | {"outside_geofence"} if dwell.reached(visit, around.targets.get(visit.id)) else TRAIL_CODES
    others = [r for r in visit.reasons if r.get("code") not in judged_again]
    reasons = others + [r.to_json() for r in found]
    before = visit.verdict
    visit.reasons = reasons
    visit.verdict = checks.verdict_of(reasons, has_location=visit.latitude is not None)
    visit.counts = visit.verdict == "verified" or visit.review_status == "approved"
    return LiveUpdate(visit.id, visit.verdict, before != visit.verdict, reasons)

