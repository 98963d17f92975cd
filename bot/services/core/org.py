"""The org tree (units with a materialised path), users, team channels, and the org file loader."""
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import Select, func, select

from bot.config import LOCALES
from bot.errors import UserError
from bot.services.core import audit_log
from db.base import utcnow
from db.models import OrgUnit, PlatformIdentity, Role, TeamChannel, User
from db.models.org import DEFAULT_SCOPE, DataScope
from db.phone_keys import is_region, phone_key, rekey
from db.session import UnitOfWork

PLATFORMS = ("console", "slack", "telegram")


def ancestor_unit_ids(path: str) -> list[int]:
    """The unit's own id and its ancestors', root first, read from its materialised path "/1/4/9/"."""
    return [int(part) for part in path.strip("/").split("/") if part]


def subtree_user_ids(unit_path: str) -> Select:
    """SELECT of the ids of the users in the unit with that path and in every unit below it."""
    return select(User.id).join(OrgUnit, User.unit_id == OrgUnit.id).where(OrgUnit.path.startswith(unit_path))


def unit_chain(uow: UnitOfWork, unit_id: int) -> list[OrgUnit]:
    """The unit and its ancestors, root first."""
    unit = uow.session.get(OrgUnit, unit_id)
    assert unit is not None
    ids = ancestor_unit_ids(unit.path)
    units = {u.id: u for u in uow.session.scalars(select(OrgUnit).where(OrgUnit.id.in_(ids)))}
    return [units[i] for i in ids if i in units]


def phone_region(uow: UnitOfWork, unit_id: int | None, default: str) -> str:
    """The company's phone region: its root unit's `phone_region`, else `default` (the setting
    DEFAULT_PHONE_REGION). A record outside the tree (unit_id None) belongs to the first company."""
    if unit_id is None:
        root = select(OrgUnit.phone_region).where(OrgUnit.parent_id.is_(None)).order_by(OrgUnit.id).limit(1)
    else:
        unit = uow.session.get(OrgUnit, unit_id)
        assert unit is not None
        root = select(OrgUnit.phone_region).where(OrgUnit.id == ancestor_unit_ids(unit.path)[0])
    return uow.session.scalar(root) or default


def subtree_unit_ids(uow: UnitOfWork, unit_id: int) -> list[int]:
    unit = uow.session.get(OrgUnit, unit_id)
    assert unit is not None
    return list(uow.session.scalars(select(OrgUnit.id).where(OrgUnit.path.startswith(unit.path))))


def units_by_name(uow: UnitOfWork, name: str) -> list[OrgUnit]:
    """Active units named `name` (any case); when none is, those whose name contains it."""
    fragment = name.strip().lower()
    units = uow.session.scalars(select(OrgUnit).where(OrgUnit.active.is_(True))).all()
    exact = [u for u in units if u.name.lower() == fragment]
    return exact or [u for u in units if fragment in u.name.lower()]


def _set_path(uow: UnitOfWork, unit: OrgUnit) -> None:
    """Give the unit its path under its parent, and carry its whole subtree along when it moved."""
    parent = uow.session.get(OrgUnit, unit.parent_id) if unit.parent_id else None
    old_path, new_path = unit.path, f"{parent.path if parent else '/'}{unit.id}/"
    if old_path == new_path:
        return
    if old_path and old_path != "/":
        for descendant in uow.session.scalars(
            select(OrgUnit).where(OrgUnit.path.startswith(old_path), OrgUnit.id != unit.id)
        ):
            descendant.path = new_path + descendant.path.removeprefix(old_path)
    unit.path = new_path


class OrgFileError(UserError):
    """The org file is wrong; nothing of it was written."""

    def __init__(self, problem: str, **params: object):
        super().__init__(f"org_file/{problem}", **params)


@dataclass
class OrgLoadResult:
    units_created: int = 0
    users_created: list[str] = field(default_factory=list)
    users_updated: int = 0
    channels: int = 0
    phones_rekeyed: int = 0


