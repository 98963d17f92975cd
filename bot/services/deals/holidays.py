"""The company's holidays as the org file writes them (`holidays:`): days that are not working
days (no daily board, no nudge, streaks neither extended nor broken), a list of dates or dates with
their names. The `holidays` table becomes exactly the file's list; days taken out are marked, not deleted."""
from datetime import date, datetime
from typing import Annotated

from pydantic import BeforeValidator, Field
from sqlalchemy import select

from bot.services.core.settings_rows import as_mapping, assign
from db.models import Holiday
from db.session import UnitOfWork


def _as_mapping(value: object) -> object:
    """A list of dates is dates without names; nothing under the key is no holidays."""
    return as_mapping(value, lambda _day: "")


HolidayName = Annotated[str, BeforeValidator(lambda v: "" if v is None else v), Field(max_length=100)]
Holidays = Annotated[dict[date, HolidayName], BeforeValidator(_as_mapping)]


def holidays_of(uow: UnitOfWork) -> dict[date, str]:
    return {row.day: row.name for row in uow.session.scalars(
        select(Holiday).where(Holiday.removed_at.is_(None)).order_by(Holiday.day))}


def as_file(holidays: dict[date, str]) -> list[str] | dict[str, str]:
    """Dates alone when none has a name, else every date with its name."""
    if not any(holidays.values()):
        return [day.isoformat() for day in holidays]
    return {day.isoformat(): name for day, name in holidays.items()}


def apply(uow: UnitOfWork, holidays: dict[date, str], now: datetime) -> None:
    """The holidays become exactly these: days no longer listed are marked removed (kept as history),
    a day listed again comes back."""
    rows = {row.day: row for row in uow.session.scalars(select(Holiday))}
    for day, row in rows.items():
        if day not in holidays and row.removed_at is None:
            row.removed_at = now
    for day, name in sorted(holidays.items()):
        row = rows.get(day)
        if row is None:
            uow.session.add(Holiday(day=day, name=name))
        else:
            assign(row, {"name": name, "removed_at": None})
