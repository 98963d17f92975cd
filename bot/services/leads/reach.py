"""Who may read a lead: the one rule /lead, /audit lead, the duplicate check and every lead command ask.

A lead is within reach when it waits in one of the caller's pools, when it is an ownerless lead of a
pool he manages (or he sees everything), or when its owner is in his data scope or he is a team
member on it. Out of reach reads exactly like a missing lead (`scope.not_found`).
"""
from datetime import date

from bot.services.leads.dedupe import Duplicates, Match, split
from bot.services.leads.pool import can_manage_pool, visible_pools
from bot.services.manager import scope
from db.models import Lead, LeadStatus, User
from db.session import UnitOfWork


def reach(uow: UnitOfWork, user_id: int, lead_id: int, status: str, owner_id: int | None, pool_id: int | None,
          today: date | None) -> str | None:
    """"pool" when it waits in one of his pools; "read" when he may otherwise read it; None: out of reach."""
    if status == LeadStatus.UNASSIGNED and any(p.id == pool_id for p in visible_pools(uow, user_id)):
        return "pool"
    visible = scope.of(uow, user_id, today)
    if owner_id is None and (visible.sees_all or can_manage_pool(uow, user_id, pool_id)):
        return "read"
    return "read" if scope.can_access(uow, visible, "lead", lead_id, owner_id) else None


def may_read_lead(uow: UnitOfWork, user_id: int, lead: Lead, today: date | None) -> bool:
    return reach(uow, user_id, lead.id, lead.status, lead.owner_id, lead.pool_id, today) is not None


def require_readable(uow: UnitOfWork, user_id: int, lead: Lead | None, lead_id: int, today: date | None) -> Lead:
    """The lead if it exists and is within reach; otherwise the one not-found answer."""
    if lead is None or not may_read_lead(uow, user_id, lead, today):
        raise scope.not_found("lead", lead_id)
    return lead


def duplicates_for(uow: UnitOfWork, user_id: int, matches: list[Match], today: date | None) -> Duplicates:
    """The duplicate check as the caller may hear it: records within his reach in full, the others only
    counted, with his manager named as the one to ask."""
    visible = scope.of(uow, user_id, today)

    def within(match: Match) -> bool:
        if match.kind == "lead":
            return reach(uow, user_id, match.id, match.status, match.owner_id, match.pool_id, today) is not None
        return scope.can_access(uow, visible, match.kind, match.id, match.owner_id)

    user = uow.session.get(User, user_id)
    manager = uow.session.get(User, user.manager_id) if user is not None and user.manager_id else None
    return split(matches, within, manager.name if manager is not None else None)
