"""A manager's review queue: flagged, unverified and held (place not yet confirmed) visits in his
subtree, approved or rejected once, with the re-anchorings their far-away visits call for, and the
visits still waiting for a location after a refused one (shown, nothing to decide yet).

counts stays True exactly when the verdict is verified or a manager approved the visit.
"""
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, update

from bot.errors import UserError
from bot.services.core import audit_log, outbox, paging
from bot.services.manager import scope
from bot.services.visits import reanchoring, refusals, visits
from bot.services.visits.location_checks import UNCONFIRMED
from bot.services.visits.photos import photo_counts
from bot.services.visits.places import ReanchorOffer
from bot.services.visits.visit_targets import target_name, target_of
from db.models import User, Visit
from db.session import UnitOfWork

REVIEWABLE = ("flagged", "unverified", UNCONFIRMED)
QUEUE_PAGE = 10


@dataclass(frozen=True)
class QueueItem:
    visit_id: int
    kind: str
    rep_name: str
    target_name: str | None
    taken_local: datetime
    verdict: str
    reasons: list[dict]
    distance_m: float | None
    accuracy_m: float | None
    source: str
    photos: int = 0  # photos attached to the visit (`/photos VISIT_ID` sends them)
    photo_reasons: list[dict] = field(default_factory=list)  # their flags, notes left out
    on_site: visits.OnSite | None = None  # its time at the place, from its live trail


@dataclass(frozen=True)
class Queue:
    items: list[QueueItem]
    total: int
    page: paging.Page
    offers: list[ReanchorOffer] = field(default_factory=list)  # re-anchorings for this page's records
    # Visits still waiting for a location after a refused one (page 1): nothing to decide yet.
    refused_waiting: list[QueueItem] = field(default_factory=list)


@dataclass(frozen=True)
class Decision:
    visit_id: int
    approved: bool
    rep_id: int
    rep_name: str
    rep_locale: str
    target_name: str | None
    counts: bool
    kind: str = "visit"  # visit | checkin | checkout: what the rep is told about


def _reviewable(visible: scope.Scope, manager_id: int):
    return (
        Visit.verdict.in_(REVIEWABLE), Visit.review_status == "none", Visit.user_id != manager_id,
        Visit.status != visits.WAITING, scope.users_filter(visible, Visit.user_id),
    )


def queue(uow: UnitOfWork, manager_id: int, now: datetime, limit: int = QUEUE_PAGE, page_no: int | None = None) -> Queue:
    """One page of the visits waiting for this manager's review, oldest first."""
    page_no = paging.number(page_no)
    manager = visits.active_user(uow, manager_id)
    visible = scope.of(uow, manager_id, now.date())
    zone = visits.zone_of(manager)
    conditions = _reviewable(visible, manager_id)
    total = uow.session.scalar(select(func.count()).select_from(Visit).where(*conditions)) or 0
    rows = uow.session.execute(
        select(Visit, User.name).join(User, Visit.user_id == User.id).where(*conditions)
        .order_by(Visit.started_at, Visit.id).offset(paging.offset(page_no, limit)).limit(limit)
    ).all()
    photos = photo_counts(uow, [v.id for v, _ in rows])
    items = [_item(uow, v, name, zone, photos) for v, name in rows]
    offers = reanchoring.offers_for_visits(uow, manager_id, [item.visit_id for item in items])
    waiting = _refused_waiting(uow, visible, manager_id, zone, limit) if page_no == 1 else []
    return Queue(items, total, paging.of_total(page_no, len(items), total, limit), offers, waiting)


def _item(uow: UnitOfWork, v: Visit, rep_name: str, zone: ZoneInfo, photos: dict) -> QueueItem:
    return QueueItem(
        v.id, v.kind, rep_name, target_name(target_of(uow, v)),
        (v.taken_at or v.started_at).astimezone(zone), v.verdict, v.reasons, v.distance_m, v.accuracy_m, v.source,
        *photos.get(v.id, (0, [])), on_site=visits.on_site(v, zone),
    )


def _refused_waiting(uow: UnitOfWork, visible: scope.Scope, manager_id: int, zone: ZoneInfo,
                     limit: int) -> list[QueueItem]:
    """The newest visits of his reps still waiting for a location after a forwarded or future-dated
    one was refused (bot.services.visits.refusals): the manager sees the attempt before the visit ends."""
    rows = uow.session.execute(
        select(Visit, User.name).join(User, Visit.user_id == User.id)
        .where(Visit.status == visits.WAITING, Visit.user_id != manager_id, scope.users_filter(visible, Visit.user_id),
               refusals.may_have_trace())
        .order_by(Visit.created_at.desc(), Visit.id.desc()).limit(limit)
    ).all()
    return [_item(uow, v, name, zone, {}) for v, name in rows if refusals.of(v.reasons)]


def decide(uow: UnitOfWork, manager_id: int, visit_id: int, approve: bool, note: str | None, now: datetime) -> Decision:
    visible = scope.of(uow, manager_id, now.date())
    visit = uow.session.get(Visit, visit_id)
    if visit is None or not scope.covers_user(uow, visible, visit.user_id):
        raise scope.not_found("visit", visit_id)
    if visit.user_id == manager_id:
        raise UserError("review/own_visit", visit_id=visit_id)
    if visit.verdict not in REVIEWABLE:
        raise UserError("review/not_reviewable", visit_id=visit_id, verdict=visit.verdict)
    status = "approved" if approve else "rejected"
    values = dict(review_status=status, reviewed_by_id=manager_id, reviewed_at=now, review_note=note, counts=approve)
    before = {key: audit_log.plain(getattr(visit, key)) for key in values}
    # Conditional update: of two managers pressing at once, one decides and the other is told.
    done = uow.session.execute(
        update(Visit).where(Visit.id == visit_id, Visit.review_status == "none").values(**values)
        .execution_options(synchronize_session=False)
    )
    if done.rowcount != 1:
        uow.session.refresh(visit)
        reviewer = uow.session.get(User, visit.reviewed_by_id) if visit.reviewed_by_id else None
        raise UserError("review/already_decided", visit_id=visit_id, status=visit.review_status,
                        by=reviewer.name if reviewer else "?")
    after = {key: audit_log.plain(value) for key, value in values.items()}
    audit_log.write(uow.session, audit_log.bulk_rows("visit", "update", [(visit_id, before, after, visit.user_id)], now))
    uow.session.refresh(visit)
    rep = uow.session.get(User, visit.user_id)
    assert rep is not None
    decision = Decision(visit_id, approve, rep.id, rep.name, rep.locale, target_name(target_of(uow, visit)),
                        visit.counts, visit.kind)
    outbox.queue_direct(uow, rep.id, "review/rep_told", {"decision": decision, "note": note},
                        dedupe_key=f"review:{visit_id}", now=now)
    return decision
