"""Nightly: every customer's tier recomputed from what he paid (bot.services.customers.tiers).
Checked every 15 minutes; each local day (the deployment's time zone) is claimed once across
processes, in the same transaction as the recompute, so a failed run is tried again at the next check
and a process that was down catches up."""
from datetime import datetime
from zoneinfo import ZoneInfo

from bot.config import Settings
from bot.scheduler import claim_slot, every, scheduled
from bot.services.customers import tiers
from db.session import Database

JOB = "customers.tiers"


@scheduled(JOB, every(15 * 60))
def recompute_tiers(db: Database, slot: datetime, settings: Settings) -> tiers.Recomputed | None:
    day = slot.astimezone(ZoneInfo(settings.DEFAULT_TIMEZONE)).date()
    with db.uow() as uow:
        if not claim_slot(uow, f"{JOB}:day", day.isoformat()):
            return None
        result = tiers.recompute(uow, day, slot)
        uow.commit()
    return result
