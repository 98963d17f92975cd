"""A unit's customer settings from the chat, beside its visit checks (`/unit UNIT`, `/unit set UNIT
key=value…`, bot.services.visits.unit_admin): the revisit cadence per tier (`cadence.A=5`,
`cadence.E=off`) and, on the top unit only, the tier thresholds (`tiers.A=500000` … `tiers.D=…`, all
four; `tiers=quantiles` goes back to quantiles), checked by CustomerRules like the org file's
`customers:`. A unit that followed the unit above gets settings of its own when something changes,
starting from what it followed (never the company's thresholds, which only the top unit holds)."""
from dataclasses import dataclass

from bot.services.core.settings_rows import Change, Setting, changes_between
from bot.services.core.validation import SettingsError, check
from bot.services.customers.settings import OFF_WORDS, TIERS, CustomerRules, apply, followed
from db.base import utcnow
from db.models import OrgUnit
from db.session import UnitOfWork

GROUPS = ("cadence", "tiers")
QUANTILE_WORDS = (*OFF_WORDS, "quantiles")


@dataclass(frozen=True)
class Plan:
    """The settings the unit would have after the typed changes, checked, not written yet."""

    rules: CustomerRules
    follows: str | None
    changes: list[Change]


def is_customer_key(key: str) -> bool:
    return key.partition(".")[0] in GROUPS


def current(uow: UnitOfWork, unit: OrgUnit) -> tuple[list[Setting], str | None]:
    """The unit's customer settings as typed, and whose they are (see settings.Followed)."""
    found = followed(uow, unit)
    return setting_lines(found.rules, unit), found.follows


def plan(uow: UnitOfWork, unit: OrgUnit, typed: list[tuple[str, str]]) -> Plan:
    """Merge key=value pairs over what the unit follows now; any problem raises, nothing written."""
    found = followed(uow, unit)
    data = found.rules.model_dump()
    if unit.parent_id is not None:
        data["tiers"] = None
    for key, value in typed:
        _merge(unit, data, key, value)
    new = check(CustomerRules, data)
    changes = changes_between(setting_lines(found.rules, unit), setting_lines(new, unit))
    return Plan(new, None if changes else found.follows, changes)


def write(uow: UnitOfWork, unit: OrgUnit, planned: Plan) -> None:
    if planned.changes:
        apply(uow, unit, planned.rules, utcnow())


def setting_lines(rules: CustomerRules, unit: OrgUnit) -> list[Setting]:
    lines = [Setting(f"cadence.{tier}", getattr(rules.cadence, tier)) for tier in TIERS]
    if unit.parent_id is None:
        lines += [Setting(f"tiers.{tier}", _amount(getattr(rules.tiers, tier)) if rules.tiers else None)
                  for tier in TIERS[:4]]
    return lines


def _amount(value) -> int | float:
    return int(value) if value == value.to_integral_value() else float(value)


def _merge(unit: OrgUnit, data: dict, key: str, value: str) -> None:
    group, dot, name = key.partition(".")
    if group == "tiers" and unit.parent_id is not None:
        raise SettingsError("tiers_on_company", key, value=value)
    if group == "tiers" and not dot:
        if value.lower() not in QUANTILE_WORDS:
            raise SettingsError("invalid", key, value=value)
        data["tiers"] = None
    elif group == "tiers":
        data["tiers"] = {**(data.get("tiers") or {}), name: value}
    elif dot:
        data["cadence"] = {**data["cadence"], name: value}
    else:
        raise SettingsError("unknown_key", key)
