"""One way to check settings people type, in an org file or in a chat command: a pydantic model
with unknown keys forbidden. The first problem becomes a SettingsError naming the key, what is
wrong with it and, in a file, the line; each problem has a template in errors/settings/.

Checks of our own raise PydanticCustomError with a problem code (bad_timezone, bad_time, ...), so
one table of templates covers both pydantic's checks and ours."""
import re
from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic_core import ErrorDetails, PydanticCustomError

from bot.errors import UserError

Model = TypeVar("Model", bound=BaseModel)
Path = tuple[str | int, ...]
# Where a key sits in its file: the 1-based line of the key at that path, or None.
Locate = Callable[[Path], int | None]


class Strict(BaseModel):
    """A settings model: unknown keys are refused, values are checked again when assigned."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, frozen=False)


# pydantic's error types, grouped into the problems a person is told about.
_PROBLEMS = {
    "extra_forbidden": "unknown_key",
    "missing": "missing_key",
    "int_parsing": "not_a_number", "int_type": "not_a_number", "int_from_float": "not_a_number",
    "float_parsing": "not_numeric", "float_type": "not_numeric", "finite_number": "not_numeric",
    "decimal_parsing": "not_numeric", "decimal_type": "not_numeric", "decimal_max_places": "not_numeric",
    "date_parsing": "not_a_date", "date_from_datetime_parsing": "not_a_date", "date_type": "not_a_date",
    "date_from_datetime_inexact": "not_a_date",
    "greater_than_equal": "too_small", "greater_than": "too_small",
    "less_than_equal": "too_large", "less_than": "too_large",
    "bool_parsing": "not_on_off", "bool_type": "not_on_off",
    "literal_error": "not_a_choice", "enum": "not_a_choice",
    "string_type": "not_text", "string_too_long": "too_long", "string_too_short": "empty",
    "dict_type": "not_a_mapping", "model_type": "not_a_mapping", "model_attributes_type": "not_a_mapping",
    "list_type": "not_a_list", "too_long": "too_many",
}


# Every problem a person can be told about: pydantic's, grouped, and our own checks'.
PROBLEMS = {*_PROBLEMS.values(), "bad_timezone", "bad_time", "bad_quiet_hours", "unknown_unit", "unknown_user",
            "duplicate", "invalid", "bad_handle", "bad_phone_region", "unit_cycle", "unit_has_people", "not_yaml",
            "bad_work_hours", "bad_reason_code", "tier_order", "tiers_on_company"}


class SettingsError(UserError):
    """A setting is wrong; nothing of what carried it was written. `key` is the dotted path as the
    person wrote it (pools.2.rules.daily_claim_limit), `line` its line in the file, if any."""

    def __init__(self, problem: str, key: str, *, value: object = None, line: int | None = None,
                 source: str | None = None, **params: object):
        super().__init__(f"settings/{problem}", key=key, value=_shown(value), line=line, source=source, **params)
        self.problem = problem
        self.key = key
        self.line = line


def problem(code: str, **params: Any) -> PydanticCustomError:
    """A check of ours failed: raise this inside a validator; `code` names errors/settings/<code>.j2."""
    return PydanticCustomError(code, code, params)


def check(model: type[Model], data: object, *, locate: Locate | None = None, source: str | None = None,
          prefix: Path = ()) -> Model:
    """The model built from data, or SettingsError for the first problem found."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise settings_error(exc.errors()[0], locate=locate, source=source, prefix=prefix) from None


def settings_error(error: ErrorDetails, *, locate: Locate | None = None, source: str | None = None,
                   prefix: Path = ()) -> SettingsError:
    # A mapping's key is named by itself (holidays.2026-13-01), not by pydantic's "[key]" after it.
    path = prefix + tuple(part for part in error["loc"] if part != "[key]")
    kind = error["type"]
    code = _PROBLEMS.get(kind, kind)
    params = dict(error.get("ctx") or {})
    params.pop("error", None)
    if code not in PROBLEMS:
        code = "invalid"
    if code == "not_a_choice" and "expected" in params:
        params["choices"] = re.sub(r",? or ", ", ", str(params.pop("expected"))).replace("'", "")
    for bound in ("ge", "gt", "le", "lt", "max_length", "min_length"):
        if bound in params:
            limit = params.pop(bound)
            params["limit"] = int(limit) if isinstance(limit, float) and limit.is_integer() else limit
    value = None if code == "unknown_key" else error.get("input")
    return SettingsError(code, dotted(path), value=value, line=locate(path) if locate else None, source=source,
                         **params)


def dotted(path: Path) -> str:
    """pools.2.rules.max_open_leads: list positions counted from 1, as people count them."""
    return ".".join(str(part + 1) if isinstance(part, int) else str(part) for part in path)


def _shown(value: object) -> str | None:
    """The offending value, short, for the message (never a whole mapping)."""
    if value is None or isinstance(value, dict | list):
        return None
    return str(value)[:60]
