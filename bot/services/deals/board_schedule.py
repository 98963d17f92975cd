"""When a team channel gets its boards: the daily board on working days at the push time, the weekly
one on the plan's weekday, the monthly one on the month's last working day; each channel may
change its plan (ChannelBoardSettings). bot.jobs.leaderboards claims and posts them."""
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select

from bot.services.deals import leaderboards
from bot.services.deals.periods import is_working_day, last_working_day
from db.models import ChannelBoardSettings
from db.session import UnitOfWork

PUSH_CATCH_UP_MINUTES = 180


@dataclass(frozen=True)
class PushPlan:
    push_minute: int = 18 * 60
    daily: bool = True
    weekly_weekday: int | None = 4  # Friday
    monthly: bool = True
    metric: str | None = None  # None: the unit's announcement metric
    top_n: int = leaderboards.DEFAULT_TOP_N
    include_weekends: bool = False


def push_plan(uow: UnitOfWork, channel_id: int) -> PushPlan:
    row = uow.session.scalar(select(ChannelBoardSettings).where(ChannelBoardSettings.channel_id == channel_id))
    if row is None:
        return PushPlan()
    return PushPlan(row.push_minute, row.daily, row.weekly_weekday, row.monthly, row.metric, row.top_n,
                    row.include_weekends)


def due_periods(plan: PushPlan, local: datetime, holidays: set[date]) -> list[str]:
    """Which boards are due at this local moment: from the push time until a few hours later (a
    process that was down catches up, but nobody gets the 18:00 board at midnight)."""
    minute = local.hour * 60 + local.minute
    if not plan.push_minute <= minute < plan.push_minute + PUSH_CATCH_UP_MINUTES:
        return []
    today = local.date()
    due = []
    weekend_ok = plan.include_weekends and today.weekday() >= 5 and today not in holidays
    if plan.daily and (is_working_day(today, holidays) or weekend_ok):
        due.append("day")
    if plan.weekly_weekday is not None and today.weekday() == plan.weekly_weekday:
        due.append("week")
    if plan.monthly and today == last_working_day(today, holidays):
        due.append("month")
    return due


def scheduled_board(uow: UnitOfWork, channel_id: int, unit_id: int, zone: ZoneInfo, period: str, plan: PushPlan,
                    now: datetime) -> leaderboards.Board:
    """Compute a channel's board, its arrows since this channel's previous board, and store it as the
    reference for the channel's next board (and for /rank's arrows)."""
    metric = plan.metric or leaderboards.default_metric(uow, unit_id)
    today = now.astimezone(zone).date()
    board = leaderboards.compute_boards(uow, [unit_id], metric, period, today, zone, top_n=plan.top_n)[unit_id]
    own = leaderboards.channel_snapshot_key(board, channel_id)
    leaderboards.add_movement(uow, board, own)
    leaderboards.save_snapshot(uow, board, now)
    leaderboards.save_snapshot(uow, board, now, own)
    return board
