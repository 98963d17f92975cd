"""Pool membership and how many open leads a rep holds against his cap. THE place for both rules:
claiming, assigning, creating, listing the pool and handover all go through here.

Membership: a user belongs to a pool directly (a pool_members row with his user id) or through his
unit or any ancestor unit (a row with that unit id; a unit's path lists its ancestors).
Won customers do not count against the cap: only leads in pending, following or invalid do.

Each rule is a SELECT builder (`member_pool_ids`, `cap_query`, `open_leads_query`) so a hot path can
embed it in its own statement without an extra round trip, and a plain function that runs it.
Hot statements are built once at import with bind parameters (USER_ID): SQLAlchemy then reuses its
compiled form and cache key (building and keying a fresh statement costs more than running it), and
the text is fixed, so psycopg prepares it and PostgreSQL plans it once per connection.
"""
from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Integer,
    ScalarSelect,
    Select,
    bindparam,
    func,
    literal_column,
    or_,
    select,
)

from db.models import Lead, OrgUnit, Pool, PoolMember, User
from db.models.lead import OPEN_LEAD_STATUSES
from db.session import UnitOfWork

DEFAULT_CAP = 50
USER_ID = bindparam("user_id", type_=Integer)
UserId = int | BindParameter[int]


def constant(value: str | int) -> ColumnElement:
    """A constant written into the statement's text when it is compiled (once) rather than sent as a
    parameter: PostgreSQL then plans with it, and the prepared statement settles on a generic plan."""
    if isinstance(value, str):
        if "'" in value:
            raise ValueError("constants are plain words")
        return literal_column(f"'{value}'")
    return literal_column(str(int(value)))


def run(uow: UnitOfWork, statement, params: dict):
    """Execute a prebuilt Core statement on the unit of work's connection, skipping the ORM's
    per-statement machinery (a third of a hot path's Python time). Pending ORM changes are flushed
    first, as the session's own execute would."""
    session = uow.session
    if session.new or session.dirty or session.deleted:
        session.flush()
    return session.connection().execute(statement, params)


def member_pool_ids(user_id: UserId) -> Select:
    """SELECT of the ids of the active pools the user belongs to (directly, his unit or an ancestor unit)."""
    my_path = (select(OrgUnit.path).join(User, User.unit_id == OrgUnit.id).where(User.id == user_id)
               .scalar_subquery())
    my_units = select(OrgUnit.id).where(my_path.startswith(OrgUnit.path))  # his unit and its ancestors
    return (
        select(PoolMember.pool_id).join(Pool, Pool.id == PoolMember.pool_id)
        .where(Pool.active.is_(True), PoolMember.removed_at.is_(None),
               or_(PoolMember.user_id == user_id, PoolMember.unit_id.in_(my_units)))
    )


def open_leads_query(user_id: UserId) -> ScalarSelect:
    open_statuses = [constant(status.value) for status in OPEN_LEAD_STATUSES]
    return (select(func.count()).select_from(Lead)
            .where(Lead.owner_id == user_id, Lead.status.in_(open_statuses)).scalar_subquery())


def cap_query(user_id: UserId, member_ids: Select | None = None) -> ColumnElement[int]:
    """The strictest ownership cap among his pools; the default when he is in none. `member_ids`: his
    pool ids (member_pool_ids) when the statement already has them, e.g. as a CTE."""
    pool_ids = member_pool_ids(user_id) if member_ids is None else member_ids
    strictest = select(func.min(Pool.max_open_leads)).where(Pool.id.in_(pool_ids)).scalar_subquery()
    return func.coalesce(strictest, constant(DEFAULT_CAP))


_POOLS_OF = select(Pool).where(Pool.id.in_(member_pool_ids(USER_ID))).order_by(Pool.id)
_OPEN_LEADS = select(open_leads_query(USER_ID))
_CAP = select(cap_query(USER_ID))
_ROOM = select(cap_query(USER_ID) - open_leads_query(USER_ID))


def open_leads(uow: UnitOfWork, user_id: int) -> int:
    return uow.session.scalar(_OPEN_LEADS, {"user_id": user_id}) or 0


def pools_of(uow: UnitOfWork, user_id: int) -> list[Pool]:
    """Pools the user belongs to, directly or through his unit or an ancestor unit."""
    return list(uow.session.scalars(_POOLS_OF, {"user_id": user_id}))


def cap(uow: UnitOfWork, user_id: int) -> int:
    """The strictest ownership cap among his pools; the default when he is in none."""
    return int(uow.session.scalar(_CAP, {"user_id": user_id}))


def room(uow: UnitOfWork, user_id: int) -> int:
    """How many more open leads he may take."""
    return max(0, int(uow.session.scalar(_ROOM, {"user_id": user_id})))
