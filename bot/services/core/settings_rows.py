"""Writing checked settings onto a row without touching what already holds its value, so loading
the same settings again updates nothing (and writes no audit row)."""
from collections.abc import Mapping


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
