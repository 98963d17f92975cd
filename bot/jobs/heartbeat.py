"""A claimed run every minute: /healthz reads its age to tell that some scheduler is alive."""
from datetime import datetime

from bot.config import Settings
from bot.scheduler import every, scheduled
from db.session import Database

HEARTBEAT_JOB = "scheduler.heartbeat"


@scheduled(HEARTBEAT_JOB, every(60))
def heartbeat(db: Database, slot: datetime, settings: Settings) -> None:
    """The claim row itself is the heartbeat; nothing more to do."""
