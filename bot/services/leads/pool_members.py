"""Who belongs to a pool and who administers it: rows of units (with their subtree) or single
users, taken out by marking them removed, never deleted. The org file sets the whole list
(`sync`); `/pool admin members` adds and takes out one at a time (`add`, `remove`)."""
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from db.models import Pool, PoolMember
from db.session import UnitOfWork


@dataclass(frozen=True)
class Member:
    """A unit or a user (exactly one of the ids), and whether it administers the pool."""

    unit_id: int | None = None
    user_id: int | None = None
    admin: bool = False

    @property
    def key(self) -> tuple[int | None, int | None]:
        return self.unit_id, self.user_id


def members(uow: UnitOfWork, pool_id: int) -> list[PoolMember]:
    """The pool's current member rows, oldest first."""
    return list(uow.session.scalars(
        select(PoolMember).where(PoolMember.pool_id == pool_id, PoolMember.removed_at.is_(None))
        .order_by(PoolMember.id)))


def add(uow: UnitOfWork, pool: Pool, member: Member) -> bool:
    """Make the unit or user a member (an admin if asked); False when it already was exactly that."""
    current = {(row.unit_id, row.user_id): row for row in members(uow, pool.id)}
    row = current.get(member.key)
    if row is None:
        uow.session.add(PoolMember(pool_id=pool.id, unit_id=member.unit_id, user_id=member.user_id,
                                   is_admin=member.admin))
        return True
    if row.is_admin != member.admin:
        row.is_admin = member.admin
        return True
    return False


def remove(uow: UnitOfWork, pool: Pool, unit_id: int | None, user_id: int | None, now: datetime) -> bool:
    """Take the unit or user out of the pool; False when it was not in it."""
    for row in members(uow, pool.id):
        if (row.unit_id, row.user_id) == (unit_id, user_id):
            row.removed_at = now
            return True
    return False


def sync(uow: UnitOfWork, pool: Pool, wanted: list[Member], now: datetime) -> None:
    """Make the pool's members exactly `wanted`: new ones added, changed ones updated, the others
    taken out."""
    keys = {member.key for member in wanted}
    for row in members(uow, pool.id):
        if (row.unit_id, row.user_id) not in keys:
            row.removed_at = now
    for member in wanted:
        add(uow, pool, member)
