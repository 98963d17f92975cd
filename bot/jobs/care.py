"""Every fifteen minutes: queue the customer-care reminders that are due (from 09:00 on each owner's
clock, once a day each; bot.services.leads.care)."""
from datetime import datetime

from bot.config import Settings
from bot.scheduler import every, scheduled
from bot.services.leads import care
from db.session import Database


@scheduled("care", every(900))
def send_care(db: Database, slot: datetime, settings: Settings) -> int:
    with db.uow() as uow:
        sent = care.send_due(uow, slot, settings.DEFAULT_LOCALE)
        uow.commit()
    return sent
