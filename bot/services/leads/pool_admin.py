"""Pools set up from chat (`/pool admin`): the pools one administers with their rules and members,
creating a pool, changing its rules and its members. Rules are typed as the org file writes them and
checked by the same model (PoolRules); a change is all or nothing.

Who may: company admins everything; a pool's admins (pool.is_pool_admin) its rules and members;
for anyone else the pool does not exist (the answer reads exactly like an unknown pool).
"""
import unicodedata
from dataclasses import dataclass
from datetime import datetime

from pydantic import ValidationError
from sqlalchemy import func, select

from bot.errors import UserError
from bot.services.core import org
from bot.services.core.validation import SettingsError, settings_error
from bot.services.leads import pool as pool_service
from bot.services.leads import pool_members
from bot.services.leads.pool_rules import LEVEL_RULES, POOL_RULES, PoolRules, apply, rules_of
from db.models import OrgUnit, Pool, User
from db.models.org import Role
from db.session import UnitOfWork

Value = int | bool | None
MAX_NAME = 200


@dataclass(frozen=True)
class Rule:
    key: str  # as typed: daily_claim_limit, A.return_no_followup_days
    value: Value  # None: off


@dataclass(frozen=True)
class MemberView:
    name: str  # the unit's name, or the user's handle
    is_user: bool
    admin: bool


@dataclass(frozen=True)
class PoolView:
    id: int
    name: str
    active: bool
    rules: list[Rule]
    members: list[MemberView]


@dataclass(frozen=True)
class Change:
    key: str
    old: Value
    new: Value
    old_set: bool = True  # False: a level's rule it did not set (follows the pool's)
    new_set: bool = True


@dataclass(frozen=True)
class RulesChanged:
    pool: str
    changes: list[Change]


@dataclass(frozen=True)
class MembersChanged:
    pool: str
    member: MemberView
    added: bool  # else taken out
    changed: bool  # False: it already was so
    members: list[MemberView]


# --- reading -----------------------------------------------------------------------------------

def administered(uow: UnitOfWork, user_id: int) -> list[PoolView]:
    """The pools he administers (a company admin: every pool), with their rules and members."""
    return [view(uow, pool) for pool in _administered_pools(uow, _user(uow, user_id))]


def view(uow: UnitOfWork, pool: Pool) -> PoolView:
    return PoolView(pool.id, pool.name, pool.active, rule_lines(rules_of(pool)), _members(uow, pool))


def rule_lines(rules: PoolRules) -> list[Rule]:
    """Every pool rule, then each level's own, keyed as typed."""
    lines = [Rule(key, getattr(rules, key)) for key in POOL_RULES]
    for level, level_rules in sorted(rules.levels.items()):
        lines += [Rule(f"{level}.{key}", getattr(level_rules, key)) for key in LEVEL_RULES
                  if key in level_rules.model_fields_set]
    return lines


def _members(uow: UnitOfWork, pool: Pool) -> list[MemberView]:
    views = []
    for row in pool_members.members(uow, pool.id):
        if row.user_id is not None:
            user = uow.session.get(User, row.user_id)
            views.append(MemberView(user.handle if user else "?", True, row.is_admin))
        else:
            unit = uow.session.get(OrgUnit, row.unit_id)
            views.append(MemberView(unit.name if unit else "?", False, row.is_admin))
    return views


def _user(uow: UnitOfWork, user_id: int) -> User:
    user = uow.session.get(User, user_id)
    assert user is not None
    return user


def _administered_pools(uow: UnitOfWork, user: User) -> list[Pool]:
    pools = list(uow.session.scalars(select(Pool).order_by(Pool.id)))
    if user.role == Role.ADMIN:
        return pools
    return [pool for pool in pools if pool.active and pool_service.is_pool_admin(uow, user, pool.id)]


def _pool(uow: UnitOfWork, user: User, name: str) -> Pool:
    """The pool he may administer by that name (or #id); any other reads as unknown."""
    return pool_service.find_pool(uow, _administered_pools(uow, user), name)


# --- creating ----------------------------------------------------------------------------------

def create(uow: UnitOfWork, user_id: int, name: str, unit_names: list[str]) -> PoolView:
    """A new active pool with the default rules (docs/design/rules.md), seen by the named units
    and everyone below them; without units, by the whole company (his company's top unit)."""
    user = _user(uow, user_id)
    if user.role != Role.ADMIN:
        raise UserError("leads/pool_create_admins_only")
    name = _checked_name(uow, name)
    units = [_unit(uow, unit_name) for unit_name in unit_names] or [_root(uow, user)]
    pool = Pool(name=name, unit_id=units[0].id, active=True)
    apply(pool, PoolRules())
    uow.session.add(pool)
    uow.session.flush()
    for unit in dict.fromkeys(units):
        pool_members.add(uow, pool, pool_members.Member(unit_id=unit.id))
    uow.session.flush()
    return view(uow, pool)


