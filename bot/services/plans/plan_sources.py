"""Where a plan's stops come from, each for many reps at once (one statement per source, never one
per rep): the visits they scheduled, the customers due a visit, the leads whose follow-up is due;
and where each rep starts (his last trusted position, else his unit's office)."""
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import and_, func, select
from sqlalchemy.orm import aliased

from bot.services.core.queries import among
from bot.services.customers import cadence
from db.models import (
    Customer,
    Lead,
    LeadStatus,
    OrgUnit,
    PlannedVisit,
    Reminder,
    User,
    Visit,
    VisitSettings,
)
from db.session import UnitOfWork

OPEN_LEADS = (LeadStatus.PENDING, LeadStatus.FOLLOWING, LeadStatus.INVALID)


@dataclass(slots=True)
class Source:
    """One reason to stop somewhere, before stops are merged and routed."""

    user_id: int
    kind: str  # customer | lead
    id: int
    name: str
    latitude: float | None
    longitude: float | None
    why: str  # planned | due | followup
    day: date | None = None  # None: due from the first day of the plan
    minute: int | None = None  # local minutes after midnight, when a time was set
    planned_id: int | None = None
    due_at: datetime | None = None  # a follow-up's reminder time (UTC): its day and time are the rep's


def planned(uow: UnitOfWork, user_ids: Sequence[int], start: date, end: date) -> list[Source]:
    """The visits the reps scheduled on [start, end), not dropped."""
    customer, lead = aliased(Customer), aliased(Lead)
    rows = uow.session.connection().execute(
        select(PlannedVisit.id, PlannedVisit.user_id, PlannedVisit.customer_id, PlannedVisit.lead_id,
               PlannedVisit.day, PlannedVisit.minute,
               func.coalesce(customer.name, lead.company).label("name"),
               func.coalesce(customer.latitude, lead.latitude).label("lat"),
               func.coalesce(customer.longitude, lead.longitude).label("lon"))
        .outerjoin(customer, customer.id == PlannedVisit.customer_id)
        .outerjoin(lead, lead.id == PlannedVisit.lead_id)
        .where(among(uow, PlannedVisit.user_id, user_ids), PlannedVisit.day >= start, PlannedVisit.day < end,
               PlannedVisit.dropped_at.is_(None))
    ).all()
    return [Source(user_id, "customer" if customer_id else "lead", customer_id or lead_id, name, lat, lon, "planned",
                   day, minute, planned_id)
            for planned_id, user_id, customer_id, lead_id, day, minute, name, lat, lon in rows]


def due_customers(uow: UnitOfWork, user_ids: Sequence[int], day: date) -> list[Source]:
    """The reps' customers overdue or due a visit on `day` by their tier's revisit cadence
    (bot.services.customers.cadence, for all the reps at once)."""
    return [Source(due.owner_id, "customer", due.customer_id, due.name, due.latitude, due.longitude, "due")
            for due in cadence.schedule(uow, list(user_ids), day, due_by=day)]


def due_followups(uow: UnitOfWork, user_ids: Sequence[int], start: datetime, end: datetime) -> list[Source]:
    """Leads still his whose follow-up reminder (bot.services.reminders) falls in [start, end) UTC."""
    rows = uow.session.connection().execute(
        select(Reminder.owner_id, Reminder.due_at, Lead.id, Lead.company, Lead.latitude, Lead.longitude)
        .join(Lead, Lead.id == Reminder.lead_id)
        .where(among(uow, Reminder.owner_id, user_ids), Reminder.due_at >= start, Reminder.due_at < end,
               Reminder.cancelled_at.is_(None), Lead.owner_id == Reminder.owner_id, Lead.status.in_(OPEN_LEADS))
    ).all()
    return [Source(owner_id, "lead", lead_id, company, lat, lon, "followup", due_at=due_at)
            for owner_id, due_at, lead_id, company, lat, lon in rows]


def last_trusted_positions(uow: UnitOfWork, user_ids: Sequence[int]) -> dict[int, tuple[float, float]]:
    """Each rep's last verified visit or check-in position (DISTINCT ON on PostgreSQL: one index walk a rep)."""
    trusted = (among(uow, Visit.user_id, user_ids), Visit.verdict == "verified", Visit.latitude.is_not(None))
    if uow.dialect == "postgresql":
        query = (select(Visit.user_id, Visit.latitude, Visit.longitude).where(*trusted)
                 .order_by(Visit.user_id, Visit.taken_at.desc()).distinct(Visit.user_id))
    else:
        newest = (select(Visit.user_id, func.max(Visit.taken_at).label("taken_at")).where(*trusted)
                  .group_by(Visit.user_id).subquery())
        query = (select(Visit.user_id, Visit.latitude, Visit.longitude)
                 .join(newest, and_(newest.c.user_id == Visit.user_id, newest.c.taken_at == Visit.taken_at))
                 .where(*trusted))
    return {r.user_id: (r.latitude, r.longitude) for r in uow.session.connection().execute(query)}


def offices(uow: UnitOfWork, user_ids: Sequence[int]) -> dict[int, tuple[float, float]]:
    """Each rep's office: that of the nearest unit up the tree (his own first) whose settings have one,
    as bot.services.visits.thresholds reads it; two statements for every rep."""
    settings = uow.session.connection().execute(
        select(OrgUnit.path, VisitSettings.office_latitude, VisitSettings.office_longitude)
        .join(VisitSettings, VisitSettings.unit_id == OrgUnit.id)
        .where(VisitSettings.removed_at.is_(None))
    ).all()
    if not settings:
        return {}
    by_path = sorted(settings, key=lambda row: -len(row.path))
    users = uow.session.connection().execute(select(User.id, OrgUnit.path).join(OrgUnit, OrgUnit.id == User.unit_id)
                                .where(among(uow, User.id, user_ids))).all()
    found: dict[int, tuple[float, float]] = {}
    for user in users:
        nearest = next((row for row in by_path if user.path.startswith(row.path)), None)
        if nearest is not None and nearest.office_latitude is not None and nearest.office_longitude is not None:
            found[user.id] = (nearest.office_latitude, nearest.office_longitude)
    return found


def group_by_user(sources: Sequence[Source]) -> dict[int, list[Source]]:
    grouped: dict[int, list[Source]] = defaultdict(list)
    for source in sources:
        grouped[source.user_id].append(source)
    return grouped
