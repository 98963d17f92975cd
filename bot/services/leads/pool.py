"""The public pool (公海): which pools a user sees and who administers one, and the pool's page of
unassigned leads. Claiming, releasing and assigning are in claims.py; when an owned lead goes back
to its pool is returns.py; who belongs to a pool and the cap are ownership.py.
"""
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from sqlalchemy import (
    ColumnElement,
    Select,
    String,
    and_,
    bindparam,
    exists,
    func,
    null,
    or_,
    select,
    true,
    union_all,
)

from bot.errors import UserError
from bot.services.core import org
from bot.services.leads import dedupe, ownership
from bot.services.leads.ownership import run
from db.models import Lead, LeadStatus, OrgUnit, Pool, PoolMember, User
from db.models.org import Role
from db.session import UnitOfWork

PAGE_SIZE = 10
MAX_PAYLOAD_BYTES = 64


# --- who sees and who administers a pool --------------------------------------------------------

def can_manage_pool(uow: UnitOfWork, user_id: int, pool_id: int | None) -> bool:
    """Admins, the pool's admins and managers belonging to the pool may assign and void from it."""
    user = uow.session.get(User, user_id)
    if user is None:
        return False
    if user.role == Role.ADMIN:
        return True
    if pool_id is None:
        return False
    if is_pool_admin(uow, user, pool_id):
        return True
    return user.role == Role.MANAGER and any(p.id == pool_id for p in ownership.pools_of(uow, user_id))


def is_pool_admin(uow: UnitOfWork, user: User, pool_id: int | None) -> bool:
    """Named a pool admin, himself or through his unit or an ancestor unit."""
    unit = uow.session.get(OrgUnit, user.unit_id)
    ancestors = org.ancestor_unit_ids(unit.path) if unit else []
    return uow.session.scalar(
        select(PoolMember.id).where(
            PoolMember.pool_id == pool_id, PoolMember.is_admin.is_(True), PoolMember.removed_at.is_(None),
            or_(PoolMember.user_id == user.id, PoolMember.unit_id.in_(ancestors)),
        ).limit(1)
    ) is not None


def sees_pool(user_id: ownership.UserId, member_ids: Select | None = None) -> ColumnElement[bool]:
    """Whether the user sees the leads of the statement's pools row: he belongs to the pool; an admin
    sees every active pool. `member_ids`: his pool ids (ownership.member_pool_ids) when the statement
    already has them, e.g. as a CTE."""
    is_admin = exists().where(User.id == user_id, User.role == ownership.constant(Role.ADMIN.value))
    pool_ids = ownership.member_pool_ids(user_id) if member_ids is None else member_ids
    return and_(Pool.active.is_(True), or_(is_admin, Pool.id.in_(pool_ids)))


def visible_pool_query(user_id: ownership.UserId) -> Select:
    """Pools whose leads the user sees (sees_pool)."""
    return select(Pool).where(sees_pool(user_id))


_VISIBLE_POOLS = visible_pool_query(ownership.USER_ID).order_by(Pool.id)
VISIBLE_POOL_NAMES = _VISIBLE_POOLS.with_only_columns(Pool.id, Pool.name)


def visible_pools(uow: UnitOfWork, user_id: int) -> list[Pool]:
    return list(uow.session.scalars(_VISIBLE_POOLS, {"user_id": user_id}))


def visible_pool_names(uow: UnitOfWork, user_id: int) -> dict[int, str]:
    """{pool id: name} of the pools whose leads he sees, in pool id order: ids and names only, no ORM rows."""
    return {pool_id: name for pool_id, name in run(uow, VISIBLE_POOL_NAMES, {"user_id": user_id})}


def find_pool(uow: UnitOfWork, pools: list[Pool], name: str) -> Pool:
    wanted = unicodedata.normalize("NFKC", name).strip().casefold()
    for pool in pools:
        if pool.name.casefold() == wanted or str(pool.id) == wanted.lstrip("#"):
            return pool
    raise UserError("leads/unknown_pool", name=name[:60], choices=", ".join(p.name for p in pools) or "-")


# --- listing ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class PoolItem:
    id: int
    company: str
    contact: str | None
    region: str | None
    source: str | None
    industry: str | None
    pool: str


@dataclass(frozen=True)
class PoolPage:
    items: list[PoolItem]
    page: int
    has_next: bool
    pools: list[str]
    filters: str  # the filter part of the command line, for paging buttons

    def payload(self, page: int) -> str | None:
        """A paging button's command line, or None when it would not fit a button."""
        line = f"pool {page} {self.filters}".strip()
        if len(line.encode()) <= MAX_PAYLOAD_BYTES:
            return line
        return None


