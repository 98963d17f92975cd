"""The sales calendar: day, week, month and quarter periods, local midnights as UTC instants, and
working days (Monday to Friday, minus the holidays table). Boards, targets and nudges count in it."""
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from db.models import Holiday
from db.session import UnitOfWork

PERIODS = ("day", "week", "month", "quarter")


def period_dates(period: str, day: date) -> tuple[date, date]:
    """[start, end) of the day/week/month/quarter containing `day` (weeks start on Monday)."""
    if period == "day":
        return day, day + timedelta(days=1)
    if period == "week":
        start = day - timedelta(days=day.weekday())
        return start, start + timedelta(days=7)
    if period == "month":
        start = day.replace(day=1)
    elif period == "quarter":
        start = date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)
    else:
        raise ValueError(period)
    months = 1 if period == "month" else 3
    year, month = divmod(start.month - 1 + months, 12)
    return start, date(start.year + year, month + 1, 1)


def local_midnight(day: date, zone: ZoneInfo) -> datetime:
    """The UTC instant of local midnight (correct on daylight-saving days)."""
    return datetime.combine(day, time(0), zone).astimezone(UTC)


def utc_range(start: date, end: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    return local_midnight(start, zone), local_midnight(end, zone)


@dataclass(frozen=True)
class Window:
    """A period as both local dates and UTC instants."""

    period: str
    start: date
    end: date
    start_utc: datetime
    end_utc: datetime

    @classmethod
    def of(cls, period: str, today: date, zone: ZoneInfo) -> "Window":
        start, end = period_dates(period, today)
        start_utc, end_utc = utc_range(start, end, zone)
        return cls(period, start, end, start_utc, end_utc)


def holidays_between(uow: UnitOfWork, start: date, end: date) -> set[date]:
    return set(uow.session.scalars(select(Holiday.day).where(Holiday.day >= start, Holiday.day < end,
                                                              Holiday.removed_at.is_(None))))


def is_working_day(day: date, holidays: set[date]) -> bool:
    return day.weekday() < 5 and day not in holidays


def working_days(start: date, end: date, holidays: set[date]) -> list[date]:
    days, day = [], start
    while day < end:
        if is_working_day(day, holidays):
            days.append(day)
        day += timedelta(days=1)
    return days


def last_working_day(day: date, holidays: set[date]) -> date:
    """The month's last working day (its last day when it has none)."""
    start, end = period_dates("month", day)
    candidates = working_days(start, end, holidays)
    return candidates[-1] if candidates else end - timedelta(days=1)


def next_working_day(day: date, holidays: set[date]) -> date:
    """The day itself when it is a working day, else the first working day after it."""
    while not is_working_day(day, holidays):
        day += timedelta(days=1)
    return day