def _check_zone(name: str, where: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise OrgFileError("bad_timezone", value=name, where=where) from None
    return name


def _check_phone_region(raw: object, where: str, is_root: bool) -> str:
    code = str(raw).strip().upper()
    if not is_root or not is_region(code):
        raise OrgFileError("bad_phone_region", value=str(raw), where=where)
    return code


def _flatten_units(data: dict) -> list[tuple[str, str | None, dict]]:
    """Units as (name, parent name, raw) from either nested `children` or flat `parent:` form."""
    flat: list[tuple[str, str | None, dict]] = []

    def walk(items: list, parent: str | None) -> None:
        for raw in items or []:
            if not isinstance(raw, dict) or not str(raw.get("name", "")).strip():
                raise OrgFileError("unit_without_name")
            name = str(raw["name"]).strip()
            flat.append((name, raw.get("parent", parent), raw))
            walk(raw.get("children", []), name)

    walk(data.get("units", []), None)
    names = [name for name, _, _ in flat]
    duplicates = {n for n in names if names.count(n) > 1}
    if duplicates:
        raise OrgFileError("duplicate_unit", name=sorted(duplicates)[0])
    return flat


def _ordered(flat: list[tuple[str, str | None, dict]], existing: set[str]) -> list[tuple[str, str | None, dict]]:
    """Parents before children; a cycle or an unknown parent is an error."""
    by_name = {name: (name, parent, raw) for name, parent, raw in flat}
    done: set[str] = set(existing)
    ordered = []
    for name in by_name:
        trail: list[str] = []
        current: str | None = name
        while current is not None and current not in done:
            if current in trail:
                raise OrgFileError("unit_cycle", name=current)
            if current not in by_name:
                raise OrgFileError("unknown_parent", name=trail[-1], parent=current)
            trail.append(current)
            current = by_name[current][1]
        for item in reversed(trail):
            ordered.append(by_name[item])
            done.add(item)
    return ordered


def load_org(uow: UnitOfWork, data: dict, default_timezone: str, default_locale: str) -> OrgLoadResult:
    """Create or update units, users and channels from an org file; safe to run twice."""
    if not isinstance(data, dict):
        raise OrgFileError("not_a_mapping")
    result = OrgLoadResult()
    new_region: str | None = None
    units = {u.name: u for u in uow.session.scalars(select(OrgUnit))}
    flat = _ordered(_flatten_units(data), set())
    for name, parent_name, raw in flat:
        unit = units.get(name)
        if unit is None:
            unit = OrgUnit(name=name)
            uow.session.add(unit)
            result.units_created += 1
        unit.parent_id = units[parent_name].id if parent_name else None
        if raw.get("timezone"):
            unit.timezone = _check_zone(str(raw["timezone"]), name)
        if raw.get("phone_region") is not None:
            region = _check_phone_region(raw["phone_region"], name, is_root=parent_name is None)
            if region != unit.phone_region:
                unit.phone_region = new_region = region
        uow.session.flush()
        _set_path(uow, unit)
        units[name] = unit
    for raw in data.get("users", []) or []:
        _load_user(uow, raw, units, default_timezone, default_locale, result)
    for raw in data.get("channels", []) or []:
        _load_channel(uow, raw, units, default_timezone, default_locale)
        result.channels += 1
    uow.session.flush()
    # After users: a file that moves people out of a unit may close it in the same load.
    for name, _parent, raw in flat:
        _set_active(uow, units[name], raw.get("active", True) is not False)
    if new_region is not None:
        # The duplicate check spans the database (one company), so every stored phone is re-keyed.
        rekeyed: list = []
        result.phones_rekeyed = rekey(uow.session.connection(), partial(phone_key, region=new_region), rekeyed)
        _audit_rekeyed(uow, rekeyed)
    return result


def _audit_rekeyed(uow: UnitOfWork, rekeyed: list) -> None:
    """One audit row per re-keyed phone (the rekey is set-based, past the session's listener)."""
    now, rows = utcnow(), []
    for name, row_id, owner_id, old, new in rekeyed:
        change = (row_id, {"phone_key": old}, {"phone_key": new}, owner_id)
        rows += audit_log.bulk_rows(audit_log.record_type_of(name), "update", [change], now)
    audit_log.write(uow.session, rows)


def _set_active(uow: UnitOfWork, unit: OrgUnit, active: bool) -> None:
    """Units are closed, never deleted; a unit with active people in it cannot be closed."""
    if not active and unit.active:
        people = uow.session.scalar(
            select(func.count()).select_from(User).where(User.unit_id == unit.id, User.active.is_(True))
        )
        if people:
            raise OrgFileError("unit_has_people", name=unit.name, count=people)
    unit.active = active


def _load_user(uow, raw: dict, units: dict, default_tz: str, default_locale: str, result: OrgLoadResult) -> None:
    handle = str(raw.get("handle", "")).strip().lower()
    if not handle or not handle.replace("_", "").replace(".", "").replace("-", "").isalnum():
        raise OrgFileError("bad_handle", value=handle)
    unit_name = str(raw.get("unit", ""))
    if unit_name not in units:
        raise OrgFileError("unknown_unit", name=unit_name, user=handle)
    role = str(raw.get("role", Role.REP))
    if role not in set(Role):
        raise OrgFileError("bad_role", value=role, user=handle)
    locale = str(raw.get("locale", default_locale))
    if locale not in LOCALES:
        raise OrgFileError("bad_locale", value=locale, user=handle)
    scope = str(raw.get("scope", DEFAULT_SCOPE[Role(role)]))
    if scope not in set(DataScope):
        raise OrgFileError("bad_scope", value=scope, user=handle)
    user = uow.session.scalar(select(User).where(User.handle == handle))
    if user is None:
        user = User(handle=handle)
        uow.session.add(user)
        result.users_created.append(handle)
    else:
        result.users_updated += 1
    user.name = str(raw.get("name", handle))
    user.unit_id = units[unit_name].id
    user.role = role
    user.data_scope = scope
    user.locale = locale
    user.timezone = _check_zone(str(raw.get("timezone", default_tz)), handle)
    user.active = bool(raw.get("active", True))
    if raw.get("manager"):
        manager = uow.session.scalar(select(User).where(User.handle == str(raw["manager"]).lower()))
        if manager is None:
            raise OrgFileError("unknown_manager", name=str(raw["manager"]), user=handle)
        user.manager_id = manager.id
    uow.session.flush()


def _load_channel(uow, raw: dict, units: dict, default_tz: str, default_locale: str) -> None:
    platform = str(raw.get("platform", ""))
    if platform not in PLATFORMS:
        raise OrgFileError("bad_platform", value=platform)
    chat = str(raw.get("chat", "")).strip()
    if not chat:
        raise OrgFileError("channel_without_chat")
    unit_name = str(raw.get("unit", ""))
    if unit_name not in units:
        raise OrgFileError("unknown_unit", name=unit_name, user=chat)
    workspace = str(raw.get("workspace", ""))
    channel = uow.session.scalar(
        select(TeamChannel).where(
            TeamChannel.platform == platform, TeamChannel.workspace == workspace, TeamChannel.chat_id == chat
        )
    )
    if channel is None:
        channel = TeamChannel(platform=platform, workspace=workspace, chat_id=chat)
        uow.session.add(channel)
    channel.name = str(raw.get("name", chat))
    channel.unit_id = units[unit_name].id
    channel.locale = str(raw.get("locale", default_locale))
    if channel.locale not in LOCALES:
        raise OrgFileError("bad_locale", value=channel.locale, user=chat)
    channel.timezone = _check_zone(str(raw.get("timezone", default_tz)), chat)
    channel.include_subunits = bool(raw.get("include_subunits", True))


def link_console_identity(uow: UnitOfWork, user_id: int, handle: str, now: datetime) -> None:
    """The console is a trusted local front end: each user may speak there as himself."""
    exists = uow.session.scalar(
        select(PlatformIdentity.id).where(
            PlatformIdentity.platform == "console", PlatformIdentity.platform_user_id == handle,
            PlatformIdentity.unlinked_at.is_(None),
        )
    )
    if not exists:
        uow.session.add(
            PlatformIdentity(
                platform="console", workspace="local", platform_user_id=handle,
                dm_chat_id=f"@{handle}", user_id=user_id, linked_at=now,
            )
        )
