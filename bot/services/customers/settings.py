"""A unit's customer settings as people write them (org file `units: … customers:`): the revisit
cadence per tier in calendar days (`off`: no revisit expected) and, on the top unit (the company)
only, the collected amounts from which a customer is in each tier (left out: quantiles, see
tiers.py). How they map onto the unit's `customer_settings` row.

As with the visit checks, a unit with its own row uses every value of it; a unit without one
follows the nearest unit above that has one, and with none the defaults below apply."""
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Annotated

from pydantic import BeforeValidator, Field, model_validator
from sqlalchemy import Select, func, select
from sqlalchemy.orm import aliased

from bot.services.core.queries import among
from bot.services.core.settings_rows import assign, unit_row, unit_row_to_write
from bot.services.core.validation import Strict, problem
from db.base import utcnow
from db.models import CustomerSettings, OrgUnit
from db.session import UnitOfWork

TIERS = ("A", "B", "C", "D", "E")
OFF_WORDS = ("off", "none", "-")
MAX_AMOUNT = Decimal("1e12")


def _off_is_none(value: object) -> object:
    return None if isinstance(value, str) and value.strip().lower() in OFF_WORDS else value


Days = Annotated[Annotated[int, Field(ge=1, le=3650)] | None, BeforeValidator(_off_is_none)]
Amount = Annotated[Decimal, Field(gt=0, lt=MAX_AMOUNT, decimal_places=2)]


class Cadence(Strict):
    """Days between visits per tier; None: no revisit expected."""

    A: Days = 7
    B: Days = 14
    C: Days = 30
    D: Days = 60
    E: Days = None

    def days(self, tier: str | None) -> int | None:
        return getattr(self, tier) if tier in TIERS else None


class TierThresholds(Strict):
    """The least amount collected over the last 12 months for each tier; below D's: E."""

    A: Amount
    B: Amount
    C: Amount
    D: Amount

    @model_validator(mode="after")
    def _falling(self) -> "TierThresholds":
        if not self.A > self.B > self.C > self.D:
            raise problem("tier_order")
        return self


class CustomerRules(Strict):
    cadence: Cadence = Field(default_factory=Cadence)
    tiers: TierThresholds | None = None  # on the top unit only; None: quantiles

    def as_file(self) -> dict:
        """The keys that differ from the defaults, as an org file writes them (amounts as numbers)."""
        written = self.model_dump(exclude_defaults=True)
        if self.tiers is not None:
            written["tiers"] = {tier: _number(amount) for tier, amount in self.tiers.model_dump().items()}
        return written


def _number(amount: Decimal) -> int | float:
    return int(amount) if amount == amount.to_integral_value() else float(amount)


@dataclass(frozen=True)
class Followed:
    """The settings a unit's customers are kept by, and whose they are: None its own, else the name
    of the unit above they come from ("" for the defaults)."""

    rules: CustomerRules
    follows: str | None


def settings_of(uow: UnitOfWork, unit_id: int) -> CustomerRules | None:
    """The unit's own settings; None when it follows the unit above."""
    row = unit_row(uow, CustomerSettings, unit_id)
    return rules_of(row) if row is not None else None


def rules_of(row: CustomerSettings) -> CustomerRules:
    cadence = Cadence(**{tier: getattr(row, f"cadence_{tier.lower()}") for tier in TIERS})
    amounts = [getattr(row, f"tier_{tier.lower()}_min") for tier in TIERS[:4]]
    tiers = TierThresholds(**dict(zip(TIERS, amounts, strict=False))) if None not in amounts else None
    return CustomerRules(cadence=cadence, tiers=tiers)


def apply(uow: UnitOfWork, unit: OrgUnit, rules: CustomerRules | None, now: datetime) -> None:
    """Write the unit's own settings; None takes them out (marked, kept), so it follows the unit above."""
    row = unit_row_to_write(uow, CustomerSettings, unit.id, rules is not None, now)
    if row is None or rules is None:
        return
    values: dict = {f"cadence_{tier.lower()}": getattr(rules.cadence, tier) for tier in TIERS}
    values |= {f"tier_{tier.lower()}_min": getattr(rules.tiers, tier) if rules.tiers else None for tier in TIERS[:4]}
    if assign(row, values):
        row.updated_at = utcnow()


def nearest_row_query(unit_id) -> Select:
    """The settings row of the nearest unit up the tree (the unit itself first) that has one."""
    ancestor, unit = aliased(OrgUnit), aliased(OrgUnit)
    return (
        select(CustomerSettings).join(ancestor, ancestor.id == CustomerSettings.unit_id)
        .join(unit, unit.path.startswith(ancestor.path))
        .where(unit.id == unit_id, CustomerSettings.removed_at.is_(None))
        .order_by(func.length(ancestor.path).desc()).limit(1)
    )


def followed(uow: UnitOfWork, unit: OrgUnit) -> Followed:
    row = uow.session.scalar(nearest_row_query(unit.id))
    if row is None:
        return Followed(CustomerRules(), "")
    if row.unit_id == unit.id:
        return Followed(rules_of(row), None)
    above = uow.session.get(OrgUnit, row.unit_id)
    return Followed(rules_of(row), above.name if above is not None else "")


def cadence_of_units(uow: UnitOfWork, unit_ids: set[int]) -> dict[int, Cadence]:
    """The cadence each of these units follows, in two statements however many units (a morning push
    asks for every team): their paths, and every unit's own settings row; the nearest up each path wins."""
    if not unit_ids:
        return {}
    paths = dict(uow.session.execute(select(OrgUnit.id, OrgUnit.path).where(among(uow, OrgUnit.id, list(unit_ids)))).all())
    own = {path: row for path, row in uow.session.execute(
        select(OrgUnit.path, CustomerSettings).join(OrgUnit, OrgUnit.id == CustomerSettings.unit_id)
        .where(CustomerSettings.removed_at.is_(None))).all()}
    cadences = {}
    for unit_id in unit_ids:
        parts = paths.get(unit_id, "/").strip("/").split("/")
        ancestors = ("/" + "/".join(parts[:n]) + "/" for n in range(len(parts), 0, -1))
        row = next((own[path] for path in ancestors if path in own), None)
        cadences[unit_id] = rules_of(row).cadence if row is not None else Cadence()
    return cadences

