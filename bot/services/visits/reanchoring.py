"""Re-anchoring a trusted place (bot.services.visits.places): the offers a manager sees in his review
queue, and `/customer ID reanchor`, which applies one for a manager whose scope reaches the customer."""
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from bot.errors import UserError
from bot.services.manager import scope
from bot.services.visits import places, visits
from bot.services.visits.places import ReanchorOffer
from bot.services.visits.thresholds import thresholds_for
from db.models import Customer, Role, Visit
from db.session import UnitOfWork


@dataclass(frozen=True)
class Reanchored:
    offer: ReanchorOffer  # the new place and the visits it came from
    counted: int  # of those visits, how many count now


def offers_for_visits(uow: UnitOfWork, manager_id: int, visit_ids: list[int]) -> list[ReanchorOffer]:
    """The re-anchorings to offer for the customers of these visits (those flagged as too far away).
    A lead's place is not re-anchored: it moves to its customer on conversion."""
    manager = visits.active_user(uow, manager_id)
    fence = thresholds_for(uow, manager.unit_id).geofence_m
    offers, seen = [], set()
    for visit in uow.session.scalars(select(Visit).where(Visit.id.in_(visit_ids)).order_by(Visit.id)):
        if not any(r.get("code") == "outside_geofence" for r in visit.reasons):
            continue
        if visit.customer_id is None or visit.customer_id in seen:
            continue
        seen.add(visit.customer_id)
        record = uow.session.get(Customer, visit.customer_id)
        offer = places.offer_for(uow, record, fence) if record is not None else None
        if offer is not None:
            offers.append(offer)
    return offers


def reanchor_customer(uow: UnitOfWork, manager_id: int, customer_id: int, now: datetime) -> Reanchored:
    """Move the customer's trusted place to where its last verified visits agree. Out of the
    manager's scope reads as not found; a rep is refused; no evidence, nothing is written."""
    user = visits.active_user(uow, manager_id)
    customer = uow.session.get(Customer, customer_id)
    if customer is None or customer.status != "active":
        raise scope.not_found("customer", customer_id)
    scope.require(uow, scope.of(uow, manager_id, now.date()), "customer", customer.id, customer.owner_id, write=True)
    if user.role not in (Role.MANAGER, Role.ADMIN):
        raise UserError("visits/reanchor_managers_only")
    done = places.reanchor(uow, customer, thresholds_for(uow, user.unit_id).geofence_m, now)
    if done is None:
        raise UserError("visits/reanchor_nothing", name=customer.name)
    uow.session.flush()
    return Reanchored(*done)
