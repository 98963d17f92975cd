"""Trusted places: where a customer (or lead) is, and how far that place is trusted.

A place is `trusted` when it comes from an import, from its owner's or a manager's /setloc with a
position that passed the checks (customer_location), from verified visits that agree, or from a
manager's re-anchoring; otherwise it is `tentative`. Only a trusted place flags a visit as too far
away; a visit to a record whose place is tentative (or unknown) is held (`place_unconfirmed`,
verdict `unconfirmed`): it counts once a manager approves it or once the place is confirmed.

- The first held visit that passed every other check gives the record a tentative place.
- A held visit that passed every other check and lands within the geofence of another such visit,
  made on another local day or by another rep, confirms the place (their mean, source `visit`);
  the visits that were held are judged again against it (`rejudge`): inside the geofence they count,
  outside they are flagged with the distance. A trusted /setloc does the same (`trust_place`).
- Re-anchoring (`offer_for`, `reanchor`): when the last REANCHOR_VISITS visits that passed every
  check but the geofence all landed away from a trusted place, within the geofence of each other
  and on at least two local days, a manager is offered to move the place there.

The state is the place's columns (`location_trust`, `location_source`) and the visits' verdicts and
reasons: nothing else to keep in step. Every change goes through the ORM and is audited.
"""
from dataclasses import dataclass
from datetime import date, datetime
from itertools import combinations
from zoneinfo import ZoneInfo

from sqlalchemy import select

from bot.services.core import geo, outbox
from bot.services.visits import location_checks as checks
from bot.services.visits.location_checks import TENTATIVE, TRUSTED, UNCONFIRMED, Reason
from db.models import Customer, Lead, User, Visit
from db.session import UnitOfWork

HELD = "place_unconfirmed"
REANCHOR_VISITS = 3
REANCHOR_DAYS = 2
# How many of a record's latest located visits are read to find its re-anchoring evidence.
REANCHOR_LOOKBACK = 50

Place = Customer | Lead


@dataclass(frozen=True)
class PlaceNews:
    """What a pinned visit did to its record's place."""

    event: str  # tentative (a first place) | confirmed
    counted: int = 0  # other held visits that count now (confirmed)
    flagged: int = 0  # other held visits now flagged as too far from the confirmed place


@dataclass(frozen=True)
class Evidence:
    visit_id: int
    rep_name: str
    day: date
    distance_m: float


@dataclass(frozen=True)
class ReanchorOffer:
    kind: str  # customer | lead
    record_id: int
    name: str
    latitude: float
    longitude: float
    evidence: list[Evidence]


def set_place(record: Place, latitude: float, longitude: float, source: str, trust: str, now: datetime) -> None:
    record.latitude, record.longitude = latitude, longitude
    record.location_source, record.location_trust, record.location_set_at = source, trust, now


def _record_filter(record: Place):
    return Visit.customer_id == record.id if isinstance(record, Customer) else Visit.lead_id == record.id


def _codes(visit: Visit, severity: str | None = None) -> set[str]:
    return {r.get("code") for r in visit.reasons if severity is None or r.get("severity") == severity}


def _local_day(uow: UnitOfWork, visit: Visit) -> date:
    user = uow.session.get(User, visit.user_id)
    zone = ZoneInfo(user.timezone or "UTC") if user is not None else ZoneInfo("UTC")
    assert visit.taken_at is not None
    return visit.taken_at.astimezone(zone).date()


def _apart(a: Visit, b: Visit) -> float:
    assert a.latitude is not None and a.longitude is not None and b.latitude is not None and b.longitude is not None
    return geo.distance_m(a.latitude, a.longitude, b.latitude, b.longitude)


def _agree(uow: UnitOfWork, a: Visit, b: Visit, fence: float) -> bool:
    """Two positions confirm each other: within the geofence, and another rep or another local day."""
    return _apart(a, b) <= fence and (a.user_id != b.user_id or _local_day(uow, a) != _local_day(uow, b))


def _held(uow: UnitOfWork, record: Place) -> list[Visit]:
    """The record's located visits waiting for its place, not decided by a manager."""
    rows = uow.session.scalars(select(Visit).where(
        _record_filter(record), Visit.kind == "visit", Visit.latitude.is_not(None),
        Visit.verdict.in_((UNCONFIRMED, "flagged")), Visit.review_status == "none",
    ).order_by(Visit.id))
    return [v for v in rows if HELD in _codes(v)]


def settle(uow: UnitOfWork, visit: Visit, record: Place | None, fence: float, now: datetime) -> PlaceNews | None:
    """After a visit was pinned: give its record a tentative place, or confirm the place."""
    if record is None or visit.kind != "visit" or visit.verdict != UNCONFIRMED or visit.latitude is None:
        return None
    assert visit.longitude is not None
    # Two reps' visits to one record settle its place one after the other (a no-op on SQLite).
    uow.session.refresh(record, with_for_update=True)
    if record.latitude is None:
        set_place(record, visit.latitude, visit.longitude, "visit", TENTATIVE, now)
        return PlaceNews(TENTATIVE)
    held = _held(uow, record)
    support = [v for v in held if v.id != visit.id and v.verdict == UNCONFIRMED and _agree(uow, v, visit, fence)]
    if not support:
        return None
    group = [visit, *support]
    latitude = sum(v.latitude for v in group) / len(group)  # type: ignore[misc]
    longitude = sum(v.longitude for v in group) / len(group)  # type: ignore[misc]
    set_place(record, latitude, longitude, "visit", TRUSTED, now)
    others = [v for v in held if v.id != visit.id]
    kind = _kind_and_name(record)[0]
    counted, flagged = rejudge(others, (latitude, longitude), fence, "place_confirmed", kind)
    rejudge([visit], (latitude, longitude), fence, None, kind)  # it confirms the place: no note
    _tell_others(uow, visit.user_id, others, _kind_and_name(record)[1], now)
    return PlaceNews("confirmed", counted, flagged)


