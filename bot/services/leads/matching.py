"""Matched auto-distribution (客户画像 × 销售能力模型): a new lead goes preferably to the reps who
convert leads like it, without giving up the capacity caps or the newcomers' share.

A rep's record on an attribute value (industry 制造, region 华东, source 展会) is the leads of the
pool he received (claimed or was assigned) in the last six months that carry that value, and how
many of them he converted himself. Small records are smoothed toward the pool's overall rate m with
a prior worth K leads (a Beta prior): rate = (won + K·m) / (leads + K). So 1 of 1 does not beat 40
of 60, and a rep with no record at all gets m. m itself is the pool's conversion rate over the
same window with one won and one lost lead added, so an empty pool starts at one half.
A rep's weight for a lead is the mean of his smoothed rates on the lead's industry, region and
source (those the lead has; none: m for everyone).

Each lead then goes to a rep with room left, drawn at random with odds room × weight: capacity
still caps (nobody past it), equal reps still split at random, and a newcomer, with the prior and
usually the most room, keeps getting leads while the skilled reps get more of their kind.
"""
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import (
    Integer,
    Row,
    String,
    bindparam,
    case,
    cast,
    func,
    literal,
    null,
    select,
    union_all,
)

from db.models import Lead, LeadEvent, LeadStatus
from db.session import UnitOfWork

WINDOW = timedelta(days=183)  # six months
PRIOR_STRENGTH = 10  # K: the prior counts as this many leads at the pool's rate
ATTRIBUTES = ("industry", "region", "source")
RECEIVED_KINDS = ("claim", "assign")
MATCHED = "matched"


@dataclass(frozen=True)
class Record:
    leads: int
    won: int


@dataclass(frozen=True)
class Weight:
    value: float
    prior: bool  # no record on any of the lead's attributes: the pool's rate


@dataclass(frozen=True)
class History:
    pool: Record  # the pool's leads received and converted in the window
    reps: dict[tuple[int, str, str], Record]  # (rep, attribute, value) -> his record

    @property
    def prior(self) -> float:
        return (self.pool.won + 1) / (self.pool.leads + 2)

    def weight(self, rep: int, lead: Row) -> Weight:
        """The mean of his smoothed rates on the lead's attribute values."""
        values = [(name, getattr(lead, name)) for name in ATTRIBUTES if getattr(lead, name)]
        if not values:
            return Weight(self.prior, True)
        records = [self.reps.get((rep, name, value)) for name, value in values]
        rates = [_smoothed(record, self.prior) for record in records]
        return Weight(sum(rates) / len(rates), all(record is None for record in records))


def _smoothed(record: Record | None, prior: float) -> float:
    if record is None:
        return prior
    return (record.won + PRIOR_STRENGTH * prior) / (record.leads + PRIOR_STRENGTH)


def history(uow: UnitOfWork, pool_id: int, reps: Sequence[int], leads: Sequence[Row], now: datetime) -> History:
    """The pool's record and each rep's on the batch's attribute values: one statement, read through
    ix_lead_events_at (BRIN on PostgreSQL) over the window, once per distribution batch."""
    won = case((Lead.status == LeadStatus.CONVERTED, case((Lead.owner_id == LeadEvent.to_owner_id, 1), else_=0)),
               else_=0)
    received = (
        select(LeadEvent.to_owner_id.label("rep"), Lead.id.label("lead_id"), Lead.industry, Lead.region,
               Lead.source, won.label("won"))
        .join(Lead, Lead.id == LeadEvent.lead_id)
        .where(LeadEvent.pool_id == pool_id, LeadEvent.kind.in_(RECEIVED_KINDS), LeadEvent.at >= now - WINDOW,
               LeadEvent.to_owner_id.is_not(None))
        .distinct().cte("received")
    )
    overall = select(cast(null(), Integer), literal(""), literal(""), func.count(received.c.lead_id.distinct()),
                     func.count(case((received.c.won == 1, received.c.lead_id)).distinct()))
    parts = [overall]
    for name in ATTRIBUTES:
        wanted = sorted({getattr(lead, name) for lead in leads if getattr(lead, name)})
        column = received.c[name]
        parts.append(
            select(received.c.rep, literal(name), cast(column, String), func.count(), func.sum(received.c.won))
            .where(received.c.rep.in_(bindparam(f"reps_{name}", list(reps), expanding=True)),
                   column.in_(bindparam(f"values_{name}", wanted or [""], expanding=True)))
            .group_by(received.c.rep, column)
        )
    pool = Record(0, 0)
    records: dict[tuple[int, str, str], Record] = {}
    for rep, name, value, count, total_won in uow.session.execute(union_all(*parts)):
        if rep is None:
            pool = Record(int(count), int(total_won or 0))
        else:
            records[(rep, name, value)] = Record(int(count), int(total_won or 0))
    return History(pool, records)


def plan(history: History, rooms: dict[int, int], leads: Sequence[Row], rng: random.Random
         ) -> tuple[dict[int, list[int]], dict[int, dict]]:
    """Who gets which lead, drawn with odds room × weight; nobody beyond his room. Also, per lead,
    what was weighed: the mode and each candidate's weight, best first (the lead's history shows it)."""
    rooms = {rep: room for rep, room in rooms.items() if room > 0}
    result: dict[int, list[int]] = {}
    notes: dict[int, dict] = {}
    for lead in leads:
        if not rooms:
            break
        candidates = sorted(rooms)
        weights = {rep: history.weight(rep, lead) for rep in candidates}
        rep = rng.choices(candidates, [rooms[r] * weights[r].value for r in candidates])[0]
        result.setdefault(rep, []).append(lead.id)
        rooms[rep] -= 1
        if not rooms[rep]:
            del rooms[rep]
        ranked = sorted(candidates, key=lambda r: (-weights[r].value, r))
        notes[lead.id] = {"mode": MATCHED, "to": rep,
                          "weights": [[r, round(weights[r].value, 4), weights[r].prior] for r in ranked]}
    return result, notes
