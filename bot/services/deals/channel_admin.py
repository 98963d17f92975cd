"""Team channels set up from the chat itself (`/channel`): what this channel's settings are, changing
them (typed as the org file writes them, checked by ChannelSettings, all or nothing), and linking
the chat one types in to a unit as its team channel, or unlinking it (marked inactive, never deleted).

Who may change a channel: company admins, and managers whose unit is the channel's unit or above it;
link a chat to a unit: admins, and managers of that unit or above it. A unit someone may not
manage reads like an unknown unit.
"""
from dataclasses import dataclass

from sqlalchemy import select

from bot.errors import UserError
from bot.services.core import org
from bot.services.core.settings_rows import Change, Setting, changes_between
from bot.services.core.validation import SettingsError, check
from bot.services.deals.channel_settings import ChannelSettings, apply, settings_of
from db.models import OrgUnit, TeamChannel, User
from db.session import UnitOfWork


@dataclass(frozen=True)
class Chat:
    """Where a command was typed: the platform's own ids."""

    platform: str
    workspace: str
    chat_id: str


@dataclass(frozen=True)
class ChannelView:
    name: str
    unit: str
    active: bool
    settings: list[Setting]


@dataclass(frozen=True)
class SettingsChanged:
    channel: ChannelView
    changes: list[Change]


@dataclass(frozen=True)
class Linked:
    channel: ChannelView
    changed: bool  # False: it already was this unit's channel


def channel_of(uow: UnitOfWork, chat: Chat) -> TeamChannel | None:
    return uow.session.scalar(select(TeamChannel).where(
        TeamChannel.platform == chat.platform, TeamChannel.workspace == chat.workspace,
        TeamChannel.chat_id == chat.chat_id))


def show(uow: UnitOfWork, chat: Chat) -> ChannelView:
    return view(uow, _linked(uow, chat))


def view(uow: UnitOfWork, channel: TeamChannel) -> ChannelView:
    unit = uow.session.get(OrgUnit, channel.unit_id)
    return ChannelView(channel.name or channel.chat_id, unit.name if unit else "?", channel.active,
                       setting_lines(settings_of(uow, channel)))


def setting_lines(settings: ChannelSettings) -> list[Setting]:
    """Every setting, boards ones as boards.KEY, as they are typed."""
    data = settings.model_dump()
    boards = data.pop("boards")
    return ([Setting(key, value) for key, value in data.items()]
            + [Setting(f"boards.{key}", value) for key, value in boards.items()])


def _linked(uow: UnitOfWork, chat: Chat) -> TeamChannel:
    channel = channel_of(uow, chat)
    if channel is None or not channel.active:
        raise UserError("channel/not_linked")
    return channel


# --- settings ----------------------------------------------------------------------------------

def set_settings(uow: UnitOfWork, user_id: int, chat: Chat, typed: list[tuple[str, str]]) -> SettingsChanged:
    """Merge key=value pairs (boards.time=17:30) over the channel's settings; any problem changes nothing."""
    channel = _linked(uow, chat)
    _may_change(uow, _user(uow, user_id), channel.unit_id)
    current = settings_of(uow, channel)
    data = current.model_dump()
    for key, value in typed:
        group, dot, name = key.partition(".")
        if dot and group == "boards" and isinstance(data.get("boards"), dict):
            data["boards"][name] = value
        else:
            data[key] = value
    new = check(ChannelSettings, data)
    changes = changes_between(setting_lines(current), setting_lines(new))
    if changes:
        apply(uow, channel, new)
        uow.session.flush()
    return SettingsChanged(view(uow, channel), changes)


def _may_change(uow: UnitOfWork, user: User, unit_id: int) -> None:
    if not org.manages_unit(uow, user, unit_id):
        unit = uow.session.get(OrgUnit, unit_id)
        raise UserError("channel/not_allowed", unit=unit.name if unit else "?")


def _user(uow: UnitOfWork, user_id: int) -> User:
    user = uow.session.get(User, user_id)
    assert user is not None
    return user


# --- linking -----------------------------------------------------------------------------------

def link(uow: UnitOfWork, user_id: int, chat: Chat, unit_name: str, default_timezone: str) -> Linked:
    """Make this chat the unit's team channel. A new channel speaks the linker's language and keeps
    the unit's time zone (inherited from above, else `default_timezone`); a chat unlinked before
    comes back with its settings."""
    user = _user(uow, user_id)
    units = [u for u in org.units_by_name(uow, unit_name) if org.manages_unit(uow, user, u.id)]
    if len(units) != 1:
        raise SettingsError("unknown_unit", "unit", value=unit_name)
    unit = units[0]
    channel = channel_of(uow, chat)
    if channel is not None and channel.active:
        if channel.unit_id == unit.id:
            return Linked(view(uow, channel), False)
        other = uow.session.get(OrgUnit, channel.unit_id)
        raise UserError("channel/linked_elsewhere", unit=other.name if other else "?")
    if channel is None:
        channel = TeamChannel(platform=chat.platform, workspace=chat.workspace, chat_id=chat.chat_id,
                              name=chat.chat_id, locale=user.locale, include_subunits=True,
                              timezone=_unit_timezone(uow, unit.id) or default_timezone)
        uow.session.add(channel)
    channel.unit_id = unit.id
    channel.active = True
    uow.session.flush()
    return Linked(view(uow, channel), True)


def unlink(uow: UnitOfWork, user_id: int, chat: Chat) -> ChannelView:
    """The chat is no team channel any more: marked inactive, its settings kept."""
    channel = _linked(uow, chat)
    _may_change(uow, _user(uow, user_id), channel.unit_id)
    channel.active = False
    uow.session.flush()
    return view(uow, channel)


def _unit_timezone(uow: UnitOfWork, unit_id: int) -> str | None:
    return next((u.timezone for u in reversed(org.unit_chain(uow, unit_id)) if u.timezone), None)
