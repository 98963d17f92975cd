"""A customer's location set by its owner: `/setloc CUSTOMER`, then the next location he shares (within
SETLOC_LIFETIME) becomes the customer's. bot.services.visits.shared_location hands it the position."""
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Select, select

from bot.services.manager import scope
from bot.services.visits.location_checks import Fix
from bot.services.visits.visit_targets import resolve_target
from bot.services.visits.visits import active_user
from db.models import Customer, CustomerLocationRequest
from db.session import UnitOfWork

SETLOC_LIFETIME = timedelta(minutes=30)


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


def waiting_request_query(user_id, now) -> Select:
    """The owner's newest /setloc still waiting for a position (one row at most)."""
    return select(CustomerLocationRequest).where(
        CustomerLocationRequest.user_id == user_id, CustomerLocationRequest.status == "waiting",
        CustomerLocationRequest.expires_at > now,
    ).order_by(CustomerLocationRequest.created_at.desc(), CustomerLocationRequest.id.desc()).limit(1)


def pending_request(uow: UnitOfWork, user_id: int, now: datetime) -> tuple[SetlocRequested, datetime] | None:
    """The owner's /setloc still waiting, and when he asked (the newer of it and a waiting visit wins)."""
    request = uow.session.scalar(waiting_request_query(user_id, now))
    if request is None:
        return None
    customer = uow.session.get(Customer, request.customer_id)
    assert customer is not None
    return SetlocRequested(customer.id, customer.name, request.expires_at), request.created_at


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


def set_customer_location(uow: UnitOfWork, request: CustomerLocationRequest, fix: Fix, now: datetime
                          ) -> CustomerLocated:
    """The shared position answers a waiting /setloc: it becomes the customer's location."""
    customer = uow.session.get(Customer, request.customer_id)
    assert customer is not None
    customer.latitude, customer.longitude = fix.latitude, fix.longitude
    customer.location_source, customer.location_set_at = "owner", now
    request.status, request.done_at = "done", now
    return CustomerLocated(customer.id, customer.name, fix.latitude, fix.longitude, fix.accuracy_m)
