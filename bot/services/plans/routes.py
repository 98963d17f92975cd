"""A day's route through a rep's stops: nearest neighbour, then improved by 2-opt. Pure functions.

Distances are straight lines on the Earth (haversine, bot.services.core.geo.distance_m), not roads:
a plan's "total distance" is the sum of the straight legs from the start (the rep's last trusted
position, else his office) through every located stop, as the crow flies. The route is open: it
ends at the last stop, it does not come back.

- **Nearest neighbour**: from the start, go to the closest stop not yet visited; O(n²) distances.
- **2-opt**: reverse any stretch of the route whose reversal shortens it (two legs replaced by two
  shorter ones: a crossing is always such a pair), until no reversal helps or `MAX_PASSES` passes
  are done; O(n²) per pass. It only ever accepts a shorter route, so the result is never longer
  than nearest neighbour's.

A day holds a handful of stops, so both run in microseconds; the distances are computed once into a
matrix (n+1)² and looked up.
"""
import math
from collections.abc import Sequence
from dataclasses import dataclass

from bot.services.core.geo import EARTH_RADIUS_M

Point = tuple[float, float]  # latitude, longitude
MAX_PASSES = 50
ALGORITHM = "nearest_neighbour_2opt"
_GAIN = 1e-6  # metres: a reversal must shorten the route by more than rounding


@dataclass(frozen=True)
class Route:
    order: tuple[int, ...]  # indexes into the points given, in visiting order
    legs_m: tuple[float, ...]  # per stop in order, the leg that reaches it (0 for a first stop with no start)
    total_m: float
    nearest_neighbour_m: float  # the total before 2-opt, for comparison

    @property
    def total_km(self) -> float:
        return self.total_m / 1000


def matrix(start: Point | None, points: Sequence[Point]) -> list[list[float]]:
    """Distances between every pair, the start as index 0 (or a zero row when there is none): the
    haversine of bot.services.core.geo.distance_m, with each point's radians and cosine computed once."""
    nodes = [None if p is None else (math.radians(p[0]), math.radians(p[1]), math.cos(math.radians(p[0])))
             for p in (start, *points)]
    size = len(nodes)
    grid = [[0.0] * size for _ in range(size)]
    sin, asin, sqrt, diameter = math.sin, math.asin, math.sqrt, 2 * EARTH_RADIUS_M
    for i in range(size):
        a = nodes[i]
        if a is None:
            continue
        row = grid[i]
        for j in range(i + 1, size):
            b = nodes[j]
            h = sin((b[0] - a[0]) / 2) ** 2 + a[2] * b[2] * sin((b[1] - a[1]) / 2) ** 2  # type: ignore[index]
            row[j] = grid[j][i] = diameter * asin(min(1.0, sqrt(h)))
    return grid


def path_length(grid: list[list[float]], path: Sequence[int]) -> float:
    """Length of an open path of matrix indexes."""
    return sum(grid[a][b] for a, b in zip(path, path[1:], strict=False))


def nearest_neighbour(grid: list[list[float]]) -> list[int]:
    """Matrix indexes of the stops (1..n) in nearest-neighbour order from index 0 (the start; without
    one its row is zeros, so the walk begins at stop 1)."""
    left = set(range(1, len(grid)))
    current, path = 0, []
    while left:
        row = grid[current]
        current = min(left, key=lambda j: (row[j], j))
        left.remove(current)
        path.append(current)
    return path


def two_opt(grid: list[list[float]], path: list[int]) -> list[int]:
    """Reverse stretches while one shortens the open path from index 0, which stays first. The path's
    open end is closed by a dummy node at distance 0 from everything, so every reversal is the same
    two-leg exchange (a–b … c–d becomes a–c … b–d)."""
    size = len(grid)
    g = [[*row, 0.0] for row in grid] + [[0.0] * (size + 1)]
    tour = [0, *path, size]
    last = len(tour) - 1
    for _ in range(MAX_PASSES):
        improved = False
        for i in range(1, last - 1):
            row_a = g[tour[i - 1]]
            for k in range(i + 1, last):
                b, c, d = tour[i], tour[k], tour[k + 1]
                if row_a[c] + g[b][d] < row_a[b] + g[c][d] - _GAIN:
                    tour[i:k + 1] = tour[k:i - 1:-1]
                    improved = True
        if not improved:
            break
    return tour[1:last]


def plan_route(start: Point | None, points: Sequence[Point]) -> Route:
    """The route from `start` through every point: nearest neighbour improved by 2-opt."""
    if not points:
        return Route((), (), 0.0, 0.0)
    grid = matrix(start, points)
    greedy = nearest_neighbour(grid)
    greedy_m = path_length(grid, [0, *greedy])
    best = two_opt(grid, greedy)
    best_m = path_length(grid, [0, *best])
    if best_m > greedy_m:  # cannot happen (2-opt only accepts shorter); kept as the stated guarantee
        best, best_m = greedy, greedy_m
    full = [0, *best]
    legs = tuple(grid[a][b] for a, b in zip(full, full[1:], strict=False))
    return Route(tuple(i - 1 for i in best), legs, best_m, greedy_m)
