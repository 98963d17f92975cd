"""Writing checked settings onto a row without touching what already holds its value, so loading
the same settings again updates nothing (and writes no audit row)."""
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from db.session import UnitOfWork

Value = str | int | float | bool | list | None


@dataclass(frozen=True)
class Setting:
    """One setting as it is typed in chat: `boards.time`, `office.radius_m`."""

    key: str
    value: Value  # None: off / the default


@dataclass(frozen=True)
class Change:
    key: str
    old: Value
    new: Value


def changes_between(before: list[Setting], after: list[Setting]) -> list[Change]:
    """The settings whose value differs, in `after`'s order."""
    old = {s.key: s.value for s in before}
    return [Change(s.key, old.get(s.key), s.value) for s in after if old.get(s.key) != s.value]


def assign(row: object, values: Mapping[str, object]) -> bool:
    """Set each column that differs; True when any did."""
    changed = False
    for column, value in values.items():
        if getattr(row, column) != value:
            setattr(row, column, value)
            changed = True
    return changed


def tidy(value: float) -> float:
    """A whole number of metres or km/h written without its '.0' (500, not 500.0)."""
    return int(value) if float(value).is_integer() else value


def as_mapping(value: object, name_of: Callable[[str], str]) -> object:
    """A mapping written as a list: plain items are keys named by `name_of(key)`, `- key: name`
    items are taken as written; nothing under the key is an empty mapping. Anything else is left
    for the model to refuse."""
    if value is None:
        return {}
    if not isinstance(value, list):
        return value
    merged: dict = {}
    for item in value:
        if isinstance(item, dict):
            merged.update(item)
        elif isinstance(item, str):
            merged[item] = name_of(item)
        else:
            return value
    return merged


def unit_row(uow: UnitOfWork, model: type, unit_id: int) -> Any | None:
    """A unit's own settings row of `model`; None when it has none or it was taken out (it then
    follows the unit above)."""
    row = uow.session.scalar(select(model).where(model.unit_id == unit_id))
    return row if row is not None and row.removed_at is None else None


def unit_row_to_write(uow: UnitOfWork, model: type, unit_id: int, keep: bool, now: datetime) -> Any | None:
    """The unit's own row of `model`, ready to be written: created, or brought back when it was taken
    out. With keep False, an existing row is taken out instead (marked, kept as history) and None
    returned."""
    row = uow.session.scalar(select(model).where(model.unit_id == unit_id))
    if not keep:
        if row is not None and row.removed_at is None:
            row.removed_at = now
        return None
    if row is None:
        row = model(unit_id=unit_id)
        uow.session.add(row)
    else:
        assign(row, {"removed_at": None})
    return row
