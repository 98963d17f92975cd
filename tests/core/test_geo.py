"""Distance and speed math against known city pairs, and coordinate validation."""
import math
from datetime import UTC, datetime, timedelta

import pytest

from bot.services.core import geo

WEST_LAKE = (30.2431, 120.1507)
PEOPLES_SQUARE = (31.2304, 121.4737)


@pytest.mark.parametrize(
    ("a", "b", "km"),
    [
        (WEST_LAKE, PEOPLES_SQUARE, 167),  # Hangzhou West Lake to Shanghai People's Square (~165 km)
        ((39.9042, 116.4074), PEOPLES_SQUARE, 1068),  # Beijing to Shanghai
        ((51.5007, -0.1246), (48.8584, 2.2945), 341),  # Big Ben to the Eiffel Tower
        ((40.7128, -74.0060), (34.0522, -118.2437), 3936),  # New York to Los Angeles
    ],
)
def test_distance_between_known_places(a, b, km):
    assert geo.distance_m(*a, *b) / 1000 == pytest.approx(km, rel=0.01)
    assert geo.distance_m(*a, *b) == pytest.approx(geo.distance_m(*b, *a))


def test_distance_across_the_date_line_and_to_itself():
    assert geo.distance_m(0.5, 179.9, 0.5, -179.9) == pytest.approx(22_239, rel=0.01)
    assert geo.distance_m(*WEST_LAKE, *WEST_LAKE) == 0


def test_speed_from_distance_and_time():
    start = datetime(2026, 5, 1, 9, tzinfo=UTC)
    distance = geo.distance_m(*WEST_LAKE, *PEOPLES_SQUARE)
    assert 164_000 < distance < 169_000
    assert geo.speed_kmh(distance, start, start + timedelta(hours=1)) == pytest.approx(distance / 1000)
    assert geo.speed_kmh(distance, start, start + timedelta(minutes=20)) == pytest.approx(3 * distance / 1000)
    assert geo.speed_kmh(distance, start + timedelta(hours=2), start) == pytest.approx(distance / 2000)
    assert geo.speed_kmh(distance, start, start) == math.inf
    assert geo.speed_kmh(0, start, start) == 0


@pytest.mark.parametrize(
    ("lat", "lon", "ok"),
    [
        (30.2431, 120.1507, True),
        (-33.8568, 151.2153, True),
        (90, 180, True),
        (0.0, 0.0, False),  # null island: what a broken GPS reports
        (0.0, 12.5, True),  # on the equator is fine
        (91, 0, False),
        (0, -181, False),
        (math.nan, 120, False),
        (30, math.inf, False),
        (None, 120, False),
    ],
)
def test_coordinate_validation(lat, lon, ok):
    assert geo.is_valid(lat, lon) is ok
