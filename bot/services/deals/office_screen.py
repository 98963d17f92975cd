"""What an office screen shows (bot.web.screen): the team's board of today and of this month (the
same board the team channel is pushed, bot.jobs.leaderboards), the unit's month target pace, and
the team channel's win announcements as they land.

A screen follows its unit's own team channel (the first active one): its language, its board
settings, and the announcements queued for it (one HeldAnnouncement row per win per channel, in
commit order per channel, since announcers of one channel are serialised). A unit without a team
channel shows its boards in its manager's language and rings for nothing.
"""
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from bot.services.deals import announcements, board_schedule, leaderboards, periods, targets
from bot.services.deals.leaderboards import Board
from db.models import HeldAnnouncement, OrgUnit, TeamChannel, User
from db.models.screen import ScreenLink
from db.session import UnitOfWork

MAX_ANNOUNCEMENTS = 50  # read at once: a screen that was away long gets the latest, not a flood


@dataclass(frozen=True)
class Screen:
    """Whose screen a link opens: its unit, language, channel and time zone."""

    link_id: int
    unit_id: int
    unit_name: str
    locale: str
    channel_id: int | None
    timezone: str


@dataclass(frozen=True)
class Boards:
    unit_name: str
    metric: str
    today: date
    day: Board
    month: Board
    pace: list[targets.Progress]


@dataclass(frozen=True)
class Announcement:
    """One win (or payment) as the team channel announces it: its template and data."""

    id: int
    template: str
    context: dict


def team_channel(uow: UnitOfWork, unit_id: int) -> TeamChannel | None:
    return uow.session.scalar(select(TeamChannel).where(TeamChannel.unit_id == unit_id, TeamChannel.active.is_(True))
                              .order_by(TeamChannel.id).limit(1))


def screen_of(uow: UnitOfWork, link: ScreenLink, fallback_zone: str) -> Screen:
    unit = uow.session.get(OrgUnit, link.unit_id)
    creator = uow.session.get(User, link.created_by)
    assert unit is not None and creator is not None
    channel = team_channel(uow, unit.id)
    if channel is not None:
        return Screen(link.id, unit.id, unit.name, channel.locale, channel.id, channel.timezone)
    zone = leaderboards.zone_of(uow, unit.id, creator.timezone or fallback_zone)
    return Screen(link.id, unit.id, unit.name, creator.locale, None, str(zone))


def boards(uow: UnitOfWork, screen: Screen, now: datetime) -> Boards:
    """Today's and this month's board as the team channel gets them (its metric and length), and the
    unit's month targets with their pace."""
    plan = board_schedule.push_plan(uow, screen.channel_id) if screen.channel_id else board_schedule.PushPlan()
    metric = plan.metric or leaderboards.default_metric(uow, screen.unit_id)
    zone = ZoneInfo(screen.timezone)
    today = now.astimezone(zone).date()
    day, month = (leaderboards.compute_boards(uow, [screen.unit_id], metric, period, today, zone,
                                              top_n=plan.top_n, with_extras=False)[screen.unit_id]
                  for period in ("day", "month"))
    unit = uow.session.get(OrgUnit, screen.unit_id)
    assert unit is not None
    subject = targets.Subject("unit", unit.id, unit.name, unit.path)
    start = periods.period_dates("month", today)[0]
    pace = [targets.progress_of(uow, subject, target, today, zone)
            for target in targets.targets_of(uow, subject, "month", start)]
    return Boards(unit.name, metric, today, day, month, pace)


def latest_announcement(uow: UnitOfWork, channel_id: int | None) -> int:
    """The id of the channel's newest announcement (0: none): a screen opened now starts after it."""
    if channel_id is None:
        return 0
    return uow.session.scalar(select(func.coalesce(func.max(HeldAnnouncement.id), 0))
                              .where(HeldAnnouncement.channel_id == channel_id)) or 0


def announcements_after(uow: UnitOfWork, channel_id: int | None, after: int) -> list[Announcement]:
    """The channel's announcements newer than `after`, oldest first (the latest MAX_ANNOUNCEMENTS)."""
    if channel_id is None:
        return []
    rows = uow.session.execute(
        select(HeldAnnouncement.id, HeldAnnouncement.context)
        .where(HeldAnnouncement.channel_id == channel_id, HeldAnnouncement.id > after)
        .order_by(HeldAnnouncement.id.desc()).limit(MAX_ANNOUNCEMENTS)).all()
    found = []
    for row in reversed(rows):
        template, context = announcements.announcement([row.context])
        found.append(Announcement(row.id, template, context))
    return found


def revoked_among(uow: UnitOfWork, link_ids: list[int]) -> set[int]:
    if not link_ids:
        return set()
    return set(uow.session.scalars(select(ScreenLink.id).where(ScreenLink.id.in_(link_ids),
                                                               ScreenLink.revoked_at.is_not(None))))


def mark_seen(uow: UnitOfWork, link_ids: list[int], now: datetime) -> None:
    """When the links' screens were last open (through the ORM: audited like any change)."""
    for link in uow.session.scalars(select(ScreenLink).where(ScreenLink.id.in_(link_ids))):
        link.last_seen_at = now
