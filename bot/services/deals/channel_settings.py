"""A team channel's settings as people write them (org file `channels:`, `/channel set`), checked
the same way wherever they come from: its language, time zone, quiet hours, whether it hears the
units below, and its board plan (push time, periods, weekday, metric, length, weekends, merge
window). How they map onto the rows: team_channels and channel_board_settings."""
import re
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BeforeValidator, Field
from sqlalchemy import select

from bot.config import LOCALES
from bot.services.core.clock import Clock, clock_of, minutes, split_span
from bot.services.core.text import visible
from bot.services.core.validation import Strict, problem
from bot.services.deals.board_metrics import METRICS
from db.models import ChannelBoardSettings, TeamChannel
from db.session import UnitOfWork

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
PERIODS = ("day", "week", "month")


def _zone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise problem("bad_timezone") from None
    return name


def _quiet(value: object) -> object:
    """'22:00-08:00', or off / null for none."""
    if value is None or value is False or (isinstance(value, str) and value.strip().lower() in ("off", "none", "")):
        return None
    span = split_span(value) if isinstance(value, str) else None
    if span is None:
        raise problem("bad_quiet_hours")
    return "-".join(span)


def _periods(value: object) -> object:
    """A list, or words separated by commas/spaces as typed in chat; off or [] for none."""
    if isinstance(value, str):
        words = [w for w in re.split(r"[,\s，]+", value.strip().lower()) if w]
        return [] if words in (["off"], ["none"]) else words
    return value


def _off(value: object) -> object:
    """A setting whose None means "the default" may be typed off (as it is shown)."""
    if value is False or (isinstance(value, str) and value.strip().lower() in ("off", "none", "")):
        return None
    return value


Zone = Annotated[str, AfterValidator(_zone)]


class BoardPlan(Strict):
    time: Clock = "18:00"
    periods: Annotated[list[Literal["day", "week", "month"]], BeforeValidator(_periods)] = ["day", "week", "month"]
    weekly_on: Literal[WEEKDAYS] = "friday"  # type: ignore[valid-type]
    # None: the unit's announcement metric
    metric: Annotated[Literal[METRICS] | None, BeforeValidator(_off)] = None  # type: ignore[valid-type]
    top: int = Field(10, ge=1, le=50)
    weekends: bool = False
    # None: the platform's default
    merge_seconds: Annotated[int | None, Field(ge=0, le=3600), BeforeValidator(_off)] = None


class ChannelSettings(Strict):
    name: Annotated[str, AfterValidator(visible)] | None = Field(None, max_length=200)
    locale: Literal[LOCALES] = "en"  # type: ignore[valid-type]
    timezone: Zone = "UTC"
    include_subunits: bool = True
    quiet_hours: Annotated[str | None, BeforeValidator(_quiet)] = None
    boards: BoardPlan = Field(default_factory=BoardPlan)


def settings_of(uow: UnitOfWork, channel: TeamChannel) -> ChannelSettings:
    """The settings a channel's rows hold (defaults where there is no board row)."""
    row = uow.session.scalar(select(ChannelBoardSettings).where(ChannelBoardSettings.channel_id == channel.id))
    quiet = (f"{clock_of(channel.quiet_start)}-{clock_of(channel.quiet_end)}"
             if channel.quiet_start is not None and channel.quiet_end is not None else None)
    boards = BoardPlan()
    if row is not None:
        periods = [p for p, on in (("day", row.daily), ("week", row.weekly_weekday is not None),
                                   ("month", row.monthly)) if on]
        boards = BoardPlan(time=clock_of(row.push_minute), periods=periods,
                           weekly_on=WEEKDAYS[row.weekly_weekday if row.weekly_weekday is not None else 4],
                           metric=row.metric if row.metric in METRICS else None, top=row.top_n,
                           weekends=row.include_weekends, merge_seconds=row.merge_seconds)
    return ChannelSettings(name=channel.name or None, locale=channel.locale, timezone=channel.timezone,
                           include_subunits=channel.include_subunits, quiet_hours=quiet, boards=boards)


def apply(uow: UnitOfWork, channel: TeamChannel, settings: ChannelSettings) -> None:
    """Write checked settings onto the channel's rows (the caller audits and commits)."""
    channel.name = settings.name or channel.name or channel.chat_id
    channel.locale = settings.locale
    channel.timezone = settings.timezone
    channel.include_subunits = settings.include_subunits
    if settings.quiet_hours:
        start, end = settings.quiet_hours.split("-")
        channel.quiet_start, channel.quiet_end = minutes(start), minutes(end)
    else:
        channel.quiet_start = channel.quiet_end = None
    _apply_boards(uow, channel, settings.boards)


def _apply_boards(uow: UnitOfWork, channel: TeamChannel, plan: BoardPlan) -> None:
    row = uow.session.scalar(select(ChannelBoardSettings).where(ChannelBoardSettings.channel_id == channel.id))
    if row is None and plan == BoardPlan():
        return  # no row means the defaults: none is written for a channel that keeps them
    if row is None:
        if channel.id is None:
            uow.session.flush()
        row = ChannelBoardSettings(channel_id=channel.id)
        uow.session.add(row)
        # Inserted with the column defaults first: the ORM leaves a None out of an INSERT when the
        # column has a default, so "no weekly board" written at once would come back as Friday.
        uow.session.flush()
    row.push_minute = minutes(plan.time)
    row.daily = "day" in plan.periods
    row.weekly_weekday = WEEKDAYS.index(plan.weekly_on) if "week" in plan.periods else None
    row.monthly = "month" in plan.periods
    # The column is not nullable: "" stands for the unit's announcement metric.
    row.metric = plan.metric or ""
    row.top_n = plan.top
    row.include_weekends = plan.weekends
    row.merge_seconds = plan.merge_seconds
