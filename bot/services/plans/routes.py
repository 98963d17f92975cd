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
from collections.abc import Sequence
from dataclasses import dataclass

from bot.services.core.geo import distance_m

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
    """Distances between every pair, the start as index 0 (or a zero row when there is none)."""
    nodes = [start, *points]
    size = len(nodes)
    grid = [[0.0] * size for _ in range(size)]
    for i in range(size):
        for j in range(i + 1, size):
            a, b = nodes[i], nodes[j]
            d = 0.0 if a is None or b is None else distance_m(a[0], a[1], b[0], b[1])
            grid[i][j] = grid[j][i] = d
    return grid


def path_length(grid: list[list[float]], path: Sequence[int]) -> float:
    """Length of an open path of matrix indexes."""
    return sum(grid[a][b] for a, b in zip(path, path[1:], strict=False))


def nearest_neighbour(grid: list[list[float]], has_start: bool) -> list[int]:
    """Matrix indexes of the stops (1..n) in nearest-neighbour order: from the start, else from stop 1."""
    left = set(range(1, len(grid)))
    if not left:
        return []
    current = 0 if has_start else 1
    path = [] if has_start else [1]
    left.discard(current)
    while left:
        row = grid[current]
        current = min(left, key=lambda j: (row[j], j))
        left.remove(current)
        path.append(current)
    return path


def two_opt(grid: list[list[float]], path: list[int], has_start: bool) -> list[int]:
    """Reverse stretches while one shortens the open path (the start, when there is one, stays first)."""
    full = [0, *path] if has_start else list(path)
    first = 1 if has_start else 0  # the start never moves
    n = len(full)
    for _ in range(MAX_PASSES):
        improved = False
        for i in range(max(first, 1), n - 1):
            for k in range(i + 1, n):
                a, b = full[i - 1], full[i]
                c = full[k]
                after = full[k + 1] if k + 1 < n else None
                before = grid[a][b] + (grid[c][after] if after is not None else 0.0)
                changed = grid[a][c] + (grid[b][after] if after is not None else 0.0)
                if changed < before - _GAIN:
                    full[i:k + 1] = reversed(full[i:k + 1])
                    improved = True
        if not has_start:
            # An open path without a fixed start may also be reversed at its head.
            for k in range(1, n - 1):
                if grid[full[k]][full[k + 1]] > grid[full[0]][full[k + 1]] + _GAIN:
                    full[0:k + 1] = reversed(full[0:k + 1])
                    improved = True
        if not improved:
            break
    return full[1:] if has_start else full


def plan_route(start: Point | None, points: Sequence[Point]) -> Route:
    """The route from `start` through every point: nearest neighbour improved by 2-opt."""
    if not points:
        return Route((), (), 0.0, 0.0)
    grid = matrix(start, points)
    has_start = start is not None
    greedy = nearest_neighbour(grid, has_start)
    head = [0] if has_start else []
    greedy_m = path_length(grid, head + greedy)
    best = two_opt(grid, list(greedy), has_start)
    best_m = path_length(grid, head + best)
    if best_m > greedy_m:  # cannot happen (2-opt only accepts shorter); kept as the stated guarantee
        best, best_m = greedy, greedy_m
    full = head + best
    legs = tuple(grid[a][b] for a, b in zip(full, full[1:], strict=False))
    if not has_start:
        legs = (0.0, *legs)
    return Route(tuple(i - 1 for i in best), legs, best_m, greedy_m)
