"""Distance and speed on the Earth, and what counts as a usable coordinate. Pure functions."""
import math
from datetime import datetime

EARTH_RADIUS_M = 6_371_008.8  # mean radius (IUGG)


def is_valid(latitude: float | None, longitude: float | None) -> bool:
    """In range, finite, and not the null island (0, 0) that broken GPS stacks report."""
    if latitude is None or longitude is None:
        return False
    try:
        lat, lon = float(latitude), float(longitude)
    except (TypeError, ValueError):
        return False
    if not (math.isfinite(lat) and math.isfinite(lon)):
        return False
    if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):
        return False
    return not (lat == 0.0 and lon == 0.0)


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres (haversine)."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi = phi2 - phi1
    dlambda = math.radians(lon2 - lon1)
    a = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlambda / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def box(latitude: float, longitude: float, metres: float) -> tuple[float, float, float, float]:
    """(south, north, west, east) of a box holding every point within `metres` of a point: what an
    index on (latitude, longitude) is asked for before the exact distance. Near the poles the
    longitudes span is capped (cos floored at 0.01); a box across the 180th meridian is not split."""
    dlat = math.degrees(metres / EARTH_RADIUS_M)
    dlon = dlat / max(math.cos(math.radians(latitude)), 0.01)
    return latitude - dlat, latitude + dlat, longitude - dlon, longitude + dlon


def speed_kmh(distance: float, start: datetime, end: datetime) -> float:
    """Implied speed between two fixes; infinite when a distance was covered in no time."""
    hours = abs((end - start).total_seconds()) / 3600
    if hours == 0:
        return math.inf if distance > 0 else 0.0
    return distance / 1000 / hours


def bearing_deg(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Initial great-circle bearing from the first point to the second, 0–360° clockwise from north."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dlambda = math.radians(lon2 - lon1)
    y = math.sin(dlambda) * math.cos(phi2)
    x = math.cos(phi1) * math.sin(phi2) - math.sin(phi1) * math.cos(phi2) * math.cos(dlambda)
    return math.degrees(math.atan2(y, x)) % 360.0


def angle_between_deg(a: float, b: float) -> float:
    """The smaller angle between two bearings, 0–180°."""
    diff = abs(a - b) % 360.0
    return 360.0 - diff if diff > 180.0 else diff


def offset_m(origin_lat: float, origin_lon: float, lat: float, lon: float) -> tuple[float, float]:
    """(east, north) metres of a point from an origin on a local flat map: good to a few centimetres
    over the few kilometres of a visit or a live trail."""
    north = math.radians(lat - origin_lat) * EARTH_RADIUS_M
    east = math.radians(lon - origin_lon) * EARTH_RADIUS_M * math.cos(math.radians(origin_lat))
    return east, north
