"""Visits a rep schedules (/plan add CUSTOMER [DATE] [TIME], /plan drop CUSTOMER [DATE]) and his morning
message's setting (/plan morning on|off|HH:MM). Days and times are read by the reminders' reader
(bot.services.reminders: English and Chinese words, "tomorrow 10:00", 明天上午10点), plus ISO dates and a
bare HH:MM; a day that has passed is refused and nothing is written."""
import re
from dataclasses import dataclass
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from sqlalchemy import select

from bot.errors import UserError
from bot.services.manager import scope
from bot.services.reminders import when_en, when_zh
from bot.services.visits.visit_targets import Target, resolve_target
from bot.services.visits.visits import zone_of
from db.models import PlannedVisit, PlanSettings, User
from db.session import UnitOfWork

DEFAULT_MORNING = 8 * 60 + 30
_ISO_DAY = re.compile(r"(?<!\d)(\d{4})-(\d{1,2})-(\d{1,2})(?!\d)")
_CLOCK = re.compile(r"(?<![\d:])([01]?\d|2[0-3])[:：]([0-5]\d)(?![\d:])")
_AM_PM = re.compile(r"(?<![\d:])(1[0-2]|0?[1-9])(?:[:：]([0-5]\d))?\s*([ap])\.?m\b", re.IGNORECASE)


@dataclass(frozen=True)
class Scheduled:
    id: int
    target: Target
    day: date
    at: time | None


@dataclass(frozen=True)
class Morning:
    on: bool
    at: time


def read_day(text: str, now: datetime, zone: ZoneInfo) -> tuple[date, time | None]:
    """The local day and optional time the words name; nothing said: today. Vague or past: refused."""
    local = now.astimezone(zone)
    text = text.strip()
    if not text:
        return local.date(), None
    day, clock = _iso(text)
    if day is None:
        found = [s for s in (when_zh.find(text, local), when_en.find(text, local)) if s is not None]
        said = min(found, key=lambda s: s.start) if found else None
        if said is None and clock is None:
            raise UserError("plans/bad_date", words=text[:40])
        if said is not None and said.vague:
            raise UserError("plans/vague_date", words=said.words)
        if said is not None and said.exact is not None:
            day, clock = said.exact.date(), said.exact.time().replace(second=0, microsecond=0)
        elif said is not None:
            day = said.days[0]
            clock = clock or _likely_clock(said.clocks)
        else:
            day = local.date()
    if day < local.date() or (day == local.date() and clock is not None and clock <= local.time()):
        raise UserError("plans/past_date", words=text[:40])
    return day, clock


def _clock(text: str) -> time | None:
    """A time written as 14:30 or 2:30pm / 3pm."""
    found = _AM_PM.search(text)
    if found:
        return time(int(found[1]) % 12 + (12 if found[3].lower() == "p" else 0), int(found[2] or 0))
    found = _CLOCK.search(text)
    return time(int(found[1]), int(found[2])) if found else None


def _iso(text: str) -> tuple[date | None, time | None]:
    clock = _clock(text)
    day_match = _ISO_DAY.search(text)
    if day_match is None:
        return None, clock
    try:
        return date(int(day_match[1]), int(day_match[2]), int(day_match[3])), clock
    except ValueError:
        raise UserError("plans/bad_date", words=day_match[0]) from None


def _likely_clock(clocks: tuple[time, ...]) -> time | None:
    """An hour that reads both ways (3点): the one in working hours."""
    if not clocks:
        return None
    working = [c for c in clocks if 7 <= c.hour < 20]
    return (working or list(clocks))[0]


def add(uow: UnitOfWork, user: User, target_text: str, when_text: str, now: datetime) -> Scheduled:
    """Schedule a visit to a customer or lead he may see (out of scope reads like not found)."""
    target = resolve_target(uow, scope.of(uow, user.id), target_text)
    day, clock = read_day(when_text, now, zone_of(user))
    row = PlannedVisit(user_id=user.id, customer_id=target.id if target.kind == "customer" else None,
                       lead_id=target.id if target.kind == "lead" else None, day=day,
                       minute=clock.hour * 60 + clock.minute if clock else None, created_by_id=user.id, created_at=now)
    uow.session.add(row)
    uow.session.flush()
    return Scheduled(row.id, target, day, clock)


def drop(uow: UnitOfWork, user: User, target_text: str, when_text: str, now: datetime) -> Scheduled:
    """Drop his next scheduled visit to it (on the day named, if one is); marked, never deleted."""
    target = resolve_target(uow, scope.of(uow, user.id), target_text)
    today = now.astimezone(zone_of(user)).date()
    column = PlannedVisit.customer_id if target.kind == "customer" else PlannedVisit.lead_id
    query = select(PlannedVisit).where(PlannedVisit.user_id == user.id, column == target.id,
                                       PlannedVisit.dropped_at.is_(None), PlannedVisit.day >= today)
    if when_text.strip():
        query = query.where(PlannedVisit.day == read_day(when_text, now, zone_of(user))[0])
    row = uow.session.scalar(query.order_by(PlannedVisit.day, PlannedVisit.minute, PlannedVisit.id).limit(1)
                             .with_for_update())
    if row is None:
        raise UserError("plans/not_planned", ref=target.ref, name=target.name)
    row.dropped_at, row.dropped_by_id = now, user.id
    clock = time(row.minute // 60, row.minute % 60) if row.minute is not None else None
    return Scheduled(row.id, target, row.day, clock)


def morning_of(uow: UnitOfWork, user_id: int) -> Morning:
    row = uow.session.scalar(select(PlanSettings).where(PlanSettings.user_id == user_id))
    minute = row.morning_minute if row else DEFAULT_MORNING
    return Morning(row.morning if row else True, time(minute // 60, minute % 60))


def set_morning(uow: UnitOfWork, user_id: int, value: str, now: datetime) -> Morning:
    """on | off | HH:MM (which also turns it on)."""
    word = value.strip().lower()
    row = uow.session.scalar(select(PlanSettings).where(PlanSettings.user_id == user_id).with_for_update())
    clock = _CLOCK.fullmatch(word)
    if word not in ("on", "off", "开", "关") and clock is None:
        raise UserError("plans/bad_morning", value=value[:20])
    if row is None:
        row = PlanSettings(user_id=user_id, morning=True, morning_minute=DEFAULT_MORNING, updated_at=now)
        uow.session.add(row)
    row.morning = word not in ("off", "关")
    if clock is not None:
        row.morning_minute = int(clock[1]) * 60 + int(clock[2])
    row.updated_at = now
    uow.session.flush()
    return Morning(row.morning, time(row.morning_minute // 60, row.morning_minute % 60))
