"""The manager's daily digest: visits per rep in his subtree, how many verified, flagged and why,
how many of each rep's customers are overdue for a revisit (bot.services.customers.cadence), and the reps whose positions stand out from their peers' over the last weeks (baselines).

Sent as a direct message at each manager's local time (bot.jobs.visits), once per manager per day.
"""
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import select

from bot.services.core import outbox
from bot.services.customers import cadence
from bot.services.manager import scope
from bot.services.visits import baselines, reanchoring, visits
from bot.services.visits.location_checks import UNCONFIRMED
from bot.services.visits.places import ReanchorOffer
from bot.services.visits.review import REVIEWABLE
from db.models import Role, User, Visit
from db.session import UnitOfWork

DIGEST_MINUTE = 18 * 60 + 30  # local time the digest goes out: after the working day
DIGEST_JOB = "visits.digest"


@dataclass
class RepLine:
    name: str
    visits: int = 0
    verified: int = 0
    flagged: int = 0
    unverified: int = 0
    unconfirmed: int = 0  # held: the place of the customer or lead is not confirmed yet
    checked_in: bool = False
    overdue: int = 0  # his customers past their revisit cadence on the day
    reasons: Counter = field(default_factory=Counter)

    @property
    def top_reasons(self) -> list[tuple[str, int]]:
        """Flag reasons, most frequent first."""
        return self.reasons.most_common()


@dataclass(frozen=True)
class StandsOut:
    name: str
    handle: str
    kind: str  # flagged | too_perfect
    count: int
    positions: int
    share_pct: int
    peers_pct: int


@dataclass(frozen=True)
class Digest:
    manager_id: int
    day: date
    reps: list[RepLine]
    to_review: int
    offers: list[ReanchorOffer] = field(default_factory=list)  # places the day's far visits would move
    stand_out: list[StandsOut] = field(default_factory=list)
    baseline_days: int = baselines.BASELINE_DAYS

    @property
    def total(self) -> int:
        return sum(r.visits for r in self.reps)


def build(uow: UnitOfWork, manager_id: int, day: date) -> Digest:
    manager = visits.active_user(uow, manager_id)
    visible = scope.of(uow, manager_id, day)
    start, end = visits.local_day_bounds(visits.zone_of(manager), day)
    reps = uow.session.scalars(
        select(User).where(User.active.is_(True), User.id != manager_id, User.role == Role.REP,
                           scope.users_filter(visible, User.id)).order_by(User.name)
    ).all()
    lines = {rep.id: RepLine(rep.name) for rep in reps}
    rows = uow.session.scalars(
        select(Visit).where(Visit.user_id.in_(list(lines)), Visit.started_at >= start, Visit.started_at < end)
    ).all()
    to_review = 0
    far = [v.id for v in rows if any(r.get("code") == "outside_geofence" for r in v.reasons)]
    for visit in rows:
        line = lines[visit.user_id]
        if visit.kind == "checkin":
            line.checked_in = line.checked_in or visit.latitude is not None
            continue
        if visit.kind != "visit":
            continue
        line.visits += 1
        line.verified += visit.counts
        line.flagged += visit.verdict == "flagged"
        line.unverified += visit.verdict == "unverified"
        line.unconfirmed += visit.verdict == UNCONFIRMED
        line.reasons.update(r["code"] for r in visit.reasons if r.get("severity") == "flag")
        to_review += visit.verdict in REVIEWABLE and visit.review_status == "none"
    for rep_id, count in cadence.overdue_counts(uow, list(lines), day).items():
        lines[rep_id].overdue = count
    offers = reanchoring.offers_for_visits(uow, manager_id, far) if far else []
    found = baselines.outliers(baselines.tallies(uow, lines, end))
    handles = {rep.id: rep.handle for rep in reps}
    stand_out = [StandsOut(lines[o.user_id].name, handles[o.user_id], o.kind, o.count, o.positions, round(100 * o.share),
                           round(100 * o.peers_share)) for o in found]
    return Digest(manager_id, day, list(lines.values()), to_review, offers=offers, stand_out=stand_out)


def due_managers(uow: UnitOfWork, now: datetime) -> list[tuple[int, date]]:
    """Managers whose local time has passed the digest hour, with their local day."""
    due = []
    for manager in uow.session.scalars(select(User).where(User.role == Role.MANAGER, User.active.is_(True))):
        local = now.astimezone(visits.zone_of(manager))
        if local.hour * 60 + local.minute >= DIGEST_MINUTE:
            due.append((manager.id, local.date()))
    return due


def queue(uow: UnitOfWork, manager_id: int, day: date, now: datetime) -> Digest:
    """Build the digest and queue it as a direct message in the manager's language."""
    digest = build(uow, manager_id, day)
    outbox.queue_direct(uow, manager_id, "digest/daily", {"digest": digest},
                         dedupe_key=f"{DIGEST_JOB}:{manager_id}:{day.isoformat()}", now=now)
    return digest
