"""The database written back as an org file: units nested as children with their own visit checks,
announcements and customer settings, users with their nudges, team channels with the settings that differ from the
defaults, pools with members, admins and rules, the holidays and the lose reasons. Loading the dump
changes nothing; loading it into an empty database and dumping again gives the same text."""
from collections import defaultdict

import yaml
from sqlalchemy import select

from bot.services.customers import settings as customer_settings
from bot.services.deals import (
    channel_settings,
    holidays,
    lose_reasons,
    nudge_settings,
    unit_announcements,
)
from bot.services.deals.channel_settings import BoardPlan, ChannelSettings
from bot.services.leads import pool_members, pool_rules
from bot.services.visits import unit_settings
from db.models import OrgUnit, Pool, TeamChannel, User
from db.models.org import DEFAULT_SCOPE, Role
from db.session import UnitOfWork


class _Dumper(yaml.SafeDumper):
    """Lists indented under their key, as people write them."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


def dump_org(uow: UnitOfWork) -> str:
    """The current org as org file text (YAML, Chinese kept readable, keys in a fixed order)."""
    units = list(uow.session.scalars(select(OrgUnit).order_by(OrgUnit.id)))
    users = list(uow.session.scalars(select(User).order_by(User.id)))
    names = {unit.id: unit.name for unit in units}
    handles = {user.id: user.handle for user in users}
    data: dict[str, list | dict] = {
        "units": _unit_tree(uow, units),
        "users": [_user(uow, user, names, handles) for user in users],
        "channels": [_channel(uow, channel, names)
                     for channel in uow.session.scalars(select(TeamChannel).order_by(TeamChannel.id))],
        "pools": [_pool(uow, pool, names, handles)
                  for pool in uow.session.scalars(select(Pool).order_by(Pool.id))],
        "holidays": holidays.as_file(holidays.holidays_of(uow)),
        "lose_reasons": lose_reasons.as_file(lose_reasons.reasons_of(uow)),
    }
    data = {key: items for key, items in data.items() if items}
    return yaml.dump(data, Dumper=_Dumper, allow_unicode=True, sort_keys=False, default_flow_style=False,
                     width=120) if data else ""


def _unit_tree(uow: UnitOfWork, units: list[OrgUnit]) -> list[dict]:
    children: dict[int | None, list[OrgUnit]] = defaultdict(list)
    for unit in units:
        children[unit.parent_id].append(unit)

    def entry(unit: OrgUnit) -> dict:
        written: dict = {"name": unit.name}
        if unit.timezone:
            written["timezone"] = unit.timezone
        if unit.phone_region and unit.parent_id is None:
            written["phone_region"] = unit.phone_region
        if not unit.active:
            written["active"] = False
        written.update(_unit_settings(uow, unit))
        if children[unit.id]:
            written["children"] = [entry(child) for child in children[unit.id]]
        return written

    return [entry(unit) for unit in children[None]]


def _unit_settings(uow: UnitOfWork, unit: OrgUnit) -> dict:
    """The unit's own visit checks and announcements (`{}`: its own, all defaults); none: inherited."""
    written: dict = {}
    visits = unit_settings.settings_of(uow, unit.id)
    if visits is not None:
        written["visits"] = visits.as_file()
    announcements = unit_announcements.settings_of(uow, unit.id)
    if announcements is not None:
        written["announcements"] = announcements.as_file()
    customers = customer_settings.settings_of(uow, unit.id)
    if customers is not None:
        written["customers"] = customers.as_file()
    return written


def _user(uow: UnitOfWork, user: User, names: dict[int, str], handles: dict[int, str]) -> dict:
    written: dict = {"handle": user.handle, "name": user.name, "unit": names[user.unit_id], "role": user.role}
    role = Role(user.role) if user.role in set(Role) else None
    if role is None or user.data_scope != DEFAULT_SCOPE[role]:
        written["scope"] = user.data_scope
    if user.manager_id is not None:
        written["manager"] = handles[user.manager_id]
    written.update(locale=user.locale, timezone=user.timezone)
    if not user.active:
        written["active"] = False
    nudges = nudge_settings.settings_of(uow, user.id).as_file()
    if nudges:
        written["nudges"] = nudges
    return written


def _channel(uow: UnitOfWork, channel: TeamChannel, names: dict[int, str]) -> dict:
    written: dict = {"platform": channel.platform}
    if channel.workspace:
        written["workspace"] = channel.workspace
    written.update(chat=channel.chat_id, unit=names[channel.unit_id])
    settings = channel_settings.settings_of(uow, channel)
    if settings.name and settings.name != channel.chat_id:
        written["name"] = settings.name
    written.update(locale=settings.locale, timezone=settings.timezone)
    defaults = ChannelSettings()
    for key in ("include_subunits", "quiet_hours"):
        if getattr(settings, key) != getattr(defaults, key):
            written[key] = getattr(settings, key)
    plan, default_plan = settings.boards, BoardPlan()
    boards = {key: getattr(plan, key) for key in BoardPlan.model_fields
              if getattr(plan, key) != getattr(default_plan, key)}
    if boards:
        written["boards"] = boards
    if not channel.active:
        written["active"] = False
    return written


def _pool(uow: UnitOfWork, pool: Pool, names: dict[int, str], handles: dict[int, str]) -> dict:
    rows = pool_members.members(uow, pool.id)
    members = {"units": [names[row.unit_id] for row in rows if row.unit_id is not None],
               "users": [handles[row.user_id] for row in rows if row.user_id is not None and not row.is_admin]}
    written: dict = {"name": pool.name}
    members = {key: items for key, items in members.items() if items}
    if members:
        written["members"] = members
    admins = [handles[row.user_id] for row in rows if row.user_id is not None and row.is_admin]
    if admins:
        written["admins"] = admins
    rules = pool_rules.rules_of(pool).as_file()
    if rules:
        written["rules"] = rules
    if not pool.active:
        written["active"] = False
    return written
