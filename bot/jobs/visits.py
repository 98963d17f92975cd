"""Manager digests at each manager's own local time: checked every five minutes, each
(manager, local day) claimed once across processes in the same transaction as the message."""
from datetime import datetime

from bot.config import Settings
from bot.scheduler import claim_slot, every, scheduled
from bot.services.visits import digest
from db.session import Database


@scheduled("visits.digests", every(300))
def manager_digests(db: Database, slot: datetime, settings: Settings) -> int:
    with db.uow() as uow:
        due = digest.due_managers(uow, slot)
    sent = 0
    for manager_id, day in due:
        with db.uow() as uow:
            if not claim_slot(uow, f"{digest.DIGEST_JOB}:{manager_id}", day.isoformat()):
                continue
            digest.queue(uow, manager_id, day, slot)
            uow.commit()
            sent += 1
    return sent
