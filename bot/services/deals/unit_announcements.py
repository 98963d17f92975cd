"""What a unit celebrates, as people write it (org file `units: … announcements:`): wins or money
collected, and the amounts that earn a bigger fanfare. How it maps onto the unit's
`unit_announce_settings` row; announcement_rules reads the nearest row up the tree as a whole, so a
key left out takes the default below, not the value of the unit above."""
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, Field

from bot.services.core.settings_rows import assign, unit_row, unit_row_to_write
from bot.services.core.validation import Strict
from bot.services.deals.announcement_rules import DEFAULT_FANFARE
from db.models import OrgUnit, UnitAnnouncementSettings
from db.session import UnitOfWork

Amount = Annotated[int, Field(ge=1, le=10**12)]


class AnnouncementRules(Strict):
    announce_on: Literal["won", "collected"] = "won"
    # Ascending; reaching the k-th amount gives fanfare level k. [] is the default list.
    fanfare: Annotated[list[Amount], Field(min_length=1, max_length=10), AfterValidator(lambda v: sorted(set(v)))] = Field(
        default_factory=lambda: [int(x) for x in DEFAULT_FANFARE])

    def as_file(self) -> dict:
        """The keys that differ from the defaults, as an org file writes them."""
        return self.model_dump(exclude_defaults=True)


def settings_of(uow: UnitOfWork, unit_id: int) -> AnnouncementRules | None:
    """The unit's own settings; None when it follows the unit above."""
    row = unit_row(uow, UnitAnnouncementSettings, unit_id)
    if row is None:
        return None
    fanfare = [int(float(x)) for x in row.fanfare_thresholds or []]
    return AnnouncementRules(announce_on=row.announce_on, **({"fanfare": fanfare} if fanfare else {}))


def apply(uow: UnitOfWork, unit: OrgUnit, rules: AnnouncementRules | None, now: datetime) -> None:
    """Write the unit's own settings; None takes them out (the row is marked, kept as history), so the
    unit follows the unit above."""
    row = unit_row_to_write(uow, UnitAnnouncementSettings, unit.id, rules is not None, now)
    if row is None or rules is None:
        return
    assign(row, {"announce_on": rules.announce_on, "fanfare_thresholds": rules.fanfare})
