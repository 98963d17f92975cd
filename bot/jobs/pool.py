"""The pool sweep: return leads nobody works, warn owners ahead, hand out new leads of
auto-distributing pools. Claimed per slot, so several bot processes run it once."""
import logging
from datetime import datetime

from sqlalchemy import select

from bot.config import Settings
from bot.scheduler import every, scheduled
from bot.services.leads import distribution, returns
from db.models import Pool
from db.session import Database

log = logging.getLogger(__name__)
POOL_SWEEP_JOB = "pool.sweep"
SWEEP_SECONDS = 15 * 60


def run_sweep(db: Database, now: datetime) -> tuple[returns.SweepResult, returns.SweepResult, int]:
    """One sweep: returns, then warnings, then distribution, each committed on its own."""
    with db.uow() as uow:
        returned = returns.sweep(uow, now)
        uow.commit()
    with db.uow() as uow:
        warned = returns.warn(uow, now)
        uow.commit()
    handed_out = 0
    with db.uow() as uow:
        pool_ids = list(uow.session.scalars(select(Pool.id).where(Pool.auto_distribute.is_(True),
                                                                  Pool.active.is_(True))))
    for pool_id in pool_ids:
        with db.uow() as uow:
            result = distribution.distribute(uow, pool_id, now)
            uow.commit()
        handed_out += sum(len(ids) for ids in result.assigned.values())
    return returned, warned, handed_out


@scheduled(POOL_SWEEP_JOB, every(SWEEP_SECONDS))
def pool_sweep(db: Database, slot: datetime, settings: Settings) -> None:
    returned, warned, handed_out = run_sweep(db, slot)
    log.info("pool sweep: %d returned %s, %d leads warned to %d owners, %d distributed",
             returned.returned, returned.by_reason, warned.warned_leads, warned.warned_owners, handed_out)
