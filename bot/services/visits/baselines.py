"""Per-rep baselines for the manager's digest: a rep whose share of flagged positions, or of
positions too perfect to come from a phone, stands far above his peers' (the other reps the
manager sees) over the last BASELINE_DAYS.

"Far" is a one-sided binomial test: at his peers' rate (smoothed, so a team without a single
flag still has a small rate), would his count or more be rarer than OUTLIER_P? A rep with fewer
than MIN_POSITIONS positions says nothing yet, and a difference under MIN_GAP is not worth a
manager's time however certain it is.
"""
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select

from bot.services.visits.spoof_checks import TOO_PERFECT
from db.models import Visit
from db.session import UnitOfWork

BASELINE_DAYS = 30
MIN_POSITIONS = 5
MIN_PEER_POSITIONS = 20
OUTLIER_P = 0.01
MIN_GAP = 0.10  # ten percentage points above the peers' rate


@dataclass
class Tally:
    positions: int = 0
    flagged: int = 0
    too_perfect: int = 0


@dataclass(frozen=True)
class Outlier:
    user_id: int
    kind: str  # flagged | too_perfect
    count: int
    positions: int
    peers_share: float  # 0..1

    @property
    def share(self) -> float:
        return self.count / self.positions


def tallies(uow: UnitOfWork, user_ids: Iterable[int], end: datetime) -> dict[int, Tally]:
    """Each rep's pinned positions (visits, check-ins and -outs) over the BASELINE_DAYS before `end`."""
    found: dict[int, Tally] = {}
    ids = list(user_ids)
    if not ids:
        return found
    rows = uow.session.execute(select(Visit.user_id, Visit.verdict, Visit.reasons).where(
        Visit.user_id.in_(ids), Visit.latitude.is_not(None),
        Visit.started_at >= end - timedelta(days=BASELINE_DAYS), Visit.started_at < end))
    for user_id, verdict, reasons in rows:
        tally = found.setdefault(user_id, Tally())
        tally.positions += 1
        tally.flagged += verdict == "flagged"
        tally.too_perfect += any(r.get("code") in TOO_PERFECT for r in reasons or [])
    return found


def outliers(counts: Mapping[int, Tally]) -> list[Outlier]:
    """The reps standing far above their peers, on either measure."""
    found = []
    for kind in ("flagged", "too_perfect"):
        total = sum(getattr(t, kind) for t in counts.values())
        positions = sum(t.positions for t in counts.values())
        for user_id, tally in counts.items():
            mine = getattr(tally, kind)
            peer_positions = positions - tally.positions
            if tally.positions < MIN_POSITIONS or peer_positions < MIN_PEER_POSITIONS or mine == 0:
                continue
            peers = (total - mine + 1) / (peer_positions + 2)  # Laplace: never exactly 0
            if mine / tally.positions - peers >= MIN_GAP and upper_tail(mine, tally.positions, peers) < OUTLIER_P:
                found.append(Outlier(user_id, kind, mine, tally.positions, (total - mine) / peer_positions))
    return found


def upper_tail(k: int, n: int, p: float) -> float:
    """P(X >= k) for X ~ Binomial(n, p)."""
    return sum(math.comb(n, i) * p ** i * (1 - p) ** (n - i) for i in range(k, n + 1))
