"""`/nearby [RADIUS]`: the customers a rep may see and the pool leads he may claim around where he
is, nearest first. Where he is: his last position (a visit's or a check-in's) taken within
FRESH_FIX, else the next position he shares (asked like /setloc's: customer_location.ask_position,
answered by bot.services.visits.shared_location).

The places come from their own columns (import, org file, /setloc, trusted visits); nothing is
geocoded. One statement reads both kinds: each a latitude range of its partial index on (latitude,
longitude) with the longitudes filtered in the index (db.models: ix_customers_coordinates,
ix_leads_unassigned_coordinates), cut to the circle and ordered by a flat-map distance computed in
SQL (plain arithmetic, so SQLite runs it too), counted with a window, and only the nearest MAX_LISTED
rows sent back; their exact distances are computed here. Measured on bench/nearby.py's million
places, an integer grid-cell column instead (0.02° cells, the box's cells as an IN list, an index
on (cell, latitude, longitude)) read the same rows about 12 % faster: not worth a column that every
write of a place (imports, /setloc, visits, re-anchoring, conversion) would have to keep.
"""
import math
import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache

from sqlalchemy import (
    Date,
    Float,
    Integer,
    Select,
    String,
    bindparam,
    func,
    null,
    select,
    union_all,
)

from bot.errors import UserError
from bot.services.core import geo, outbox
from bot.services.leads import ownership, pool
from bot.services.leads.ownership import run
from bot.services.manager import scope
from bot.services.visits.customer_location import NearbyAsked, ask_position
from bot.services.visits.evidence import previous_fix
from bot.services.visits.visits import zone_of
from db.models import Customer, Lead, LeadStatus, Pool, User
from db.session import UnitOfWork

DEFAULT_RADIUS_M = 2_000
MAX_RADIUS_M = 50_000
MAX_LISTED = 20
# His last position stands for where he is this long; after it, /nearby asks for a new one.
FRESH_FIX = timedelta(minutes=15)
ASK_LIFETIME = timedelta(minutes=15)
LIST_TEMPLATE = "visits/nearby"

# "2", "1.5km", "800 m", "3公里", "500米": a bare number is kilometres.
_RADIUS = re.compile(r"^(?P<value>\d{1,6}(?:\.\d{1,3})?)\s*(?P<unit>km|m|公里|千米|米)?$", re.IGNORECASE)
_METRES_PER = {None: 1000.0, "km": 1000.0, "公里": 1000.0, "千米": 1000.0, "m": 1.0, "米": 1.0}


@dataclass(frozen=True)
class NearbyPlace:
    kind: str  # customer | lead (an unassigned lead of one of his pools)
    id: int
    name: str
    distance_m: float
    pool: str | None = None  # a lead's pool

    @property
    def ref(self) -> str:
        """How /visit names it: c12, l7."""
        return f"{self.kind[0]}{self.id}"


@dataclass(frozen=True)
class Nearby:
    radius_m: int
    places: tuple[NearbyPlace, ...]
    total: int  # within the radius; only the nearest MAX_LISTED are listed
    fix_taken_at: datetime  # when the position it was measured from was taken, on the rep's clock

    @property
    def more(self) -> int:
        return self.total - len(self.places)


