"""Loading an org file: the whole file is checked first (every key, then every reference), and
only then written, in the caller's unit of work; a problem found while writing (a closed unit
that still has people) raises before the caller commits, so nothing of the file is kept. Safe to
run again: units match by name, users by handle, channels by platform + workspace + chat, pools by
name; what the file leaves out of the database is left alone."""
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial

from sqlalchemy import func, select

from bot.services.core import audit_log
from bot.services.core.org import ancestor_unit_ids, set_path
from bot.services.core.org_file.lines import parse
from bot.services.core.org_file.references import PlannedUnit, Refusal, check
from bot.services.core.org_file.schema import ChannelEntry, OrgFile, PoolEntry, UserEntry
from bot.services.core.validation import Locate
from bot.services.core.validation import check as check_model
from bot.services.customers import settings as customer_settings
from bot.services.deals import (
    channel_settings,
    holidays,
    lose_reasons,
    nudge_settings,
    unit_announcements,
)
from bot.services.leads import pool_members, pool_rules
from bot.services.visits import unit_settings
from db.base import utcnow
from db.models import OrgUnit, Pool, TeamChannel, User
from db.models.org import DEFAULT_SCOPE, Role
from db.phone_keys import phone_key, rekey
from db.session import UnitOfWork


@dataclass
class OrgLoadResult:
    units_created: int = 0
    users_created: list[str] = field(default_factory=list)
    users_updated: int = 0
    channels: int = 0
    pools_created: int = 0
    pools_updated: int = 0
    phones_rekeyed: int = 0


@dataclass(frozen=True)
class Defaults:
    """What a user or channel gets when the file leaves its language or time zone out."""

    timezone: str
    locale: str


def load_org_text(uow: UnitOfWork, text: str, source: str, default_timezone: str, default_locale: str,
                  now: datetime | None = None) -> OrgLoadResult:
    """Load an org file's text; errors name `source` and the line."""
    parsed = parse(text, source)
    return load_org(uow, parsed.data, default_timezone, default_locale, locate=parsed.locate, source=source,
                    now=now)


def load_org(uow: UnitOfWork, data: object, default_timezone: str, default_locale: str, *,
             locate: Locate | None = None, source: str | None = None,
             now: datetime | None = None) -> OrgLoadResult:
    """Create or update units, users, channels, pools, holidays and lose reasons from an org file's data."""
    org = check_model(OrgFile, data, locate=locate, source=source)
    refuse = Refusal(locate, source)
    units = check(uow, org, refuse)
    return _write(uow, org, units, refuse, Defaults(default_timezone, default_locale), now or utcnow())


def _write(uow: UnitOfWork, org: OrgFile, planned: list[PlannedUnit], refuse: Refusal, defaults: Defaults,
           now: datetime) -> OrgLoadResult:
    result = OrgLoadResult()
    units = {u.name: u for u in uow.session.scalars(select(OrgUnit).order_by(OrgUnit.id))}
    new_region = _write_units(uow, planned, units, result, now)
    users = _write_users(uow, org.users, units, defaults, result)
    for entry in org.channels:
        _write_channel(uow, entry, units[entry.unit], defaults)
        result.channels += 1
    for entry in org.pools:
        _write_pool(uow, entry, units, users, now, result)
    if org.holidays is not None:
        holidays.apply(uow, org.holidays, now)
    if org.lose_reasons is not None:
        lose_reasons.apply(uow, org.lose_reasons)
    uow.session.flush()
    # After users: a file that moves people out of a unit may close it in the same load.
    for unit in planned:
        _set_active(uow, units[unit.entry.name], unit, refuse)
    if new_region is not None:
        # The duplicate check spans the database (one company), so every stored phone is re-keyed.
        rekeyed: list = []
        result.phones_rekeyed = rekey(uow.session.connection(), partial(phone_key, region=new_region), rekeyed)
        _audit_rekeyed(uow, rekeyed)
    return result


def _write_units(uow: UnitOfWork, planned: list[PlannedUnit], units: dict[str, OrgUnit],
                 result: OrgLoadResult, now: datetime) -> str | None:
    """Units in tree order; the company's new phone region, when it changed."""
    new_region = None
    for item in planned:
        entry = item.entry
        unit = units.get(entry.name)
        if unit is None:
            unit = OrgUnit(name=entry.name)
            uow.session.add(unit)
            result.units_created += 1
        unit.parent_id = units[item.parent].id if item.parent else None
        if entry.timezone:
            unit.timezone = entry.timezone
        if entry.phone_region is not None and entry.phone_region != unit.phone_region:
            unit.phone_region = new_region = entry.phone_region
        uow.session.flush()
        set_path(uow, unit)
        units[entry.name] = unit
        unit_settings.apply(uow, unit, entry.visits, now)
        unit_announcements.apply(uow, unit, entry.announcements, now)
        customer_settings.apply(uow, unit, entry.customers, now)
    return new_region


