"""Writing checked settings onto a row without touching what already holds its value, so loading
the same settings again updates nothing (and writes no audit row)."""
from collections.abc import Callable, Mapping


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
