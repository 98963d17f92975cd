"""The org file's keys, every one checked: units (nested `children` or flat `parent`) with their
visit checks, announcements and customer settings, users with their nudges, team channels with their settings inline,
pools with members, admins and rules, and the company's holidays and lose reasons. Unknown keys
are refused. What refers to what (a user's unit, a pool's members) is checked in `references`."""
import re
from typing import Annotated, Literal

from pydantic import AfterValidator, BeforeValidator, Field

from bot.config import LOCALES
from bot.services.core.text import visible
from bot.services.core.validation import Strict, problem
from bot.services.customers.settings import CustomerRules
from bot.services.deals.channel_settings import ChannelSettings, Zone
from bot.services.deals.holidays import Holidays
from bot.services.deals.lose_reasons import LoseReasons
from bot.services.deals.nudge_settings import NudgePlan
from bot.services.deals.unit_announcements import AnnouncementRules
from bot.services.leads.pool_rules import PoolRules
from bot.services.visits.unit_settings import VisitRules
from db.models.org import DataScope, Role
from db.phone_keys import is_region

PLATFORMS = ("console", "slack", "telegram")
_HANDLE = re.compile(r"^[a-z0-9._-]+$")


def _as_text(value: object) -> object:
    """A number where text is meant (a chat id, a name typed as digits) is that text."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return value


def _none_is_empty(value: object) -> object:
    """A key written with nothing under it (`pools:`) is an empty list."""
    return [] if value is None else value


def _handle(value: str) -> str:
    if not _HANDLE.match(value):
        raise problem("bad_handle")
    return value


def _region(value: str) -> str:
    if not is_region(value):
        raise problem("bad_phone_region")
    return value


Text = Annotated[str, BeforeValidator(_as_text), Field(min_length=1, max_length=200)]
# Names lose the invisible characters that let one pass for another (bot.services.core.text).
Name = Annotated[Text, AfterValidator(lambda v: visible(v).strip())]
Handle = Annotated[str, BeforeValidator(_as_text), AfterValidator(lambda v: v.strip().lower()),
                   Field(max_length=64), AfterValidator(_handle)]
Region = Annotated[str, AfterValidator(lambda v: v.strip().upper()), AfterValidator(_region)]
Locale = Literal[LOCALES]  # type: ignore[valid-type]


class UnitEntry(Strict):
    name: Name
    parent: Name | None = None
    timezone: Zone | None = None
    # On the top unit (the company) only: how phones without a country code are read.
    phone_region: Region | None = None
    active: bool = True
    # None: the unit follows the nearest unit above with its own (its own, if any, are removed).
    visits: VisitRules | None = None
    announcements: AnnouncementRules | None = None
    customers: CustomerRules | None = None  # tier thresholds (`tiers:`) on the top unit only
    children: Annotated[list["UnitEntry"], BeforeValidator(_none_is_empty)] = Field(default_factory=list)


class UserEntry(Strict):
    handle: Handle
    name: Name | None = None
    unit: Name
    role: Literal[tuple(r.value for r in Role)] = Role.REP.value  # type: ignore[valid-type]
    scope: Literal[tuple(s.value for s in DataScope)] | None = None  # type: ignore[valid-type]  # None: the role's default
    manager: Handle | None = None
    locale: Locale | None = None  # None: DEFAULT_LOCALE
    timezone: Zone | None = None  # None: DEFAULT_TIMEZONE
    active: bool = True
    nudges: NudgePlan | None = None  # None: unchanged (the person sets them with /nudges too)


class ChannelEntry(ChannelSettings):
    """Where the channel is and which unit it serves, then its settings (ChannelSettings) inline."""

    platform: Literal[PLATFORMS]  # type: ignore[valid-type]
    workspace: Annotated[str, BeforeValidator(_as_text), Field(max_length=64)] = ""
    chat: Annotated[Text, Field(max_length=64)]
    unit: Name
    active: bool = True

    def settings(self, default_locale: str, default_timezone: str) -> ChannelSettings:
        """The channel's settings; a language or zone left out is the deployment's default."""
        written = self.model_dump(include=set(ChannelSettings.model_fields), exclude_unset=True)
        return ChannelSettings(**{"locale": default_locale, "timezone": default_timezone, **written})


class PoolMembers(Strict):
    units: list[Name] = Field(default_factory=list)
    users: list[Handle] = Field(default_factory=list)


class PoolEntry(Strict):
    name: Name
    members: PoolMembers = Field(default_factory=PoolMembers)
    admins: list[Handle] = Field(default_factory=list)  # users who may assign from the pool
    rules: PoolRules = Field(default_factory=PoolRules)
    active: bool = True


class OrgFile(Strict):
    units: Annotated[list[UnitEntry], BeforeValidator(_none_is_empty)] = Field(default_factory=list)
    users: Annotated[list[UserEntry], BeforeValidator(_none_is_empty)] = Field(default_factory=list)
    channels: Annotated[list[ChannelEntry], BeforeValidator(_none_is_empty)] = Field(default_factory=list)
    pools: Annotated[list[PoolEntry], BeforeValidator(_none_is_empty)] = Field(default_factory=list)
    # None (left out): unchanged; written: exactly these.
    holidays: Holidays | None = None
    lose_reasons: LoseReasons | None = None