def parse_radius(text: str | None) -> int:
    """The radius in metres: 0 < radius <= MAX_RADIUS_M; anything else is a clear refusal."""
    if text is None or not text.strip():
        return DEFAULT_RADIUS_M
    typed = unicodedata.normalize("NFKC", text).strip()
    match = _RADIUS.match(typed)
    metres = float(match["value"]) * _METRES_PER[match["unit"] and match["unit"].lower()] if match else 0.0
    if not 1 <= metres <= MAX_RADIUS_M:
        raise UserError("visits/nearby_bad_radius", radius=typed[:20], most_km=MAX_RADIUS_M // 1000)
    return round(metres)


def require_precise(accuracy_m: float | None, radius_m: int, accuracy_max_m: float) -> None:
    """A position known only to within more than the radius (and the unit's accuracy limit) says
    nothing of what is near: refused, nothing written, the request keeps waiting."""
    if accuracy_m is not None and accuracy_m > max(radius_m, accuracy_max_m):
        raise UserError("visits/nearby_inaccurate", accuracy_m=round(accuracy_m), radius_m=radius_m)


def place_buttons(found: Nearby) -> tuple[dict, ...]:
    """A button per place, as labels/ keys and command lines: visit a customer, claim a lead (the
    chat's answer and the list sent to his DM alike, bot.i18n.button)."""
    return tuple({"label": "visit_place", "payload": f"visit {place.ref}", "params": {"ref": place.ref}}
                 if place.kind == "customer" else
                 {"label": "claim_lead", "payload": f"claim {place.id}", "params": {"id": place.id}, "style": "primary"}
                 for place in found.places)


def send_to_chat(uow: UnitOfWork, user_id: int, found: Nearby, now: datetime) -> bool:
    """The list, with its buttons, to his DM with the bot (the outbox: rendered for his platform);
    False when he has no chat the bot can reach."""
    return outbox.queue_direct(uow, user_id, LIST_TEMPLATE, {"nearby": found}, buttons=place_buttons(found),
                               now=now)


def nearby(uow: UnitOfWork, user_id: int, radius_text: str | None, now: datetime) -> Nearby | NearbyAsked:
    """`/nearby [RADIUS]`: the list around his last position if it is fresh, else ask for one."""
    radius_m = parse_radius(radius_text)
    fix = previous_fix(uow, user_id, now + timedelta(minutes=1))  # a fix dated a moment ahead is his too
    if fix is not None and now - fix.taken_at <= FRESH_FIX:
        return around(uow, user_id, fix.latitude, fix.longitude, radius_m, fix.taken_at)
    request = ask_position(uow, user_id, now, ASK_LIFETIME, radius_m=radius_m)
    return NearbyAsked(radius_m, request.expires_at, request.id)


def around(uow: UnitOfWork, user_id: int, latitude: float, longitude: float, radius_m: int,
           taken_at: datetime) -> Nearby:
    """The customers in his scope and the unassigned leads of his pools within radius_m of a point."""
    visible = scope.of(uow, user_id, taken_at.date())
    south, north, west, east = geo.box(latitude, longitude, radius_m)
    degree_m = math.radians(1) * geo.EARTH_RADIUS_M
    params = {"south": south, "north": north, "west": west, "east": east, "lat0": latitude, "lon0": longitude,
              "lon_scale": math.cos(math.radians(latitude)), "reach": (radius_m / degree_m) ** 2,
              "user_id": user_id, "listed": MAX_LISTED}
    params.update(scope_user=visible.user_id, scope_unit=visible.unit_id, scope_path=visible.unit_path,
                  scope_today=visible.today)
    rows = run(uow, _statement(visible.kind), params).all()
    places = sorted((NearbyPlace(kind, record_id, name, geo.distance_m(latitude, longitude, lat, lon), pool_name)
                     for kind, record_id, name, lat, lon, pool_name, _total in rows),
                    key=lambda place: (place.distance_m, place.kind, place.id))
    user = uow.session.get(User, user_id)
    assert user is not None
    return Nearby(radius_m, tuple(places), rows[0].total if rows else 0, taken_at.astimezone(zone_of(user)))


def _flat_distance(latitude, longitude):
    """Squared distance in degrees of latitude on a flat map around the point, with no trigonometry in
    SQL: within 0.3 % of the true distance over the largest radius (50 km), so the circle's edge and
    the choice of the nearest MAX_LISTED may differ by that much; the distances shown are exact."""
    east = (longitude - bindparam("lon0", type_=Float)) * bindparam("lon_scale", type_=Float)
    north = latitude - bindparam("lat0", type_=Float)
    return east * east + north * north


def _in_box(latitude, longitude):
    return (latitude.between(bindparam("south", type_=Float), bindparam("north", type_=Float))
            & longitude.between(bindparam("west", type_=Float), bindparam("east", type_=Float)))


@cache
def _statement(scope_kind: str) -> Select:
    """Built once per kind of data scope, the caller's scope as bound parameters: building and
    cache-keying a statement this size costs more than running it."""
    # The scope's values as parameters (filled in by `around`): scope.owned_filter only compares them.
    visible = scope.Scope(bindparam("scope_user", type_=Integer), scope_kind,  # type: ignore[arg-type]
                          bindparam("scope_unit", type_=Integer), bindparam("scope_path", type_=String),  # type: ignore[arg-type]
                          bindparam("scope_today", type_=Date))  # type: ignore[arg-type]
    reach = bindparam("reach", type_=Float)
    customer_distance = _flat_distance(Customer.latitude, Customer.longitude)
    customers = select(
        ownership.constant("customer").label("kind"), Customer.id, Customer.name.label("name"), Customer.latitude,
        Customer.longitude, null().label("pool"), customer_distance.label("d2"),
    ).where(
        # db.models.customer.CUSTOMERS_PLACED, the status a literal so that a generic plan matches the index
        Customer.status == ownership.constant("active"), Customer.latitude.is_not(None),
        _in_box(Customer.latitude, Customer.longitude), customer_distance <= reach,
        scope.owned_filter(visible, Customer.owner_id, "customer", Customer.id),
    )
    lead_distance = _flat_distance(Lead.latitude, Lead.longitude)
    leads = select(
        ownership.constant("lead").label("kind"), Lead.id, Lead.company.label("name"), Lead.latitude, Lead.longitude,
        Pool.name.label("pool"), lead_distance.label("d2"),
    ).join(Pool, Pool.id == Lead.pool_id).where(
        # db.models.lead.LEADS_PLACED, as above; the pools he belongs to (an admin: every active pool)
        Lead.status == ownership.constant(LeadStatus.UNASSIGNED.value), Lead.latitude.is_not(None),
        _in_box(Lead.latitude, Lead.longitude), lead_distance <= reach,
        pool.sees_pool(ownership.USER_ID),
    )
    both = union_all(customers, leads).subquery("around")
    return (select(both.c.kind, both.c.id, both.c.name, both.c.latitude, both.c.longitude, both.c.pool,
                   func.count().over().label("total"))
            .order_by(both.c.d2, both.c.kind, both.c.id).limit(bindparam("listed", type_=Integer)))