def trust_place(uow: UnitOfWork, record: Place, latitude: float, longitude: float, source: str, fence: float,
                actor_id: int, now: datetime) -> tuple[int, int]:
    """A trusted place set by hand (/setloc): the record's held visits are judged again against it,
    as when visits confirm it. Returns (now counting, now flagged)."""
    set_place(record, latitude, longitude, source, TRUSTED, now)
    held = _held(uow, record)
    done = rejudge(held, (latitude, longitude), fence, "place_confirmed", _kind_and_name(record)[0])
    _tell_others(uow, actor_id, held, _kind_and_name(record)[1], now)
    return done


def _tell_others(uow: UnitOfWork, actor_id: int, others: list[Visit], name: str, now: datetime) -> None:
    """The reps whose held visits were judged again get one direct message each per visit, but the
    one who confirmed the place: he reads it in his answer."""
    for other in others:
        if other.user_id != actor_id:
            told = {"visit_id": other.id, "target_name": name, "verdict": other.verdict,
                    "distance_m": other.distance_m}
            outbox.queue_direct(uow, other.user_id, "visits/place_confirmed_told", told,
                                dedupe_key=f"place_confirmed:{other.id}", now=now)


def rejudge(visits: list[Visit], place: tuple[float, float], fence: float, note: str | None,
            kind: str) -> tuple[int, int]:
    """Judge held (or re-anchored) visits again against a trusted place, the saved location of a
    `kind` record (customer, lead): (now counting, now flagged)."""
    counted = flagged = 0
    for visit in visits:
        assert visit.latitude is not None and visit.longitude is not None
        distance = geo.distance_m(visit.latitude, visit.longitude, place[0], place[1])
        kept = [r for r in visit.reasons if r.get("code") not in (HELD, "outside_geofence", note)]
        reasons = kept + [r.to_json() for r in checks.check_geofence(distance, fence, kind)]
        if note is not None:
            reasons.append(Reason(note, checks.NOTE).to_json())
        visit.reasons, visit.distance_m = reasons, distance
        visit.verdict = checks.verdict_of(reasons)
        visit.counts = visit.verdict == "verified" or visit.review_status == "approved"
        counted += visit.counts
        flagged += visit.verdict == "flagged"
    return counted, flagged


def _only_too_far(visit: Visit) -> bool:
    """Passed every check but (perhaps) the geofence: the kind of visit that can move a place."""
    return visit.verdict in ("verified", "flagged") and _codes(visit, checks.FLAG) <= {"outside_geofence"} \
        and HELD not in _codes(visit)


def _evidence(uow: UnitOfWork, record: Place, fence: float) -> list[Visit] | None:
    if record.location_trust != TRUSTED or record.latitude is None or record.longitude is None:
        return None
    rows = uow.session.scalars(select(Visit).where(
        _record_filter(record), Visit.kind == "visit", Visit.latitude.is_not(None), Visit.taken_at.is_not(None),
    ).order_by(Visit.taken_at.desc(), Visit.id.desc()).limit(REANCHOR_LOOKBACK)).all()
    last = [v for v in rows if _only_too_far(v)][:REANCHOR_VISITS]
    if len(last) < REANCHOR_VISITS:
        return None
    far = all(geo.distance_m(v.latitude, v.longitude, record.latitude, record.longitude) > fence  # type: ignore[arg-type]
              for v in last)
    together = all(_apart(a, b) <= fence for a, b in combinations(last, 2))
    days = {_local_day(uow, v) for v in last}
    return last if far and together and len(days) >= REANCHOR_DAYS else None


def _kind_and_name(record: Place) -> tuple[str, str]:
    return ("customer", record.name) if isinstance(record, Customer) else ("lead", record.company)


def offer_for(uow: UnitOfWork, record: Place, fence: float) -> ReanchorOffer | None:
    """The re-anchoring a manager is offered for this record, with its evidence, or None."""
    last = _evidence(uow, record, fence)
    if last is None:
        return None
    evidence = []
    for visit in last:
        rep = uow.session.get(User, visit.user_id)
        distance = geo.distance_m(visit.latitude, visit.longitude, record.latitude, record.longitude)  # type: ignore[arg-type]
        evidence.append(Evidence(visit.id, rep.name if rep else "?", _local_day(uow, visit), distance))
    latitude = sum(v.latitude for v in last) / len(last)  # type: ignore[misc]
    longitude = sum(v.longitude for v in last) / len(last)  # type: ignore[misc]
    kind, name = _kind_and_name(record)
    return ReanchorOffer(kind, record.id, name, latitude, longitude, evidence)


def reanchor(uow: UnitOfWork, record: Place, fence: float, now: datetime) -> tuple[ReanchorOffer, int] | None:
    """Move a trusted place to where its evidence agrees; the evidence visits are judged again
    against it (not decided by a manager yet: theirs stands). Returns the offer applied and how
    many of its visits count now; None: nothing to re-anchor."""
    offer = offer_for(uow, record, fence)
    if offer is None:
        return None
    set_place(record, offer.latitude, offer.longitude, "reanchor", TRUSTED, now)
    evidence = [v for v in uow.session.scalars(select(Visit).where(Visit.id.in_([e.visit_id for e in offer.evidence])))
                if v.review_status == "none"]
    counted, _ = rejudge(evidence, (offer.latitude, offer.longitude), fence, "reanchored", _kind_and_name(record)[0])
    return offer, counted
