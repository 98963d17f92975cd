"""A day's route through a rep's stops: nearest neighbour, then improved by 2-opt. Pure functions.

Distances are straight lines on the Earth (haversine, as bot.services.core.geo.distance_m), not
roads: a plan's "total distance" is the sum of the straight legs from the start (the rep's last
trusted position, else his office) through every located stop, as the crow flies. The route is
open: it ends at the last stop, it does not come back.

- **Nearest neighbour**: from the start, go to the closest stop not yet visited (the lower index on
  a tie); O(n²) distances.
- **2-opt**: reverse any stretch of the route whose reversal shortens it (two legs replaced by two
  shorter ones: a crossing is always such a pair), until no reversal helps or `MAX_PASSES` passes
  are done; O(n²) per pass. It only ever accepts a shorter route, so the result is never longer
  than nearest neighbour's.

Routes are planned many at once (`plan_routes`: the morning push routes every rep's day in one
call). Days with the same number of stops are stacked into numpy arrays: each step of both
algorithms is then one array operation for all of those reps, taken in the same order a single
route would take it, so a rep's route is the same alone or among ten thousand.
"""
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from bot.services.core.geo import EARTH_RADIUS_M

Point = tuple[float, float]  # latitude, longitude
Trip = tuple[Point | None, Sequence[Point]]  # where it starts (None: at its first stop), the stops
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


def matrices(starts: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Distances (metres) between every pair of each trip's nodes, its start as node 0: `starts` is
    (trips, 2) with NaN for a trip without a start (its node 0 is then at distance 0 from all),
    `points` (trips, stops, 2), in degrees."""
    nodes = np.radians(np.concatenate([starts[:, None, :], points], axis=1))
    lat, lon = nodes[..., 0], nodes[..., 1]
    half_dlat = (lat[:, None, :] - lat[:, :, None]) / 2
    half_dlon = (lon[:, None, :] - lon[:, :, None]) / 2
    cos_lat = np.cos(lat)
    h = np.sin(half_dlat) ** 2 + cos_lat[:, :, None] * cos_lat[:, None, :] * np.sin(half_dlon) ** 2
    grid = 2 * EARTH_RADIUS_M * np.arcsin(np.minimum(1.0, np.sqrt(h)))
    return np.nan_to_num(grid, nan=0.0)


def nearest_neighbours(grids: np.ndarray) -> np.ndarray:
    """Per trip, node indexes of the stops (1..n) in nearest-neighbour order from node 0."""
    trips, size, _ = grids.shape
    rows = np.arange(trips)
    seen = np.zeros((trips, size), dtype=bool)
    seen[:, 0] = True
    current = np.zeros(trips, dtype=np.intp)
    path = np.empty((trips, size - 1), dtype=np.intp)
    for step in range(size - 1):
        current = np.where(seen, np.inf, grids[rows, current]).argmin(axis=1)
        seen[rows, current] = True
        path[:, step] = current
    return path


def two_opts(grids: np.ndarray, paths: np.ndarray) -> np.ndarray:
    """Reverse stretches while one shortens each trip's open path from node 0, which stays first. The
    open end is closed by a dummy node at distance 0 from everything, so every reversal is the same
    two-leg exchange (a–b … c–d becomes a–c … b–d)."""
    trips, size, _ = grids.shape
    g = np.zeros((trips, size + 1, size + 1))
    g[:, :size, :size] = grids
    rows = np.arange(trips)
    tour = np.concatenate([np.zeros((trips, 1), np.intp), paths, np.full((trips, 1), size, np.intp)], axis=1)
    last = tour.shape[1] - 1
    for _ in range(MAX_PASSES):
        improved = False
        for i in range(1, last - 1):
            for k in range(i + 1, last):
                a, b, c, d = tour[:, i - 1], tour[:, i], tour[:, k], tour[:, k + 1]
                better = g[rows, a, c] + g[rows, b, d] < g[rows, a, b] + g[rows, c, d] - _GAIN
                if better.any():
                    tour[better, i:k + 1] = tour[better, i:k + 1][:, ::-1]
                    improved = True
        if not improved:
            break
    return tour[:, 1:last]


def path_lengths(grids: np.ndarray, paths: np.ndarray) -> np.ndarray:
    """Per trip, the legs of its open path of node indexes (from node 0) and their sum."""
    rows = np.arange(grids.shape[0])[:, None]
    full = np.concatenate([np.zeros((len(paths), 1), np.intp), paths], axis=1)
    return grids[rows, full[:, :-1], full[:, 1:]]


def plan_routes(trips: Sequence[Trip]) -> list[Route]:
    """The route of each trip from its start through every point: nearest neighbour improved by 2-opt."""
    found: list[Route | None] = [None] * len(trips)
    by_size: dict[int, list[int]] = defaultdict(list)
    for index, (_start, points) in enumerate(trips):
        by_size[len(points)].append(index)
    for size, indexes in by_size.items():
        if size == 0:
            for index in indexes:
                found[index] = Route((), (), 0.0, 0.0)
            continue
        starts = np.array([trips[i][0] or (np.nan, np.nan) for i in indexes], dtype=float)
        points = np.array([trips[i][1] for i in indexes], dtype=float).reshape(len(indexes), size, 2)
        grids = matrices(starts, points)
        greedy = nearest_neighbours(grids)
        best = two_opts(grids, greedy)
        greedy_m = path_lengths(grids, greedy).sum(axis=1).tolist()
        legs = path_lengths(grids, best)
        for index, order, trip_legs, total, before in zip(
                indexes, (best - 1).tolist(), legs.tolist(), legs.sum(axis=1).tolist(), greedy_m, strict=True):
            found[index] = Route(tuple(order), tuple(trip_legs), total, before)
    return found  # type: ignore[return-value]


def plan_route(start: Point | None, points: Sequence[Point]) -> Route:
    """One route (as `plan_routes`)."""
    return plan_routes([(start, points)])[0]


def matrix(start: Point | None, points: Sequence[Point]) -> np.ndarray:
    """One trip's distances, the start as node 0 (as `matrices`)."""
    return matrices(np.array([start or (np.nan, np.nan)], dtype=float),
                    np.array([points], dtype=float).reshape(1, len(points), 2))[0]


def nearest_neighbour(grid: np.ndarray) -> list[int]:
    return nearest_neighbours(grid[None])[0].tolist()


def two_opt(grid: np.ndarray, path: Sequence[int]) -> list[int]:
    return two_opts(grid[None], np.array([path], dtype=np.intp))[0].tolist()


def path_length(grid: np.ndarray, path: Sequence[int]) -> float:
    """Length of one open path of node indexes."""
    return float(sum(grid[a, b] for a, b in zip(path, path[1:], strict=False)))
