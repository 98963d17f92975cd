"""Photos attached to visits: where a photo goes, what is checked, and what a manager gets back.

A photo goes to the rep's open visit, else to the visit he closed within ATTACH_AFTER_END (the photo
of the shop front taken on the way out); with neither it is refused. In a group chat it is refused
like a location (a visit photo is personal). Its reasons (bot.services.visits.photo_checks) stay on
the photo; a flagged photo also flags a verified visit not yet reviewed, so that it reaches the
manager's review queue. The file is kept by bot.services.visits.photo_store; the row is audited.
"""
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import func, literal_column, or_, select

from bot.errors import UserError
from bot.services.manager import scope
from bot.services.visits import photo_checks as checks
from bot.services.visits.location_checks import FLAG, NOTE, Reason, verdict_of
from bot.services.visits.photo_store import PhotoStore
from bot.services.visits.thresholds import thresholds_for
from bot.services.visits.visit_targets import target_name, target_of
from bot.services.visits.visits import OPEN_STATUSES, WAITING, active_user, zone_of
from db.models import User, Visit
from db.models.photo import VisitPhoto, phash_bands
from db.session import UnitOfWork

# A photo sent this long after the rep closed his visit still goes to it.
ATTACH_AFTER_END = timedelta(minutes=30)
# The newest photos of the rep and of the customer (or lead) compared bit by bit for reuse; the
# company's others are reached through the indexed pHash bands (db.models.photo).
EARLIER_LIMIT = 5000
# `/photos` sends at most this many (the first ones), each up to PHOTO_MAX_BYTES, read into memory.
SENT_AT_MOST = 10


@dataclass(frozen=True)
class Upload:
    """A photo as the platform delivered it."""

    content: bytes | None  # None: not downloaded (too big, by the size the platform told)
    size: int  # bytes, as the platform told it (or len(content))
    sent_as: str  # photo (compressed by the platform, no EXIF) | file (the original)
    file_name: str | None = None
    failed: bool = False  # the platform did not hand the bytes over


@dataclass(frozen=True)
class PhotoAttached:
    photo_id: int
    visit_id: int
    target_name: str | None
    flagged: bool
    reasons: list[dict]
    photos_on_visit: int
    visit_flagged: bool  # the photo turned the visit's verdict to flagged


@dataclass(frozen=True)
class StoredPhoto:
    photo_id: int
    file_name: str
    content: bytes | None  # None: the file is missing (bot.services.visits.photo_store)
    reasons: list[dict]
    taken_local: datetime | None


@dataclass(frozen=True)
class VisitPhotos:
    visit_id: int
    rep_name: str
    target_name: str | None
    photos: list[StoredPhoto]  # the first SENT_AT_MOST
    total: int


def attach_photo(uow: UnitOfWork, root: Path, user_id: int, upload: Upload, now: datetime, is_private: bool,
                 max_bytes: int) -> PhotoAttached:
    """Check, store and record one photo; UserError (nothing written) when it cannot be taken."""
    if not is_private:
        raise UserError("visits/photo_in_group")
    if upload.failed:
        raise UserError("visits/photo_unavailable")
    if upload.content is None or upload.size > max_bytes or len(upload.content) > max_bytes:
        raise UserError("visits/photo_too_big", limit_mb=round(max_bytes / 1024 / 1024, 1))
    user = active_user(uow, user_id, lock=True)
    visit = photo_visit(uow, user_id, now)
    if visit is None:
        raise UserError("visits/photo_no_visit")
    facts = checks.read_photo(upload.content, zone_of(user))
    target = target_of(uow, visit)
    reasons = [
        *checks.check_exif(facts, upload.sent_as),
        *checks.check_time(facts.taken_at, visit.started_at, visit.ended_at or now),
        *checks.check_position(facts.latitude, facts.longitude, _place(visit, target),
                               thresholds_for(uow, user.unit_id).geofence_m),
        *checks.check_reuse(facts.phash, _earlier(uow, visit, facts.phash)),
    ]
    store = PhotoStore(root)
    photo = VisitPhoto(
        visit_id=visit.id, user_id=user_id, customer_id=visit.customer_id, lead_id=visit.lead_id,
        stored_path=store.name_for(facts.sha256, facts.mime), sha256=facts.sha256, size_bytes=len(upload.content),
        mime=facts.mime, phash=facts.phash, sent_as=upload.sent_as, exif_taken_at=facts.taken_at,
        exif_latitude=facts.latitude, exif_longitude=facts.longitude, reasons=[r.to_json() for r in reasons],
        created_at=now, **{f"phash_b{band}": value for band, value in enumerate(phash_bands(facts.phash))},
    )
    uow.session.add(photo)
    flagged = verdict_of(reasons) == "flagged"
    visit_flagged = flagged and _flag_visit(visit)
    uow.session.flush()
    store.put(uow.session, upload.content, photo.stored_path)
    count = len(uow.session.scalars(select(VisitPhoto.id).where(VisitPhoto.visit_id == visit.id)).all())
    return PhotoAttached(photo.id, visit.id, target_name(target), flagged, photo.reasons, count, visit_flagged)


