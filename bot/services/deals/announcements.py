"""Win announcements (敲锣): who, which customer, how much, month total, rank and target progress.

Written into the outbox in the caller's transaction. A post waits a short merge window (and any
quiet hours of its channel) in the outbox; a later win in the same channel while it still waits is
merged into that same post, so a burst of wins becomes one message. Each (event, channel) is
recorded once under a unique key: a double tap or a retried event announces once.
"""
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from bot.messages import Templated
from bot.services.core import org, outbox
from bot.services.deals import board_metrics, leaderboards, targets
from bot.services.deals.announcement_rules import UnitRules, fanfare_level
from bot.services.deals.periods import Window
from db.models import (
    ChannelBoardSettings,
    Customer,
    Deal,
    HeldAnnouncement,
    OrgUnit,
    OutboxMessage,
    Payment,
    Stage,
    TeamChannel,
    User,
)
from db.session import UnitOfWork

DEFAULT_MERGE_SECONDS = 20
# The console prints posts right after each command: nothing to gain from waiting.
PLATFORM_MERGE_SECONDS = {"console": 0}




# ---- milestones ---------------------------------------------------------------------------

def _won(uow: UnitOfWork, *where) -> list[tuple[int, Decimal]]:
    rows = uow.session.execute(select(Deal.id, Deal.amount).where(Deal.stage == Stage.WON, *where))
    return [(r.id, Decimal(r.amount)) for r in rows]


def win_milestones(uow: UnitOfWork, deal: Deal, rep: User, zone: ZoneInfo, today: date,
                   target_before: Decimal | None, progress: targets.Progress | None) -> list[str]:
    amount = Decimal(deal.amount)
    others_all = [a for i, a in _won(uow, Deal.owner_id == rep.id) if i != deal.id]
    found = []
    if not others_all:
        found.append("first_deal")
    day = Window.of("day", today, zone)
    today_count = len(_won(uow, Deal.owner_id == rep.id, Deal.won_at >= day.start_utc,
                           Deal.won_at < day.end_utc))
    if today_count == 5:
        found.append("fifth_today")
    unit = uow.session.get(OrgUnit, rep.unit_id)
    assert unit is not None
    team = org.subtree_user_ids(unit.path)
    for period in ("month", "week"):
        window = Window.of(period, today, zone)
        team_others = [a for i, a in _won(uow, Deal.owner_id.in_(team), Deal.won_at >= window.start_utc,
                                          Deal.won_at < window.end_utc) if i != deal.id]
        if team_others and amount > max(team_others):
            found.append(f"biggest_{period}")
            break
    if others_all and amount > max(others_all):
        found.append("personal_best")
    if _crossed(target_before, progress):
        found.append("target_reached")
    return found


def _crossed(before: Decimal | None, progress: targets.Progress | None) -> bool:
    return progress is not None and before is not None and before < progress.target <= progress.actual


def payment_milestones(uow: UnitOfWork, payment: Payment, target_before: Decimal | None,
                       progress: targets.Progress | None) -> list[str]:
    found = []
    earlier = uow.session.scalar(
        select(func.count()).select_from(Payment).where(Payment.owner_id == payment.owner_id, Payment.id != payment.id)
    )
    if not earlier:
        found.append("first_deal")
    if _crossed(target_before, progress):
        found.append("target_reached")
    return found


# ---- quiet hours and timing ---------------------------------------------------------------

