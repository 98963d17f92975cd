"""What the org file's entries name must exist, once: a unit's parent, a user's unit and manager,
a channel's unit, a pool's member units and users and its admins. A name may be in the file or
already in the database. Checked before anything is written; the first problem becomes a
SettingsError naming the key and its line."""
from dataclasses import dataclass, field

from sqlalchemy import select

from bot.services.core.org_file.schema import OrgFile, UnitEntry
from bot.services.core.validation import Locate, Path, SettingsError, dotted
from db.models import OrgUnit, User
from db.session import UnitOfWork


@dataclass(frozen=True)
class PlannedUnit:
    """A unit of the file with its parent's name (None: a top unit) and where it is written."""

    entry: UnitEntry
    parent: str | None
    path: Path


@dataclass
class Refusal:
    """Builds the error for a path of the file, with its line."""

    locate: Locate | None = None
    source: str | None = None

    def __call__(self, code: str, path: Path, value: object = None, **params: object) -> SettingsError:
        return SettingsError(code, dotted(path), value=value, line=self.locate(path) if self.locate else None,
                             source=self.source, **params)


@dataclass
class Known:
    """The unit names and user handles the file may refer to: its own and the database's."""

    units: set[str] = field(default_factory=set)
    handles: set[str] = field(default_factory=set)


def check(uow: UnitOfWork, org: OrgFile, refuse: Refusal) -> list[PlannedUnit]:
    """The file's units, parents before children; SettingsError for the first wrong reference."""
    units = _flatten(org.units, refuse)
    known = Known(set(uow.session.scalars(select(OrgUnit.name))) | {u.entry.name for u in units},
                  set(uow.session.scalars(select(User.handle))) | {u.handle for u in org.users})
    ordered = _ordered(units, known, refuse)
    _check_users(org, known, refuse)
    _check_channels(org, known, refuse)
    _check_pools(org, known, refuse)
    return ordered


def _flatten(entries: list[UnitEntry], refuse: Refusal) -> list[PlannedUnit]:
    flat: list[PlannedUnit] = []

    def walk(items: list[UnitEntry], parent: str | None, prefix: Path) -> None:
        for index, entry in enumerate(items):
            path = (*prefix, index)
            if entry.parent is not None and parent is not None and entry.parent != parent:
                raise refuse("invalid", (*path, "parent"), entry.parent)
            flat.append(PlannedUnit(entry, entry.parent or parent, path))
            walk(entry.children, entry.name, (*path, "children"))

    walk(entries, None, ("units",))
    seen: set[str] = set()
    for unit in flat:
        if unit.entry.name in seen:
            raise refuse("duplicate", (*unit.path, "name"), unit.entry.name)
        seen.add(unit.entry.name)
        if unit.entry.phone_region is not None and unit.parent is not None:
            raise refuse("bad_phone_region", (*unit.path, "phone_region"), unit.entry.phone_region)
        if unit.entry.customers is not None and unit.entry.customers.tiers is not None and unit.parent is not None:
            raise refuse("tiers_on_company", (*unit.path, "customers", "tiers"))
    return flat


def _ordered(units: list[PlannedUnit], known: Known, refuse: Refusal) -> list[PlannedUnit]:
    """Parents before children; an unknown parent or a cycle is refused."""
    by_name = {unit.entry.name: unit for unit in units}
    done: set[str] = set()
    ordered: list[PlannedUnit] = []
    for unit in units:
        trail: list[PlannedUnit] = []
        current: PlannedUnit | None = unit
        while current is not None and current.entry.name not in done:
            if current in trail:
                raise refuse("unit_cycle", (*current.path, "parent"), current.entry.name)
            trail.append(current)
            parent = current.parent
            if parent is not None and parent not in known.units:
                raise refuse("unknown_unit", (*current.path, "parent"), parent)
            current = by_name.get(parent) if parent is not None else None
        for item in reversed(trail):
            ordered.append(item)
            done.add(item.entry.name)
    return ordered


def _check_users(org: OrgFile, known: Known, refuse: Refusal) -> None:
    seen: set[str] = set()
    for index, user in enumerate(org.users):
        path = ("users", index)
        if user.handle in seen:
            raise refuse("duplicate", (*path, "handle"), user.handle)
        seen.add(user.handle)
        if user.unit not in known.units:
            raise refuse("unknown_unit", (*path, "unit"), user.unit)
        if user.manager is not None and user.manager not in known.handles:
            raise refuse("unknown_user", (*path, "manager"), user.manager)


def _check_channels(org: OrgFile, known: Known, refuse: Refusal) -> None:
    seen: set[tuple[str, str, str]] = set()
    for index, channel in enumerate(org.channels):
        path = ("channels", index)
        where = (channel.platform, channel.workspace, channel.chat)
        if where in seen:
            raise refuse("duplicate", (*path, "chat"), channel.chat)
        seen.add(where)
        if channel.unit not in known.units:
            raise refuse("unknown_unit", (*path, "unit"), channel.unit)


def _check_pools(org: OrgFile, known: Known, refuse: Refusal) -> None:
    seen: set[str] = set()
    for index, pool in enumerate(org.pools):
        path = ("pools", index)
        if pool.name.casefold() in seen:
            raise refuse("duplicate", (*path, "name"), pool.name)
        seen.add(pool.name.casefold())
        for position, unit in enumerate(pool.members.units):
            if unit not in known.units:
                raise refuse("unknown_unit", (*path, "members", "units", position), unit)
        for key, handles in (("users", pool.members.users), ("admins", pool.admins)):
            for position, handle in enumerate(handles):
                if handle not in known.handles:
                    where = (*path, "members", "users", position) if key == "users" else (*path, "admins", position)
                    raise refuse("unknown_user", where, handle)
