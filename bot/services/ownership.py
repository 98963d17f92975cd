"""How many open leads a rep holds against his cap. Shared by claiming, assigning and handover.

Won customers do not count against the cap: only leads in pending, following or invalid do.
"""
from sqlalchemy import func, or_, select

from db.models import Lead, OrgUnit, Pool, PoolMember, User
from db.models.crm import OPEN_LEAD_STATUSES
from db.session import UnitOfWork

DEFAULT_CAP = 50


def open_leads(uow: UnitOfWork, user_id: int) -> int:
    return uow.session.scalar(
        select(func.count()).select_from(Lead).where(Lead.owner_id == user_id, Lead.status.in_(OPEN_LEAD_STATUSES))
    ) or 0


def pools_of(uow: UnitOfWork, user_id: int) -> list[Pool]:
    """Pools the user belongs to, directly or through his unit or an ancestor unit."""
    user = uow.session.get(User, user_id)
    assert user is not None
    unit = uow.session.get(OrgUnit, user.unit_id)
    assert unit is not None
    ancestor_ids = [int(part) for part in unit.path.strip("/").split("/") if part]
    member = select(PoolMember.pool_id).where(
        or_(PoolMember.user_id == user_id, PoolMember.unit_id.in_(ancestor_ids))
    )
    return list(uow.session.scalars(select(Pool).where(Pool.id.in_(member), Pool.active.is_(True)).order_by(Pool.id)))


def cap(uow: UnitOfWork, user_id: int) -> int:
    """The strictest ownership cap among his pools; the default when he is in none."""
    caps = [pool.max_open_leads for pool in pools_of(uow, user_id)]
    return min(caps) if caps else DEFAULT_CAP


def room(uow: UnitOfWork, user_id: int) -> int:
    """How many more open leads he may take."""
    return max(0, cap(uow, user_id) - open_leads(uow, user_id))