def _write_users(uow: UnitOfWork, entries: list[UserEntry], units: dict[str, OrgUnit], defaults: Defaults,
                 result: OrgLoadResult) -> dict[str, User]:
    """Users, then their managers (a manager may come later in the file); every user by handle."""
    users = {u.handle: u for u in uow.session.scalars(select(User).order_by(User.id))}
    for entry in entries:
        user = users.get(entry.handle)
        if user is None:
            user = users[entry.handle] = User(handle=entry.handle)
            uow.session.add(user)
            result.users_created.append(entry.handle)
        else:
            result.users_updated += 1
        user.name = entry.name or entry.handle
        user.unit_id = units[entry.unit].id
        user.role = entry.role
        user.data_scope = entry.scope or DEFAULT_SCOPE[Role(entry.role)].value
        user.locale = entry.locale or defaults.locale
        user.timezone = entry.timezone or defaults.timezone
        user.active = entry.active
    uow.session.flush()
    for entry in entries:
        users[entry.handle].manager_id = users[entry.manager].id if entry.manager else None
        if entry.nudges is not None:
            nudge_settings.apply(uow, users[entry.handle].id, entry.nudges)
    return users


def _write_channel(uow: UnitOfWork, entry: ChannelEntry, unit: OrgUnit, defaults: Defaults) -> None:
    channel = uow.session.scalar(select(TeamChannel).where(
        TeamChannel.platform == entry.platform, TeamChannel.workspace == entry.workspace,
        TeamChannel.chat_id == entry.chat))
    if channel is None:
        channel = TeamChannel(platform=entry.platform, workspace=entry.workspace, chat_id=entry.chat)
        uow.session.add(channel)
    channel.unit_id = unit.id
    channel.active = entry.active
    channel_settings.apply(uow, channel, entry.settings(defaults.locale, defaults.timezone))


def _write_pool(uow: UnitOfWork, entry: PoolEntry, units: dict[str, OrgUnit], users: dict[str, User],
                now: datetime, result: OrgLoadResult) -> None:
    pool = uow.session.scalar(select(Pool).where(Pool.name == entry.name))
    if pool is None:
        pool = Pool(name=entry.name, created_at=now)
        uow.session.add(pool)
        # Inserted with the column defaults first: the ORM leaves a None (a rule switched off) out of
        # an INSERT when the column has a default, so it would come back on.
        uow.session.flush()
        result.pools_created += 1
    else:
        result.pools_updated += 1
    pool_rules.apply(pool, entry.rules)
    pool.active = entry.active
    admins = set(entry.admins)
    people = [users[handle] for handle in dict.fromkeys([*entry.members.users, *entry.admins])]
    wanted = [pool_members.Member(unit_id=units[name].id) for name in entry.members.units]
    wanted += [pool_members.Member(user_id=user.id, admin=user.handle in admins) for user in people]
    member_units = [units[name] for name in entry.members.units]
    pool.unit_id = _common_unit(member_units + [uow.session.get(OrgUnit, user.unit_id) for user in people])
    uow.session.flush()
    pool_members.sync(uow, pool, wanted, now)


def _common_unit(units: list[OrgUnit]) -> int | None:
    """The lowest unit above (or equal to) all of them: the pool's company, for its phone region."""
    chains = [ancestor_unit_ids(unit.path) for unit in units]
    if not chains:
        return None
    common: int | None = None
    for ids in zip(*chains, strict=False):
        if len(set(ids)) != 1:
            break
        common = ids[0]
    return common


def _set_active(uow: UnitOfWork, unit: OrgUnit, planned: PlannedUnit, refuse: Refusal) -> None:
    """Units are closed, never deleted; a unit with active people in it cannot be closed."""
    if not planned.entry.active and unit.active:
        people = uow.session.scalar(
            select(func.count()).select_from(User).where(User.unit_id == unit.id, User.active.is_(True)))
        if people:
            raise refuse("unit_has_people", (*planned.path, "active"), unit.name, count=people)
    unit.active = planned.entry.active


def _audit_rekeyed(uow: UnitOfWork, rekeyed: list) -> None:
    """One audit row per re-keyed phone (the rekey is set-based, past the session's listener)."""
    now, rows = utcnow(), []
    for name, row_id, owner_id, old, new in rekeyed:
        change = (row_id, {"phone_key": old}, {"phone_key": new}, owner_id)
        rows += audit_log.bulk_rows(audit_log.record_type_of(name), "update", [change], now)
    audit_log.write(uow.session, rows)
