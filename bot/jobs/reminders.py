"""Every minute: send the reminders that are due, each once (bot.services.reminders.reminders.send_due)."""
from datetime import datetime

from bot.config import Settings
from bot.scheduler import every, scheduled
from bot.services.reminders import reminders
from db.session import Database


@scheduled("reminders", every(60))
def send_reminders(db: Database, slot: datetime, settings: Settings) -> int:
    with db.uow() as uow:
        sent = reminders.send_due(uow, slot)
        uow.commit()
    return sent