def page(uow: UnitOfWork, user_id: int, text: str | None, region: str | None = None, source: str | None = None,
         industry: str | None = None, page_no: int | None = None) -> PoolPage:
    """Unassigned leads of the caller's pools, newest first. A leading number in the text is the page."""
    words = (text or "").split()
    if page_no is None and words and words[0].isdigit():
        page_no = int(words.pop(0))
    page_no = max(1, min(page_no or 1, 100_000))
    needle = " ".join(words)[:100]
    filters_on = {name: value.strip().lower() for name, value in (("region", region), ("source", source),
                                                                 ("industry", industry)) if value}
    params: dict[str, object] = {"user_id": user_id, **filters_on}
    key = dedupe.normalise_company(needle) if needle else ""
    if needle:
        params["like"] = f"%{needle}%"
    if key:
        params["key_like"] = "%" + _escape_like(key) + "%"
    shape = (frozenset(filters_on), bool(needle), bool(key), (page_no - 1) * PAGE_SIZE)
    if uow.dialect == "postgresql":
        pool_names, rows = _pools_and_page(uow, shape, params)
    else:
        pool_names = visible_pool_names(uow, user_id)
        rows = run(uow, _page_query(*shape), {**params, "pool_ids": list(pool_names)}).all() if pool_names else []
    items = [PoolItem(r.id, r.company, r.contact_name, r.region, r.source, r.industry, pool_names[r.pool_id])
             for r in rows[:PAGE_SIZE]]
    # The search words come before the flags: a text flag takes everything up to the next flag.
    filters = " ".join(
        ([needle] if needle else [])
        + [f"--{name} {_quoted(value)}" for name, value in (("region", region), ("source", source),
                                                            ("industry", industry)) if value]
    )
    return PoolPage(items, page_no, len(rows) > PAGE_SIZE, list(pool_names.values()), filters)


def _pools_and_page(uow: UnitOfWork, shape: tuple, params: dict) -> tuple[dict[int, str], list]:
    """PostgreSQL: the caller's pools and the page in one round trip (see _one_trip_query)."""
    pool_names: dict[int, str] = {}
    rows = []
    for row in run(uow, _one_trip_query(*shape), params):
        if row.id is None:
            pool_names[row.pool_id] = row.pool_name
        else:
            rows.append(row)
    return dict(sorted(pool_names.items())), rows


@lru_cache(maxsize=256)
def _one_trip_query(filters: frozenset[str], needle: bool, key: bool, offset: int) -> Select:
    """One row per visible pool (lead columns NULL), then the page: per pool its newest
    offset + PAGE_SIZE + 1 matching leads (an index range each, LATERAL), merged newest first."""
    mine = VISIBLE_POOL_NAMES.cte("mine")
    per_pool = _filtered(
        select(Lead.id, Lead.company, Lead.contact_name, Lead.region, Lead.source, Lead.industry, Lead.created_at)
        .where(Lead.pool_id == mine.c.id, Lead.status == ownership.constant(LeadStatus.UNASSIGNED.value))
        .order_by(Lead.created_at.desc(), Lead.id.desc())
        .limit(ownership.constant(offset + PAGE_SIZE + 1)),
        filters, needle, key,
    ).lateral("newest")
    page_rows = (
        select(mine.c.id.label("pool_id"), mine.c.name.label("pool_name"), per_pool.c.id, per_pool.c.company,
               per_pool.c.contact_name, per_pool.c.region, per_pool.c.source, per_pool.c.industry)
        .select_from(mine.join(per_pool, true()))
        .order_by(per_pool.c.created_at.desc(), per_pool.c.id.desc())
        .offset(ownership.constant(offset)).limit(ownership.constant(PAGE_SIZE + 1))
        .subquery("page_rows")
    )
    no_lead = [null().label(name) for name in ("id", "company", "contact_name", "region", "source", "industry")]
    pools = select(mine.c.id.label("pool_id"), mine.c.name.label("pool_name"), *no_lead)
    return union_all(pools, select(*page_rows.c)).subquery("result").select()


@lru_cache(maxsize=256)
def _page_query(filters: frozenset[str], needle: bool, key: bool, offset: int) -> Select:
    """The page statement for one combination of filters, built once (see ownership's docstring)."""
    query = (
        select(Lead.id, Lead.company, Lead.contact_name, Lead.region, Lead.source, Lead.industry, Lead.pool_id)
        .where(Lead.pool_id.in_(bindparam("pool_ids", expanding=True)),
               Lead.status == ownership.constant(LeadStatus.UNASSIGNED.value))
        .order_by(Lead.created_at.desc(), Lead.id.desc())
        # Written into the text (one statement per page number): as parameters PostgreSQL would never
        # settle on a generic plan and would plan the page afresh every time.
        .offset(ownership.constant(offset))
        .limit(ownership.constant(PAGE_SIZE + 1))
    )
    return _filtered(query, filters, needle, key)


def _filtered(query: Select, filters: frozenset[str], needle: bool, key: bool) -> Select:
    for column in (Lead.region, Lead.source, Lead.industry):
        if column.key in filters:
            query = query.where(func.lower(column) == bindparam(column.key, type_=String))
    if needle:
        like = bindparam("like", type_=String)
        matches = [Lead.company.ilike(like), Lead.contact_name.ilike(like)]
        if key:
            matches.append(Lead.name_key.like(bindparam("key_like", type_=String), escape="/"))
        query = query.where(or_(*matches))
    return query


def _escape_like(text: str) -> str:
    return text.replace("/", "//").replace("%", "/%").replace("_", "/_")


def _quoted(value: str) -> str:
    return f'"{value}"' if " " in value else value
