"""Every five minutes: send the private nudges and manager digests that are due (each once)."""
from datetime import datetime

from bot.config import Settings
from bot.scheduler import every, scheduled
from bot.services.deals import nudges
from db.session import Database


@scheduled("nudges", every(300))
def send_nudges(db: Database, slot: datetime, settings: Settings) -> nudges.NudgeRun:
    with db.uow() as uow:
        result = nudges.run_due(uow, slot)
        uow.commit()
    return result
