"""A unit's visit checks from the chat (`/unit UNIT`, `/unit set UNIT key=value…`): the thresholds,
working hours and office the unit's visits are judged by — its own, or those of the unit above it
that it follows — and changing them, typed as the org file writes them under `visits:` (nested keys
with a dot: `office.radius_m=300`; `office=31.2304,121.4737` sets both coordinates, `office=off`
takes the office out), checked by VisitRules, all or nothing.

A unit that followed the unit above gets settings of its own when something changes, starting
from what it followed.
Customer settings (`cadence.A=5`, `tiers.A=…`) go to bot.services.customers.unit_admin; one
`/unit set` may change both, all or nothing.
Who may: company admins, and managers of the unit or a unit above it; any other unit reads like an
unknown one.
"""
from dataclasses import dataclass

from bot.services.core import org
from bot.services.core.settings_rows import Change, Setting, changes_between
from bot.services.core.validation import SettingsError, check
from bot.services.customers import unit_admin as customer_admin
from bot.services.visits.thresholds import unit_settings_query
from bot.services.visits.unit_settings import VisitRules, apply, rules_of
from db.base import utcnow
from db.models import OrgUnit, User
from db.session import UnitOfWork

OFF_WORDS = ("off", "none", "-")


@dataclass(frozen=True)
class UnitRules:
    unit: str
    follows: str | None  # the unit whose settings apply when not its own; "" when only the defaults
    settings: list[Setting]
    customers: list[Setting]  # the revisit cadence (and, on the top unit, the tier thresholds)
    customers_follow: str | None  # as `follows`, for the customer settings


@dataclass(frozen=True)
class RulesChanged:
    rules: UnitRules
    changes: list[Change]


def show(uow: UnitOfWork, user_id: int, unit_name: str) -> UnitRules:
    unit = _unit(uow, user_id, unit_name)
    rules, follows = _followed(uow, unit)
    return UnitRules(unit.name, follows, setting_lines(rules), *customer_admin.current(uow, unit))


def set_rules(uow: UnitOfWork, user_id: int, unit_name: str, typed: list[tuple[str, str]]) -> RulesChanged:
    """Merge key=value pairs over the settings the unit follows now; any problem changes nothing."""
    unit = _unit(uow, user_id, unit_name)
    current, follows = _followed(uow, unit)
    data = current.model_dump()
    for key, value in typed:
        if not customer_admin.is_customer_key(key):
            _merge(data, key, value)
    customers = customer_admin.plan(uow, unit, [(k, v) for k, v in typed if customer_admin.is_customer_key(k)])
    new = check(VisitRules, data)
    changes = changes_between(setting_lines(current), setting_lines(new))
    if changes:
        apply(uow, unit, new, utcnow())
        follows = None  # its own now
    customer_admin.write(uow, unit, customers)
    uow.session.flush()
    rules = UnitRules(unit.name, follows, setting_lines(new),
                      customer_admin.setting_lines(customers.rules, unit), customers.follows)
    return RulesChanged(rules, changes + customers.changes)


def setting_lines(rules: VisitRules) -> list[Setting]:
    """Every setting as typed; the office as office.latitude, office.longitude, office.radius_m."""
    data = rules.model_dump()
    office = data.pop("office") or {}
    return ([Setting(key, value) for key, value in data.items()]
            + [Setting(f"office.{key}", office.get(key)) for key in ("latitude", "longitude", "radius_m")])


def _merge(data: dict, key: str, value: str) -> None:
    group, dot, name = key.partition(".")
    if group != "office":
        data[key] = value
    elif not dot and value.lower() in OFF_WORDS:
        data["office"] = None
    elif not dot:
        latitude, comma, longitude = value.partition(",")
        if not comma:
            raise SettingsError("bad_office", "office", value=value)
        data["office"] = {**(data.get("office") or {}), "latitude": latitude.strip(), "longitude": longitude.strip()}
    else:
        data["office"] = {**(data.get("office") or {}), name: None if value.lower() in OFF_WORDS else value}


def _unit(uow: UnitOfWork, user_id: int, unit_name: str) -> OrgUnit:
    user = uow.session.get(User, user_id)
    assert user is not None
    units = [u for u in org.units_by_name(uow, unit_name) if u.active and org.manages_unit(uow, user, u.id)]
    if len(units) != 1:
        raise SettingsError("unknown_unit", "unit", value=unit_name)
    return units[0]


def _followed(uow: UnitOfWork, unit: OrgUnit) -> tuple[VisitRules, str | None]:
    """The settings the unit's visits are judged by, and whose they are: None its own, else the
    name of the unit above it has them from ("" for the defaults). One read: the nearest row up the
    tree, the unit itself first."""
    row = uow.session.scalar(unit_settings_query(unit.id))
    if row is None:
        return VisitRules(), ""
    if row.unit_id == unit.id:
        return rules_of(row), None
    above = uow.session.get(OrgUnit, row.unit_id)
    return rules_of(row), above.name if above is not None else ""
