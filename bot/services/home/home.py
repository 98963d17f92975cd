"""A person's home screen as data: a rep's day (plan, open visit, target pace, leads close to going
back to the pool) or a manager's (review queue, his team's day, overdue customers), built from the
services that own each part. Nothing here renders or knows a platform; a manager sees his scope only.
"""
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import func, select

from bot.services.core import identity
from bot.services.customers import cadence
from bot.services.deals import targets
from bot.services.deals.targets import Progress
from bot.services.leads.returns import close_to_return
from bot.services.manager import scope
from bot.services.plans import plans
from bot.services.plans.plans import Stop
from bot.services.visits import digest, review, visits
from bot.services.visits.digest import RepLine
from bot.services.visits.visit_targets import target_name, target_of
from db.models import Lead, PlatformIdentity, Role, User
from db.models.lead import OPEN_LEAD_STATUSES
from db.session import UnitOfWork

LIST_LIMIT = 30  # items read per list: the front end shows what fits and counts the rest


@dataclass(frozen=True)
class OpenVisit:
    visit_id: int
    target: str | None
    started_local: datetime
    verdict: str
    waiting: bool  # still waiting for his location


@dataclass(frozen=True)
class QuietLead:
    lead_id: int
    company: str
    quiet_since: datetime


@dataclass(frozen=True)
class RepHome:
    name: str
    day: date
    stops: list[Stop]
    more_stops: int  # due customers over the plan's limit
    open_visit: OpenVisit | None
    pace: list[Progress]
    quiet_leads: list[QuietLead]
    quiet_total: int


@dataclass(frozen=True)
class ManagerHome:
    name: str
    day: date
    to_review: int
    reps: list[RepLine]
    overdue: list[cadence.DueCustomer]
    overdue_total: int
    owners: dict[int, str] = field(default_factory=dict)  # owner id -> name, for the overdue list


@dataclass(frozen=True)
class Home:
    user_id: int
    locale: str
    as_of: datetime  # when it was read, in the person's time zone
    rep: RepHome | None = None
    manager: ManagerHome | None = None


def build(uow: UnitOfWork, user_id: int, now: datetime) -> Home | None:
    """The home of an active user, or None (left, or unknown): managers and admins get the team view."""
    user = uow.session.get(User, user_id)
    if user is None or not user.active:
        return None
    as_of = now.astimezone(visits.zone_of(user))
    if user.role in (Role.MANAGER, Role.ADMIN):
        return Home(user.id, user.locale, as_of, manager=manager_home(uow, user, now))
    return Home(user.id, user.locale, as_of, rep=rep_home(uow, user, now))


def rep_home(uow: UnitOfWork, user: User, now: datetime) -> RepHome:
    zone = visits.zone_of(user)
    today = now.astimezone(zone).date()
    plan = plans.build(uow, [plans.rep_of(user)], [today], "today", today)[user.id]
    day = plan.days[0] if plan.days else None
    pace = [p for p in targets.show(uow, user.id, None, None, now).items]
    quiet = close_to_return(uow, now)
    owned = (Lead.owner_id == user.id, Lead.status.in_(OPEN_LEAD_STATUSES), quiet)
    since = func.coalesce(Lead.last_followup_at, Lead.claimed_at, Lead.created_at)
    rows = uow.session.execute(
        select(Lead.id, Lead.company, since.label("since")).where(*owned).order_by(since, Lead.id).limit(LIST_LIMIT)
    ).all()
    total = uow.session.scalar(select(func.count()).select_from(Lead).where(*owned)) or 0
    return RepHome(user.name, today, list(day.stops) if day else [], day.more_due if day else 0,
                   _open_visit(uow, user), pace, [QuietLead(r.id, r.company, r.since) for r in rows], total)


def _open_visit(uow: UnitOfWork, user: User) -> OpenVisit | None:
    visit = visits.open_visit(uow, user.id)  # waiting for its location, or on site
    if visit is None:
        return None
    zone = visits.zone_of(user)
    return OpenVisit(visit.id, target_name(target_of(uow, visit)), visit.started_at.astimezone(zone), visit.verdict,
                     visit.status == "waiting")


def manager_home(uow: UnitOfWork, user: User, now: datetime) -> ManagerHome:
    today = now.astimezone(visits.zone_of(user)).date()
    queue = review.queue(uow, user.id, now, limit=1)
    team = digest.build(uow, user.id, today)
    visible = scope.of(uow, user.id, today)
    reps = dict(uow.session.execute(
        select(User.id, User.name).where(User.active.is_(True), User.id != user.id, User.role == Role.REP,
                                         scope.users_filter(visible, User.id))).tuples().all())
    overdue = cadence.schedule(uow, list(reps), today, due_by=today - timedelta(days=1))
    overdue.sort(key=lambda due: (due.due_on, due.customer_id))
    return ManagerHome(user.name, today, queue.total, team.reps, overdue[:LIST_LIMIT], len(overdue), reps)


# --- whose home: a platform account, or the person a private chat is with ------------------------

def of_account(uow: UnitOfWork, platform: str, workspace: str, account: str, now: datetime) -> Home | None:
    """The home of the person linked to this platform account; None when none is (or he left)."""
    user = identity.resolve_user(uow, platform, workspace, account)
    return build(uow, user.id, now) if user is not None else None


def account_of_chat(uow: UnitOfWork, platform: str, workspace: str, chat_id: str) -> str | None:
    """The platform account whose private chat with the bot this is (whose home a post there changes)."""
    return uow.session.scalar(
        select(PlatformIdentity.platform_user_id).where(
            PlatformIdentity.platform == platform, PlatformIdentity.workspace == workspace,
            PlatformIdentity.dm_chat_id == chat_id, PlatformIdentity.unlinked_at.is_(None)).limit(1))
