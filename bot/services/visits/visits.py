"""Visits (拜访): starting one at a customer or lead, ending it, and listing them.

A visit starts waiting for a location (status WAITING); the first position that arrives is judged
and pinned by bot.services.visits.shared_location; `/visit end` closes it. A visit logged with
--no-location stays unverified until a location is attached inside the unit's window.
Check-ins and check-outs (bot.services.visits.attendance) are visits of another kind.
"""
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import case, func, literal_column, select
from sqlalchemy.orm import joinedload

from bot.errors import UserError
from bot.services.core import paging
from bot.services.manager import scope
from bot.services.visits import dwell
from bot.services.visits import location_checks as checks
from bot.services.visits.location_checks import Reason
from bot.services.visits.thresholds import thresholds_for
from bot.services.visits.visit_targets import Target, resolve_target, target_name, target_of
from db.models import OrgUnit, User, Visit
from db.session import UnitOfWork

WAITING = "waiting"  # the core column is String(12): "awaiting_location" does not fit
OPEN_STATUSES = (WAITING, "open")
# SQL literals, not bound parameters, so that PostgreSQL matches the partial indexes
# (db.models.visits) even in a prepared statement's generic plan.
_IS_OPEN = Visit.status.in_([literal_column(f"'{status}'") for status in OPEN_STATUSES])


# ---------------------------------------------------------------- results


@dataclass(frozen=True)
class VisitStarted:
    visit_id: int
    target: Target
    needs_location: bool
    no_location_reason: str | None
    location_deadline: datetime | None  # in the rep's time zone


@dataclass(frozen=True)
class Waiting:
    """The visit or check-in/out still waiting for its location."""

    visit_id: int
    kind: str  # visit | checkin | checkout
    target_name: str | None
    created_at: datetime


@dataclass(frozen=True)
class OnSite:
    """A visit's time at the place, from its live trail (bot.services.visits.dwell), in the viewer's zone."""

    arrived_local: datetime
    left_local: datetime
    minutes: int


@dataclass(frozen=True)
class VisitEnded:
    visit_id: int
    target_name: str
    minutes: int  # on site when its live trail tells, else from /visit to /visit end
    verdict: str
    had_location: bool
    # A no-signal visit still waiting: a location taken during the visit may be sent until then.
    location_until: datetime | None = None
    on_site: OnSite | None = None
    outcome: str | None = None  # one of OUTCOMES
    next_step: str | None = None


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
    on_site: OnSite | None = None


@dataclass(frozen=True)
class VisitList:
    first_day: date
    last_day: date
    whose: str  # "me", a user's name, or a unit's name
    rows: list[VisitRow] = field(default_factory=list)  # one page of them
    total: int = 0  # in the whole period
    verified: int = 0  # of them counted
    page: paging.Page = paging.Page(1, 50, 0, 0, False)


# ---------------------------------------------------------------- the rep and his day


def zone_of(user: User) -> ZoneInfo:
    return ZoneInfo(user.timezone or "UTC")


def on_site(visit: Visit, zone: ZoneInfo) -> OnSite | None:
    """The visit's time at the place as its live trail recorded it; None without one."""
    if visit.arrived_at_place is None or visit.left_place_at is None:
        return None
    minutes = int((visit.left_place_at - visit.arrived_at_place).total_seconds() // 60)
    return OnSite(visit.arrived_at_place.astimezone(zone), visit.left_place_at.astimezone(zone), minutes)


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


# ---------------------------------------------------------------- start and end


def open_visit(uow: UnitOfWork, user_id: int) -> Visit | None:
    return uow.session.scalar(
        select(Visit).where(Visit.user_id == user_id, Visit.kind == "visit", _IS_OPEN)
        .order_by(Visit.started_at.desc()).limit(1)
    )


def waiting_for_location(uow: UnitOfWork, user_id: int) -> Waiting | None:
    """The latest visit or check-in/out of the rep waiting for its location (the one a position lands on)."""
    active_user(uow, user_id)
    visit = uow.session.scalar(
        select(Visit).where(Visit.user_id == user_id, Visit.status == WAITING)
        .order_by(Visit.created_at.desc(), Visit.id.desc()).limit(1)
    )
    if visit is None:
        return None
    name = target_name(target_of(uow, visit)) if visit.kind == "visit" else None
    return Waiting(visit.id, visit.kind, name, visit.created_at)


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


# What came of a visit, as the visit report records it.
OUTCOMES = ("interested", "ordered", "undecided", "not_interested", "not_met")


def end_visit(uow: UnitOfWork, user_id: int, note: str | None, now: datetime, outcome: str | None = None,
              next_step: str | None = None) -> VisitEnded:
    user = active_user(uow, user_id, lock=True)
    visit = open_visit(uow, user_id)
    if visit is None:
        raise UserError("visits/none_open")
    had_location = visit.latitude is not None
    if visit.status == WAITING:
        visit.reasons = [*visit.reasons, Reason("no_location_sent", checks.NOTE).to_json()]
    visit.status = "closed"
    visit.ended_at = now
    visit.end_note = note
    visit.outcome = outcome
    visit.next_step = next_step
    dwell.at_end(uow, visit, user.unit_id)
    site = on_site(visit, zone_of(user))
    minutes = site.minutes if site else max(0, round((now - visit.started_at).total_seconds() / 60))
    waits = (visit.no_location_reason is not None and not had_location and visit.location_deadline is not None
             and visit.location_deadline > now)
    until = visit.location_deadline.astimezone(zone_of(user)) if waits and visit.location_deadline else None
    return VisitEnded(visit.id, target_name(target_of(uow, visit)) or "", minutes, visit.verdict, had_location, until,
                      site, outcome, next_step)


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
                rep_handle: str | None = None, unit_name: str | None = None, limit: int = 50,
                page_no: int | None = None) -> VisitList:
    page_no = paging.number(page_no)
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
        rep = scope.user_or_not_found(
            uow, visible, uow.session.scalar(select(User).where(User.handle == rep_handle.lstrip("@").lower())),
            rep_handle)
        query, whose = query.where(Visit.user_id == rep.id), rep.name
    elif unit_name:
        unit = uow.session.scalar(select(OrgUnit).where(func.lower(OrgUnit.name) == unit_name.lower()))
        unit = scope.unit_or_not_found(uow, visible, unit, unit_name)
        members = select(User.id).join(OrgUnit, User.unit_id == OrgUnit.id).where(OrgUnit.path.startswith(unit.path))
        query = query.where(Visit.user_id.in_(members), scope.users_filter(visible, Visit.user_id))
        whose = unit.name
    else:
        query = query.where(Visit.user_id == viewer_id)
    counted = query.with_only_columns(func.count(), func.coalesce(func.sum(case((Visit.counts, 1), else_=0)), 0))
    total, verified = uow.session.execute(counted.order_by(None)).one()
    rows = []
    for visit, user_name in uow.session.execute(query.order_by(Visit.started_at.desc(), Visit.id.desc())
                                                .offset(paging.offset(page_no, limit)).limit(limit)):
        site = on_site(visit, zone)
        minutes = round((visit.ended_at - visit.started_at).total_seconds() / 60) if visit.ended_at else None
        rows.append(VisitRow(
            visit.id, visit.kind, user_name, target_name(target_of(uow, visit)),
            (visit.taken_at or visit.started_at).astimezone(zone), site.minutes if site else minutes, visit.verdict,
            visit.review_status, visit.counts, visit.distance_m, visit.reasons, visit.status, site,
        ))
    return VisitList(first, last, whose, rows, total, verified, paging.of_total(page_no, len(rows), total, limit))
