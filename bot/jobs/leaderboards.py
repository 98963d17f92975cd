"""Every few minutes: push each team channel's boards once its own local push time has passed today.

Each (channel, local date, period) is claimed with claim_slot in the same transaction as queuing the
post, so two bot processes never push twice, and the local date makes daylight-saving days work.
"""
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from bot.config import Settings
from bot.i18n import label
from bot.scheduler import claim_slot, every, scheduled
from bot.services.core import outbox
from bot.services.deals import board_schedule, periods
from db.models import TeamChannel
from db.session import Database

JOB = "leaderboards"


@dataclass(frozen=True)
class Pushed:
    channel_id: int
    period: str
    day: str


def push_due(db: Database, now: datetime) -> list[Pushed]:
    with db.uow() as uow:
        channels = [(c.id, c.unit_id, c.timezone, c.locale) for c in uow.session.scalars(
            select(TeamChannel).where(TeamChannel.active.is_(True)).order_by(TeamChannel.id))]
        holidays = periods.holidays_between(uow, now.date() - timedelta(days=40), now.date() + timedelta(days=40))
    pushed = []
    for channel_id, unit_id, zone_name, locale in channels:
        zone = ZoneInfo(zone_name)
        local = now.astimezone(zone)
        with db.uow() as uow:
            plan = board_schedule.push_plan(uow, channel_id)
        for period in board_schedule.due_periods(plan, local, holidays):
            if _push_one(db, channel_id, unit_id, zone, locale, period, plan, now):
                pushed.append(Pushed(channel_id, period, local.date().isoformat()))
    return pushed


def _push_one(db: Database, channel_id: int, unit_id: int, zone: ZoneInfo, locale: str, period: str,
              plan: board_schedule.PushPlan, now: datetime) -> bool:
    day = now.astimezone(zone).date().isoformat()
    with db.uow() as uow:
        if not claim_slot(uow, f"leaderboard:channel:{channel_id}", f"{day}:{period}"):
            return False
        board = board_schedule.scheduled_board(uow, channel_id, unit_id, zone, period, plan, now)
        channel = uow.session.get(TeamChannel, channel_id)
        assert channel is not None
        context = {"b": board, "metric": label(f"metric_{board.metric}", locale),
                   "period": label(f"period_{period}", locale)}
        outbox.post_to_channel(uow, channel, "rank/scheduled", context, "board",
                               dedupe_key=f"board:{channel_id}:{day}:{period}", now=now)
        uow.commit()
    return True


@scheduled(JOB, every(300))
def push_leaderboards(db: Database, slot: datetime, settings: Settings) -> list[Pushed]:
    return push_due(db, slot)
