"""Routes on hand-checked cases: known Shanghai and Beijing points, a crossing uncrossed, and 2-opt
never longer than nearest neighbour (nor shorter than the best order, found by trying them all)."""
import itertools
import random

import pytest

from bot.services.plans import routes

PEOPLES_SQUARE = (31.2304, 121.4737)
LUJIAZUI = (31.2397, 121.4998)
JINGAN_TEMPLE = (31.2235, 121.4452)
XUJIAHUI = (31.1940, 121.4360)
HONGQIAO = (31.1979, 121.3363)
TIANANMEN = (39.9087, 116.3975)


def km(a, b) -> float:
    return routes.matrix(None, [a, b])[1][2] / 1000


def test_known_city_distances():
    assert km(PEOPLES_SQUARE, LUJIAZUI) == pytest.approx(2.69, abs=0.02)
    assert km(PEOPLES_SQUARE, TIANANMEN) == pytest.approx(1067, abs=3)


def test_points_on_a_line_are_visited_end_to_end_from_the_start():
    # Four stops due west of the start, given shuffled: the route walks them in order, 1 km apart.
    start = (31.2, 121.5)
    step = 1 / (111.195 * 0.85536)  # degrees of longitude per km at 31.2°N
    stops = [(31.2, 121.5 - step * n) for n in (3, 1, 4, 2)]
    route = routes.plan_route(start, stops)
    assert route.order == (1, 3, 0, 2)
    assert route.total_km == pytest.approx(4.0, abs=0.01)
    assert [round(leg) for leg in route.legs_m] == [1000, 1000, 1000, 1000]


def test_a_shanghai_day_from_peoples_square():
    route = routes.plan_route(PEOPLES_SQUARE, [HONGQIAO, LUJIAZUI, XUJIAHUI, JINGAN_TEMPLE])
    # Lujiazui is nearest (2.7 km), then back west: Jing'an, Xujiahui, Hongqiao.
    assert route.order == (1, 3, 2, 0)
    expected = km(PEOPLES_SQUARE, LUJIAZUI) + km(LUJIAZUI, JINGAN_TEMPLE) + km(JINGAN_TEMPLE, XUJIAHUI) \
        + km(XUJIAHUI, HONGQIAO)
    assert route.total_km == pytest.approx(expected, rel=1e-9)
    assert route.total_m <= route.nearest_neighbour_m


def crosses(p, q, r, s) -> bool:
    def side(a, b, c):
        return (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])
    return side(p, q, r) * side(p, q, s) < 0 and side(r, s, p) * side(r, s, q) < 0


def test_a_crossing_route_is_uncrossed():
    # A 5 km x 10 km rectangle: visiting its corners 1, 4, 3, 2 draws both diagonals, which cross.
    corners = [(31.20, 121.40), (31.20, 121.50), (31.25, 121.40), (31.25, 121.50)]
    crossing = [0, 3, 2, 1]
    legs = list(zip(crossing, crossing[1:], strict=False))
    assert crosses(corners[legs[0][0]], corners[legs[0][1]], corners[legs[2][0]], corners[legs[2][1]])
    grid = routes.matrix(corners[0], corners[1:])
    path = routes.two_opt(grid, [3, 2, 1])
    points = [corners[0]] + [corners[i] for i in path]
    segments = list(zip(points, points[1:], strict=False))
    assert not any(crosses(*a, *b) for a, b in itertools.combinations(segments, 2))
    assert routes.path_length(grid, [0, *path]) < routes.path_length(grid, [0, 3, 2, 1])


def test_nearest_neighbour_trap_is_shortened_by_two_opt():
    # From the start the nearest stop lies behind; greedy then doubles back over the start.
    start = (31.2300, 121.4700)
    stops = [(31.2300, 121.4690), (31.2300, 121.4720), (31.2300, 121.4760), (31.2300, 121.4640)]
    route = routes.plan_route(start, stops)
    assert route.total_m <= route.nearest_neighbour_m


@pytest.mark.parametrize("seed", range(40))
def test_two_opt_is_never_longer_than_nearest_neighbour_nor_shorter_than_the_best(seed):
    rng = random.Random(seed)
    size = rng.randint(2, 6)
    points = [(31.1 + rng.random() * 0.2, 121.3 + rng.random() * 0.3) for _ in range(size)]
    start = (31.2, 121.45) if seed % 2 else None
    route = routes.plan_route(start, points)
    assert sorted(route.order) == list(range(size))
    assert route.total_m <= route.nearest_neighbour_m + 1e-6
    grid = routes.matrix(start, points)
    best = min(routes.path_length(grid, [0] + [i + 1 for i in order]) for order in itertools.permutations(range(size)))
    assert route.total_m >= best - 1e-6
    assert sum(route.legs_m) == pytest.approx(route.total_m)


def test_no_stop_and_one_stop():
    assert routes.plan_route(PEOPLES_SQUARE, []).total_m == 0
    one = routes.plan_route(None, [LUJIAZUI])
    assert one.order == (0,) and one.total_m == 0 and one.legs_m == (0.0,)


def test_many_routes_at_once_are_each_the_route_planned_alone():
    # The morning push routes every rep's day in one batch: days of 0 to 12 stops, with and without
    # a start, side by side, each the same order, legs and totals as on its own.
    rng = random.Random(7)
    trips = [((31.2, 121.45) if n % 3 else None,
              [(31.1 + rng.random() * 0.2, 121.3 + rng.random() * 0.3) for _ in range(n % 13)]) for n in range(200)]
    for trip, together in zip(trips, routes.plan_routes(trips), strict=True):
        alone = routes.plan_route(*trip)
        assert together.order == alone.order
        assert together.legs_m == pytest.approx(alone.legs_m) and together.total_m == pytest.approx(alone.total_m)
        assert together.nearest_neighbour_m == pytest.approx(alone.nearest_neighbour_m)