def _checked_name(uow: UnitOfWork, name: str) -> str:
    name = unicodedata.normalize("NFKC", name).strip()
    if not name:
        raise SettingsError("empty", "name")
    if len(name) > MAX_NAME:
        raise SettingsError("too_long", "name", value=name, limit=MAX_NAME)
    if name.lstrip("#").isdigit():
        raise SettingsError("invalid", "name", value=name)  # would read as a pool id
    taken = uow.session.scalar(select(Pool.id).where(func.lower(Pool.name) == name.lower()))
    if taken is not None:
        raise SettingsError("duplicate", "name", value=name)
    return name


def _unit(uow: UnitOfWork, name: str) -> OrgUnit:
    units = org.units_by_name(uow, name)
    if len(units) != 1:
        raise SettingsError("unknown_unit", "members", value=name)
    return units[0]


def _root(uow: UnitOfWork, user: User) -> OrgUnit:
    unit = uow.session.get(OrgUnit, user.unit_id)
    assert unit is not None
    root = uow.session.get(OrgUnit, org.ancestor_unit_ids(unit.path)[0])
    assert root is not None
    return root


# --- rules -------------------------------------------------------------------------------------

def set_rules(uow: UnitOfWork, user_id: int, pool_name: str, typed: list[tuple[str, str]]) -> RulesChanged:
    """Merge key=value pairs over the pool's rules; any problem changes nothing."""
    pool = _pool(uow, _user(uow, user_id), pool_name)
    current = rules_of(pool)
    new = _checked_rules(_merged(current, typed))
    before = {rule.key: rule.value for rule in rule_lines(current)}
    after = {rule.key: rule.value for rule in rule_lines(new)}
    changes = [Change(key, before.get(key), after.get(key), key in before, key in after)
               for key in dict.fromkeys([*before, *after])
               if before.get(key) != after.get(key) or (key in before) != (key in after)]
    if changes:
        apply(pool, new)
    return RulesChanged(pool.name, changes)


def _merged(current: PoolRules, typed: list[tuple[str, str]]) -> dict:
    data: dict = {key: getattr(current, key) for key in POOL_RULES}
    levels = {level: rules.model_dump(exclude_unset=True) for level, rules in current.levels.items()}
    for key, value in typed:
        level, dot, rule = key.rpartition(".")
        if dot and level:
            levels.setdefault(level.strip().upper(), {})[rule] = value
        else:
            data[key] = value
    data.setdefault("levels", levels)
    return data


def _checked_rules(data: dict) -> PoolRules:
    """check(PoolRules, data), with a level's key named as typed (A.return_no_followup_days)."""
    try:
        return PoolRules.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        location = tuple(error["loc"])
        if location[:1] == ("levels",) and len(location) > 2:
            error["loc"] = location[1:]
        raise settings_error(error) from None


# --- members -----------------------------------------------------------------------------------

def change_member(uow: UnitOfWork, user_id: int, pool_name: str, action: str, who: str, admin: bool,
                  now: datetime) -> MembersChanged:
    """Add a unit (with its subtree) or a @handle to the pool, an admin if asked, or take it out.
    The last member cannot be taken out: the pool would be nobody's."""
    pool = _pool(uow, _user(uow, user_id), pool_name)
    member, shown = _member(uow, who, admin)
    if action == "add":
        changed = pool_members.add(uow, pool, member)
    else:
        current = pool_members.members(uow, pool.id)
        if [(row.unit_id, row.user_id) for row in current] == [member.key]:
            raise UserError("leads/pool_last_member", pool=pool.name, member=shown.name)
        changed = pool_members.remove(uow, pool, member.unit_id, member.user_id, now)
    uow.session.flush()
    return MembersChanged(pool.name, shown, action == "add", changed, _members(uow, pool))


def _member(uow: UnitOfWork, who: str, admin: bool) -> tuple[pool_members.Member, MemberView]:
    who = who.strip()
    if who.startswith("@"):
        handle = who[1:].lower()
        user = uow.session.scalar(select(User).where(func.lower(User.handle) == handle, User.active.is_(True)))
        if user is None:
            raise SettingsError("unknown_user", "members", value=who)
        return pool_members.Member(user_id=user.id, admin=admin), MemberView(user.handle, True, admin)
    unit = _unit(uow, who)
    return pool_members.Member(unit_id=unit.id, admin=admin), MemberView(unit.name, False, admin)
