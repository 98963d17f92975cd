"""A customer's location set by its owner or a manager: `/setloc CUSTOMER`, then the next location he
shares (within SETLOC_LIFETIME) becomes the customer's. `/nearby` without a recent fix waits for the
next position the same way (ask_position, a request with no customer).
bot.services.visits.shared_location hands it the position. The position is judged like a visit's
(but for the geofence): one that passes makes the place trusted (source `owner` or `manager`); a
flagged one gives a tentative place, and never replaces a trusted one (bot.services.visits.places)."""
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Select, select

from bot.services.manager import scope
from bot.services.visits import location_checks as checks
from bot.services.visits import places
from bot.services.visits import spoof_checks as spoof
from bot.services.visits.location_checks import Fix, PreviousFix, Thresholds
from bot.services.visits.spoof_checks import EarlierFix
from bot.services.visits.visit_targets import resolve_target
from bot.services.visits.visits import active_user
from db.models import Customer, CustomerLocationRequest, Role, User
from db.session import UnitOfWork

SETLOC_LIFETIME = timedelta(minutes=30)


@dataclass(frozen=True)
class CustomerLocated:
    customer_id: int
    name: str
    latitude: float
    longitude: float
    accuracy_m: float | None
    trust: str = places.TRUSTED  # what the customer's place is now
    saved: bool = True  # False: a flagged position left a trusted place as it was
    reasons: list[dict] = field(default_factory=list)  # why the position was not trusted
    counted: int = 0  # visits that waited for the place and count now


@dataclass(frozen=True)
class SetlocRequested:
    customer_id: int
    name: str
    expires_at: datetime
    request_id: int  # the request the next position answers (a check-in page's link names it)


def waiting_request_query(user_id, now) -> Select:
    """The owner's newest /setloc still waiting for a position (one row at most)."""
    return select(CustomerLocationRequest).where(
        CustomerLocationRequest.user_id == user_id, CustomerLocationRequest.status == "waiting",
        CustomerLocationRequest.expires_at > now,
    ).order_by(CustomerLocationRequest.created_at.desc(), CustomerLocationRequest.id.desc()).limit(1)


@dataclass(frozen=True)
class NearbyAsked:
    """`/nearby` with no recent fix: the next position he shares answers it (bot.services.visits.nearby)."""

    radius_m: int
    expires_at: datetime
    request_id: int  # the request the next position answers (a check-in page's link names it)


def pending_request(uow: UnitOfWork, user_id: int, now: datetime
                    ) -> tuple[SetlocRequested | NearbyAsked, datetime] | None:
    """The owner's /setloc or /nearby still waiting, and when he asked (the newer of it and a waiting
    visit wins)."""
    request = uow.session.scalar(waiting_request_query(user_id, now))
    if request is None:
        return None
    if request.customer_id is None:
        assert request.radius_m is not None
        return NearbyAsked(request.radius_m, request.expires_at, request.id), request.created_at
    customer = uow.session.get(Customer, request.customer_id)
    assert customer is not None
    return SetlocRequested(customer.id, customer.name, request.expires_at, request.id), request.created_at


def request_customer_location(uow: UnitOfWork, user_id: int, customer_text: str, now: datetime) -> SetlocRequested:
    """`/setloc CUSTOMER`: the next location the owner shares becomes the customer's location."""
    active_user(uow, user_id, lock=True)
    visible = scope.of(uow, user_id, now.date())
    target = resolve_target(uow, visible, customer_text, customers_only=True)
    customer = uow.session.get(Customer, target.id)
    assert customer is not None
    scope.require(uow, visible, "customer", customer.id, customer.owner_id, write=True)
    request = ask_position(uow, user_id, now, SETLOC_LIFETIME, customer_id=customer.id)
    return SetlocRequested(customer.id, customer.name, request.expires_at, request.id)


def ask_position(uow: UnitOfWork, user_id: int, now: datetime, lifetime: timedelta, customer_id: int | None = None,
                 radius_m: int | None = None) -> CustomerLocationRequest:
    """The next position the user shares answers this request (a /setloc, or a /nearby with no
    customer), not any he asked for before."""
    for old in uow.session.scalars(select(CustomerLocationRequest).where(
            CustomerLocationRequest.user_id == user_id, CustomerLocationRequest.status == "waiting")):
        old.status = "replaced"
    request = CustomerLocationRequest(user_id=user_id, customer_id=customer_id, radius_m=radius_m, status="waiting",
                                      created_at=now, expires_at=now + lifetime)
    uow.session.add(request)
    uow.session.flush()
    return request


def set_customer_location(uow: UnitOfWork, request: CustomerLocationRequest, fix: Fix, now: datetime,
                          user: User, limits: Thresholds, previous: PreviousFix | None,
                          earlier: Sequence[EarlierFix]) -> CustomerLocated:
    """The shared position answers a waiting /setloc: it becomes the customer's place, trusted when
    it passed the checks and comes from the owner or a manager."""
    customer = uow.session.get(Customer, request.customer_id)
    assert customer is not None
    reasons = (checks.check_source(fix) + checks.check_accuracy(fix, limits)
               + checks.check_travel(fix, previous, limits) + spoof.fix_reasons(fix, earlier, limits))
    flagged = [r.to_json() for r in reasons if r.severity == checks.FLAG]
    owner = customer.owner_id == user.id
    manager = user.role in (Role.MANAGER, Role.ADMIN)
    trust = places.TRUSTED if not flagged and (owner or manager) else places.TENTATIVE
    request.status, request.done_at = "done", now
    if trust == places.TENTATIVE and customer.location_trust == places.TRUSTED:
        assert customer.latitude is not None and customer.longitude is not None
        return CustomerLocated(customer.id, customer.name, customer.latitude, customer.longitude, fix.accuracy_m,
                               places.TRUSTED, False, flagged)
    source = "owner" if owner else ("manager" if manager else "member")
    counted = 0
    if trust == places.TRUSTED:
        counted, _ = places.trust_place(uow, customer, fix.latitude, fix.longitude, source, limits.geofence_m,
                                        user.id, now)
    else:
        places.set_place(customer, fix.latitude, fix.longitude, source, trust, now)
    return CustomerLocated(customer.id, customer.name, fix.latitude, fix.longitude, fix.accuracy_m, trust, True,
                           flagged, counted)
