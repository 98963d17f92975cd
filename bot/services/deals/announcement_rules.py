"""What a unit celebrates: wins or money collected (which also makes it the unit's default board
metric), and the amounts that earn a bigger fanfare. The nearest unit up the tree with its own
settings decides; without any, wins and DEFAULT_FANFARE."""
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select

from bot.services.core import org
from db.models import UnitAnnouncementSettings
from db.session import UnitOfWork

DEFAULT_FANFARE = (Decimal(100_000), Decimal(500_000), Decimal(1_000_000))


@dataclass(frozen=True)
class UnitRules:
    announce_on: str  # won | collected
    fanfare: tuple[Decimal, ...]

    @property
    def metric(self) -> str:
        return "collected" if self.announce_on == "collected" else "won_amount"


def unit_rules(uow: UnitOfWork, unit_id: int) -> UnitRules:
    """The nearest unit (itself, then ancestors) with settings decides; else the defaults."""
    chain = org.unit_chain(uow, unit_id)
    rows = {
        r.unit_id: r for r in uow.session.scalars(
            select(UnitAnnouncementSettings).where(UnitAnnouncementSettings.unit_id.in_([u.id for u in chain]),
                                                   UnitAnnouncementSettings.removed_at.is_(None))
        )
    }
    for unit in reversed(chain):
        if unit.id in rows:
            row = rows[unit.id]
            fanfare = tuple(sorted(Decimal(str(x)) for x in row.fanfare_thresholds)) or DEFAULT_FANFARE
            return UnitRules(row.announce_on, fanfare)
    return UnitRules("won", DEFAULT_FANFARE)


def fanfare_level(amount: Decimal, thresholds: tuple[Decimal, ...]) -> int:
    return sum(1 for t in thresholds if amount >= t)
