"""What each board metric counts, per user over a period: won amount and deals (by won_at), money
collected (by payment date), counted visits, new customers and follow-ups. Leaderboards rank them,
targets measure progress in them, announcements quote a rep's month total."""
from collections.abc import Iterable
from datetime import UTC, date, datetime
from decimal import Decimal

from sqlalchemy import Select, bindparam, func, select

from bot.errors import UserError
from bot.services.deals.periods import Window
from db.models import Customer, Deal, LeadEvent, Payment, Stage, Visit
from db.session import UnitOfWork

METRICS = ("won_amount", "won_deals", "collected", "visits", "new_customers", "followups")
MONEY_METRICS = ("won_amount", "collected")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)  # "reached" of a value with no moment


def period_bounds(metric: str, window: Window) -> tuple[date, date] | tuple[datetime, datetime]:
    """The period as the metric's filter compares it: local dates for payments, UTC instants otherwise."""
    return (window.start, window.end) if metric == "collected" else (window.start_utc, window.end_utc)


def metric_parts(metric: str, window: Window | None):
    """(user column, value aggregate, moment column, source table, filters) of one metric. Without a
    window the period's bounds are the bound parameters "start" and "end" (see period_bounds)."""
    start, end = (bindparam("start"), bindparam("end")) if window is None else period_bounds(metric, window)
    if metric in ("won_amount", "won_deals"):
        who, at = Deal.owner_id, Deal.won_at
        value = func.sum(Deal.amount) if metric == "won_amount" else func.count()
        where = [Deal.stage == Stage.WON, at >= start, at < end]
        source = Deal
    elif metric == "collected":
        who, at = Payment.owner_id, Payment.created_at
        value = func.sum(Payment.amount)
        where = [Payment.paid_on >= start, Payment.paid_on < end]
        source = Payment
    elif metric == "visits":
        who, at = Visit.user_id, Visit.started_at
        value = func.count()
        where = [Visit.counts.is_(True), Visit.kind == "visit", at >= start, at < end]
        source = Visit
    elif metric == "new_customers":
        who, at = func.coalesce(Customer.created_by_id, Customer.owner_id), Customer.created_at
        value = func.count()
        where = [Customer.status != "voided", at >= start, at < end]
        source = Customer
    elif metric == "followups":
        who, at = LeadEvent.actor_id, LeadEvent.at
        value = func.count()
        where = [LeadEvent.kind == "follow", at >= start, at < end]
        source = LeadEvent
    else:
        raise UserError("deals/rank_bad_metric", metric=metric, metrics=", ".join(METRICS))
    return who, value, at, source, where


def _metric_query(metric: str, window: Window, users: Select | None, user_ids=None):
    """SELECT user_id, value, reached_at for one metric; `users` filters the user id column."""
    who, value, at, source, where = metric_parts(metric, window)
    if users is not None:
        where.append(who.in_(users))
    if user_ids is not None:
        where.append(who.in_(list(user_ids)))
    return select(who.label("user_id"), value.label("value"), func.max(at).label("reached")).select_from(
        source
    ).where(*where).group_by(who)


def user_values(
    uow: UnitOfWork, metric: str, window: Window, users=None, user_ids: Iterable[int] | None = None
) -> dict[int, tuple[Decimal, datetime]]:
    """{user id: (value, moment the value was reached)} for users with a non-zero value."""
    rows = uow.session.execute(_metric_query(metric, window, users, user_ids)).all()
    return {
        row.user_id: (Decimal(row.value or 0), row.reached or EPOCH)
        for row in rows
        if row.user_id is not None and row.value
    }
