"""Data scopes: which records a user may see and change. The one place every command asks.

A user's role carries a data scope (self; self and subordinates; own unit; unit and subtree; all).
Besides his scope, a user reaches records where he is a team member (相关团队成员), read or write.
Scopes are computed from the org tree at query time, so moving a unit or a user changes what
everyone sees at once, with no migration.

Use it like this in a service:
    visible = scope.of(uow, user_id)
    query = select(Lead).where(scope.owned_filter(visible, Lead.owner_id, "lead", Lead.id))
    scope.require(uow, visible, "lead", lead.id, lead.owner_id, write=True)   # raises UserError

The one rule for what lies outside: it reads exactly like "not found". `not_found(kind, ref)` is the
one answer for a missing record, person or unit AND for one outside the caller's reach (same
template, same parameters), so nothing tells the two apart: no name, status, holder or existence.
A record the caller may read but not change gets `read_only`, which names nobody.
"""
from dataclasses import dataclass
from datetime import date

from sqlalchemy import ColumnElement, Select, and_, or_, select, true

from bot.errors import UserError
from bot.services.core import org
from db.models import OrgUnit, RecordMember, User
from db.models.org import DataScope
from db.session import UnitOfWork


@dataclass(frozen=True)
class Scope:
    user_id: int
    kind: str  # a DataScope value
    unit_id: int
    unit_path: str
    today: date | None = None

    @property
    def sees_all(self) -> bool:
        return self.kind == DataScope.ALL


def of(uow: UnitOfWork, user_id: int, today: date | None = None) -> Scope:
    user = uow.session.get(User, user_id)
    if user is None or not user.active:
        raise UserError("not_linked")
    unit = uow.session.get(OrgUnit, user.unit_id)
    assert unit is not None
    return Scope(user_id, user.data_scope, unit.id, unit.path, today)


def visible_user_ids(scope: Scope) -> Select | None:
    """A SELECT of the user ids whose records the scope covers; None means everyone."""
    if scope.kind == DataScope.ALL:
        return None
    if scope.kind == DataScope.SELF:
        return select(User.id).where(User.id == scope.user_id)
    if scope.kind == DataScope.UNIT:
        return select(User.id).where(User.unit_id == scope.unit_id)
    if scope.kind == DataScope.SUBTREE:
        return org.subtree_user_ids(scope.unit_path)
    if scope.kind == DataScope.SUBORDINATES:
        chain = select(User.id).where(User.id == scope.user_id).cte("reports", recursive=True)
        chain = chain.union_all(select(User.id).where(User.manager_id == chain.c.id))
        return select(chain.c.id)
    raise ValueError(f"unknown data scope {scope.kind}")


def member_record_ids(scope: Scope, record_type: str, write: bool = False) -> Select:
    """Records where the user is a team member (still valid today)."""
    query = select(RecordMember.record_id).where(
        RecordMember.user_id == scope.user_id, RecordMember.record_type == record_type
    )
    if write:
        query = query.where(RecordMember.access == "write")
    if scope.today is not None:
        query = query.where(or_(RecordMember.until.is_(None), RecordMember.until >= scope.today))
    return query


def owned_filter(scope: Scope, owner_column, record_type: str | None = None, id_column=None,
                 write: bool = False) -> ColumnElement[bool]:
    """WHERE clause: the record's owner is in scope, or the user is a team member on it."""
    users = visible_user_ids(scope)
    by_owner = true() if users is None else owner_column.in_(users)
    if record_type is None or id_column is None or users is None:
        return by_owner
    return or_(by_owner, id_column.in_(member_record_ids(scope, record_type, write)))


def users_filter(scope: Scope, user_column) -> ColumnElement[bool]:
    """WHERE clause for rows that belong to a user (visits, targets): the user is in scope."""
    users = visible_user_ids(scope)
    return true() if users is None else user_column.in_(users)


def covers_user(uow: UnitOfWork, scope: Scope, user_id: int) -> bool:
    users = visible_user_ids(scope)
    if users is None:
        return True
    return uow.session.scalar(select(User.id).where(and_(User.id == user_id, User.id.in_(users)))) is not None


def covers_unit(uow: UnitOfWork, scope: Scope, unit_id: int) -> bool:
    """A manager acts on a unit only inside his own subtree (admins everywhere)."""
    if scope.sees_all:
        return True
    if scope.kind not in (DataScope.SUBTREE, DataScope.UNIT):
        return False
    unit = uow.session.get(OrgUnit, unit_id)
    if unit is None:
        return False
    return unit.id == scope.unit_id if scope.kind == DataScope.UNIT else unit.path.startswith(scope.unit_path)


def can_access(uow: UnitOfWork, scope: Scope, record_type: str, record_id: int, owner_id: int | None,
               write: bool = False) -> bool:
    if owner_id is not None and covers_user(uow, scope, owner_id):
        return True
    member = uow.session.scalar(member_record_ids(scope, record_type, write).where(RecordMember.record_id == record_id))
    return member is not None


# The "not found" answer of each kind: (template, parameter). Missing and out of reach alike.
NOT_FOUND: dict[str, tuple[str, str]] = {
    "lead": ("leads/unknown", "lead_id"),
    "customer": ("leads/customer_unknown", "customer_id"),
    "deal": ("deals/unknown", "deal_id"),
    "visit": ("review/not_found", "visit_id"),
    "user": ("manager/unknown_user", "handle"),
    "unit": ("manager/unknown_unit", "name"),
    "who": ("leads/unknown_who", "who"),  # a person or a unit, typed
}


def not_found(kind: str, ref: int | str) -> UserError:
    """The one answer for a record, person or unit that does not exist or is outside the caller's reach."""
    template, param = NOT_FOUND[kind]
    value: int | str = ref if isinstance(ref, int) else ref.strip().lstrip("@")[:64]
    return UserError(template, **{param: value})


def require(uow: UnitOfWork, scope: Scope, record_type: str, record_id: int, owner_id: int | None,
            write: bool = False) -> None:
    """Out of reach reads as not found; readable but not writable is `read_only`, naming nobody."""
    if not can_access(uow, scope, record_type, record_id, owner_id):
        raise not_found(record_type, record_id)
    if write and not can_access(uow, scope, record_type, record_id, owner_id, write=True):
        raise UserError("read_only", record_type=record_type, record_id=record_id)


visible_or_not_found = require


def user_or_not_found(uow: UnitOfWork, scope: Scope, user: User | None, ref: str, kind: str = "user") -> User:
    """The person if he exists and the scope covers him; else the not-found answer for what was typed."""
    if user is None or not covers_user(uow, scope, user.id):
        raise not_found(kind, ref)
    return user


def unit_or_not_found(uow: UnitOfWork, scope: Scope, unit: OrgUnit | None, ref: str, kind: str = "unit") -> OrgUnit:
    """The unit if it exists and the scope covers it; else the not-found answer for what was typed."""
    if unit is None or not covers_unit(uow, scope, unit.id):
        raise not_found(kind, ref)
    return unit



