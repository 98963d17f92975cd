"""When a note says to do something: a date expression found in free text, read against the writer's
own clock, becomes one local date-time, a choice between readings, a request for a day, or a refusal
because it has passed. English is read by dateparser (bot.services.reminders.when_en), Chinese by a
small grammar (bot.services.reminders.when_zh: dateparser cannot read 下周二 or 下午三点). The rules
below are shared by both and listed in docs/user/reminders.md:

- a day without a time means 09:00 (the start of a working day);
- a time without a day means today; once it has passed it is refused, not moved to tomorrow;
- a weekday alone said on that weekday could be today or a week on: both are offered;
- English "next Friday" said earlier in the same week could be this week's or next week's: both are
  offered (Chinese 下周五 is always next week's);
- a week or a month without a day ("next week", 下周, 下个月) asks for the day; nothing is guessed;
- a month and day without a year is the next one to come; a whole date that has passed is refused;
- of several expressions in one note, the first is read;
- an ISO date, with or without a time (2026-12-10, 2026-12-10 15:00: what a form's date and time
  pickers send), is read as written.
"""
import re
from dataclasses import dataclass, field
from datetime import date, datetime, time
from enum import StrEnum
from zoneinfo import ZoneInfo

from bot.services.reminders import when_en, when_zh
from bot.services.reminders.said import Said

DEFAULT_CLOCK = time(9, 0)


class Kind(StrEnum):
    AT = "at"  # one local date-time
    CHOOSE = "choose"  # two readings: the writer picks one
    VAGUE = "vague"  # a week or month, no day: the writer is asked for the day
    PAST = "past"  # it has passed: nothing is set


@dataclass(frozen=True)
class Reading:
    words: str  # the expression as found in the note
    kind: Kind
    at: datetime | None = None  # local, aware: Kind.AT
    candidates: tuple[datetime, ...] = field(default=())  # local, aware: Kind.CHOOSE


_ISO = re.compile(r"(?<!\d)(\d{4}-\d{2}-\d{2})(?:[ T](\d{1,2}):(\d{2}))?(?![\d:])")


def _iso(note: str) -> Said | None:
    match = _ISO.search(note)
    if match is None:
        return None
    try:
        day = date.fromisoformat(match.group(1))
        clock = time(int(match.group(2)), int(match.group(3))) if match.group(2) else None
    except ValueError:
        return None
    return Said(match.group(0), match.start(), days=(day,), clocks=(clock,) if clock else ())


def read(note: str, now: datetime, zone: ZoneInfo) -> Reading | None:
    """The first date expression in the note read at `now` in the writer's zone, or None."""
    local = now.astimezone(zone)
    found = [said for said in (_iso(note), when_zh.find(note, local), when_en.find(note, local)) if said is not None]
    if not found:
        return None
    return settle(min(found, key=lambda said: said.start), local)


def settle(said: Said, now: datetime) -> Reading:
    """Apply the shared rules to what an expression names; `now` is local and aware."""
    if said.vague:
        return Reading(said.words, Kind.VAGUE)
    if said.exact is not None:
        readings = [said.exact]
    else:
        clocks = said.clocks or (DEFAULT_CLOCK,)
        readings = sorted({datetime.combine(day, clock, now.tzinfo) for day in said.days for clock in clocks})
    ahead = [at for at in readings if at > now]
    if not ahead:
        return Reading(said.words, Kind.PAST)
    if len(ahead) == 1:
        return Reading(said.words, Kind.AT, at=ahead[0])
    return Reading(said.words, Kind.CHOOSE, candidates=tuple(ahead[:2]))