def quiet_until(channel: TeamChannel, now: datetime) -> datetime | None:
    """When the channel's quiet hours end, if `now` falls inside them."""
    if channel.quiet_start is None or channel.quiet_end is None or channel.quiet_start == channel.quiet_end:
        return None
    zone = ZoneInfo(channel.timezone)
    local = now.astimezone(zone)
    minute = local.hour * 60 + local.minute
    start, end = channel.quiet_start, channel.quiet_end
    inside = start <= minute < end if start < end else (minute >= start or minute < end)
    if not inside:
        return None
    day = local.date() if minute < end else local.date() + timedelta(days=1)
    return datetime.combine(day, time(end // 60, end % 60), zone).astimezone(UTC)


def merge_seconds(uow: UnitOfWork, channel: TeamChannel) -> int:
    configured = uow.session.scalar(
        select(ChannelBoardSettings.merge_seconds).where(ChannelBoardSettings.channel_id == channel.id)
    )
    if configured is not None:
        return configured
    return PLATFORM_MERGE_SECONDS.get(channel.platform, DEFAULT_MERGE_SECONDS)


# ---- announcing ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Event:
    """One thing to celebrate: a won deal, or a payment when the unit announces on collected."""

    kind: str  # win | payment
    key: str  # unique per event, e.g. "win:12" or "payment:7"
    deal: Deal
    amount: Decimal
    milestones: list[str]
    progress: targets.Progress | None


def announce(uow: UnitOfWork, event: Event, rules: UnitRules, now: datetime) -> int:
    """Queue (or merge) the announcement in every channel of the rep's unit chain; returns channels."""
    rep = uow.session.get(User, event.deal.owner_id)
    customer = uow.session.get(Customer, event.deal.customer_id)
    assert rep is not None and customer is not None
    announced = 0
    for channel in outbox.channels_for_unit(uow, rep.unit_id):
        entry = _entry(uow, event, rules, rep, customer, channel, now)
        if _queue(uow, channel, f"{event.key}:{channel.id}", entry, now):
            announced += 1
    return announced


def _entry(uow: UnitOfWork, event: Event, rules: UnitRules, rep: User, customer: Customer,
           channel: TeamChannel, now: datetime) -> dict:
    zone = ZoneInfo(channel.timezone)
    today = now.astimezone(zone).date()
    window = Window.of("month", today, zone)
    total = board_metrics.user_values(uow, rules.metric, window, user_ids=[rep.id]).get(rep.id, (Decimal(0), None))[0]
    rank, size = leaderboards.rank_of(uow, channel.unit_id, rep.id, rules.metric, "month", today, zone)
    progress = event.progress
    return {
        "event": event.kind,
        "deal_id": event.deal.id,
        "deal_name": event.deal.name,
        "rep": rep.name,
        "customer": customer.name,
        # Numbers as text (the entry is stored as JSON); the templates format them.
        "amount": str(event.amount),
        "currency": event.deal.currency,
        "month_total": str(total),
        "rank": rank,
        "board_size": size,
        "target": str(progress.target) if progress else None,
        "rate": str(progress.rate) if progress else None,
        "milestones": list(event.milestones),
        "fanfare": fanfare_level(event.amount, rules.fanfare),
    }


def _queue(uow: UnitOfWork, channel: TeamChannel, key: str, entry: dict, now: datetime) -> bool:
    # Serialise announcers of one channel so two concurrent wins merge instead of racing.
    uow.session.execute(select(TeamChannel.id).where(TeamChannel.id == channel.id).with_for_update())
    if uow.session.scalar(select(HeldAnnouncement.id).where(HeldAnnouncement.dedupe_key == key)):
        return False
    waiting = uow.session.scalar(
        select(OutboxMessage)
        .join(HeldAnnouncement, HeldAnnouncement.outbox_id == OutboxMessage.id)
        .where(HeldAnnouncement.channel_id == channel.id, OutboxMessage.status == "pending",
               OutboxMessage.attempts == 0, OutboxMessage.kind == "win")
        .order_by(OutboxMessage.id.desc()).limit(1)
        .with_for_update(of=OutboxMessage)
    )
    if waiting is None:
        due = now + timedelta(seconds=merge_seconds(uow, channel))
        quiet_end = quiet_until(channel, now)
        if quiet_end is not None:
            due = max(due, quiet_end)
        template, context = announcement([entry])
        waiting = outbox.post_to_channel(uow, channel, template, context, "win", dedupe_key=f"announce:{key}",
                                         now=now)
        if waiting is None:
            return False
        waiting.next_attempt_at = due
        uow.session.flush()
        uow.session.add(HeldAnnouncement(channel_id=channel.id, outbox_id=waiting.id, dedupe_key=key,
                                         context=entry, created_at=now))
        return True
    uow.session.add(HeldAnnouncement(channel_id=channel.id, outbox_id=waiting.id, dedupe_key=key,
                                     context=entry, created_at=now))
    uow.session.flush()
    entries = list(uow.session.scalars(
        select(HeldAnnouncement.context).where(HeldAnnouncement.outbox_id == waiting.id).order_by(HeldAnnouncement.id)
    ))
    template, context = announcement(entries)
    waiting.payload = Templated(template, channel.locale, context).to_json()
    return True


def announcement(entries: list[dict]) -> tuple[str, dict]:
    """The template and data of one win, or of several merged into one post."""
    if len(entries) == 1:
        return "announcements/win", {"e": entries[0]}
    return "announcements/merged", {"entries": entries}


def rules_and_progress(uow: UnitOfWork, rep: User, metric: str, now: datetime) -> targets.Progress | None:
    zone = ZoneInfo(rep.timezone)
    return targets.month_progress(uow, rep.id, metric, now.astimezone(zone).date(), zone)