def photo_visit(uow: UnitOfWork, user_id: int, now: datetime) -> Visit | None:
    """The rep's open visit, else the one he closed within ATTACH_AFTER_END (check-ins take none)."""
    open_or_recent = or_(
        Visit.status.in_([literal_column(f"'{status}'") for status in OPEN_STATUSES]),
        Visit.ended_at >= now - ATTACH_AFTER_END,
    )
    return uow.session.scalar(
        select(Visit).where(Visit.user_id == user_id, Visit.kind == "visit", open_or_recent)
        .order_by(Visit.ended_at.is_not(None), Visit.started_at.desc(), Visit.id.desc()).limit(1)
    )


def _place(visit: Visit, target: object) -> tuple[float, float] | None:
    """Where the photo should have been taken: the visit's pinned position, else its customer's."""
    if visit.latitude is not None and visit.longitude is not None:
        return visit.latitude, visit.longitude
    latitude, longitude = getattr(target, "latitude", None), getattr(target, "longitude", None)
    return (latitude, longitude) if latitude is not None and longitude is not None else None


def _earlier(uow: UnitOfWork, visit: Visit, phash: str) -> list[tuple[int, str]]:
    """(visit id, pHash) of photos at other visits: the rep's and the customer's (or lead's) newest,
    and the company's that share a 16-bit band with this hash."""
    mine = [VisitPhoto.user_id == visit.user_id]
    if visit.customer_id is not None:
        mine.append(VisitPhoto.customer_id == visit.customer_id)
    if visit.lead_id is not None:
        mine.append(VisitPhoto.lead_id == visit.lead_id)
    bands = [getattr(VisitPhoto, f"phash_b{band}") == value for band, value in enumerate(phash_bands(phash))]
    rows: set[tuple[int, str]] = set()
    for condition in (or_(*mine), or_(*bands)):
        rows.update(uow.session.execute(
            select(VisitPhoto.visit_id, VisitPhoto.phash).where(condition, VisitPhoto.visit_id != visit.id)
            .order_by(VisitPhoto.id.desc()).limit(EARLIER_LIMIT)
        ).tuples())
    return sorted(rows)


def _flag_visit(visit: Visit) -> bool:
    """A doubtful photo puts a visit not reviewed yet in front of the manager: the visit gets the
    reason "photo_flagged" (a flag), which a verified visit's verdict follows at once, and a visit
    still waiting for its location when it is judged (shared_location keeps the reason). True: the
    verdict changed now. An approved or rejected visit stays decided; the photo keeps its reasons."""
    if visit.review_status != "none":
        return False
    if not any(r.get("code") == "photo_flagged" for r in visit.reasons):
        visit.reasons = [*visit.reasons, Reason("photo_flagged", FLAG).to_json()]
    if visit.status == WAITING or visit.verdict != "verified":
        return False
    visit.verdict, visit.counts = "flagged", False
    return True


def photo_counts(uow: UnitOfWork, visit_ids: list[int]) -> dict[int, tuple[int, list[dict]]]:
    """Per visit: how many photos, and their reasons that are not mere notes (for the review list)."""
    result: dict[int, tuple[int, list[dict]]] = {}
    if not visit_ids:
        return result
    for visit_id, reasons in uow.session.execute(
        select(VisitPhoto.visit_id, VisitPhoto.reasons).where(VisitPhoto.visit_id.in_(visit_ids))
        .order_by(VisitPhoto.id)
    ):
        count, flags = result.get(visit_id, (0, []))
        new = [r for r in reasons or [] if r.get("severity") != NOTE and r not in flags]  # each said once
        result[visit_id] = (count + 1, flags + new)
    return result


def visit_photos(uow: UnitOfWork, root: Path, viewer_id: int, visit_id: int, now: datetime) -> VisitPhotos:
    """A visit's photos, for the rep himself or anyone whose scope covers him (else: not found)."""
    viewer = active_user(uow, viewer_id)
    visit = uow.session.get(Visit, visit_id)
    if visit is None or not scope.covers_user(uow, scope.of(uow, viewer_id, now.date()), visit.user_id):
        raise scope.not_found("visit", visit_id)
    rep = uow.session.get(User, visit.user_id)
    store, zone = PhotoStore(root), zone_of(viewer)
    of_visit = select(VisitPhoto).where(VisitPhoto.visit_id == visit_id)
    total = uow.session.scalar(select(func.count()).select_from(of_visit.subquery())) or 0
    photos = [
        StoredPhoto(p.id, f"visit{visit_id}-photo{p.id}.{p.stored_path.rsplit('.', 1)[-1]}", store.read(p.stored_path),
                    p.reasons, p.exif_taken_at.astimezone(zone) if p.exif_taken_at else None)
        for p in uow.session.scalars(of_visit.order_by(VisitPhoto.id).limit(SENT_AT_MOST))
    ]
    return VisitPhotos(visit_id, rep.name if rep else "?", target_name(target_of(uow, visit)), photos, total)
