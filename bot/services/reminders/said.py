"""What a date expression names before the shared rules of bot.services.reminders.when, and the
calendar helpers both grammars use."""
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta


@dataclass(frozen=True)
class Said:
    """What an expression names, before the shared rules: the day(s) it could mean and its time."""

    words: str
    start: int  # where it begins in the note (the first expression wins)
    days: tuple[date, ...] = ()
    clocks: tuple[time, ...] = ()  # () : no time said; two: an hour that reads both ways
    exact: datetime | None = None  # a span from now ("in 2 hours", 3天后): the time is now's
    vague: bool = False



def weekday_days(weekday: int, today: date, week_offset: int | None) -> tuple[date, ...]:
    """The day(s) a weekday (0 = Monday) names. week_offset None: the weekday alone (the coming one;
    said on that weekday, today or a week on); 0: this week's; 1: next week's; 2: the week after."""
    monday = today - timedelta(days=today.weekday())
    if week_offset is not None:
        return (monday + timedelta(days=7 * week_offset + weekday),)
    ahead = (weekday - today.weekday()) % 7
    if ahead == 0:
        return today, today + timedelta(days=7)
    return (today + timedelta(days=ahead),)


def next_month_day(month: int, day: int, today: date) -> date | None:
    """Month and day without a year: this year's if still to come (today counts), else next year's."""
    for year in (today.year, today.year + 1):
        try:
            candidate = date(year, month, day)
        except ValueError:
            return None
        if candidate >= today:
            return candidate
    return None


def month_end(year: int, month: int) -> date:
    first_of_next = date(year + month // 12, month % 12 + 1, 1)
    return first_of_next - timedelta(days=1)


def coming_month_end(month: int, today: date) -> date:
    """The end of a named month: this year's unless that month has ended."""
    year = today.year if month >= today.month else today.year + 1
    return month_end(year, month)
