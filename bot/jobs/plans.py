"""Every five minutes: the morning plans whose local time has come, each rep's once a day
(bot.services.plans.morning.push_due)."""
from datetime import datetime

from bot.config import Settings
from bot.scheduler import every, scheduled
from bot.services.plans import morning
from db.session import Database


@scheduled("morning_plans", every(300))
def push_morning_plans(db: Database, slot: datetime, settings: Settings) -> morning.MorningRun:
    with db.uow() as uow:
        result = morning.push_due(uow, slot)
        uow.commit()
    return result
