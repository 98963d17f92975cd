"""The send budget's windows (bot.budget): the rules that give a send a slot, and where the windows
are kept: `send_budget` rows shared by every process (`BudgetStore`), or this process's memory
while the database does not answer (`MemoryStore`). Both decide a batch of sends in one go, in
order, on the same rows.
"""
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from db.models import SendBudget
from db.session import Database

# How long an answer's mark holds a window's reserve for the answers that follow it.
URGENT_HOLD_S = 1.0
# Sends granted in one attempt are stamped this far apart, so each settles only its own stamp.
STAMP_STEP_S = 1e-6


@dataclass(frozen=True)
class Limit:
    """At most `count` sends in any `period` seconds under `key`; posts leave `reserve` for answers.
    `shared`: the account-wide window every send of the account passes."""

    key: str
    count: int
    period: float
    reserve: int = 0
    shared: bool = False


@dataclass(frozen=True)
class Ask:
    """One send asking for a slot: its windows, and whether a person is waiting for it (`urgent`)."""

    limits: Sequence[Limit]
    urgent: bool


# Sends answered, each with its windows and the stamp its slot was taken with.
Settled = Sequence[tuple[Sequence[Limit], float]]


@dataclass(frozen=True)
class Verdict:
    """A slot taken at `stamp`, or how long to wait: for the shared window, for the send's own."""

    stamp: float | None
    wait_shared: float = 0.0
    wait_own: float = 0.0


class Window(Protocol):
    """One window's state: a send_budget row, or its stand-in in memory (`MemoryStore`)."""

    key: str
    stamps: list
    blocked_until: float
    urgent_until: float


@dataclass
class MemoryWindow:
    key: str
    stamps: list = field(default_factory=list)
    blocked_until: float = 0.0
    urgent_until: float = 0.0


def _room(limit: Limit, row: Window, urgent: bool, now: float) -> int:
    held_for_answers = not urgent and row.urgent_until > now
    return limit.count - (limit.reserve if held_for_answers else 0)


def _wait(limit: Limit, row: Window, stamps: list[float], urgent: bool, now: float) -> float:
    """Seconds until this window has a slot for this send (0: now)."""
    wait = max(0.0, row.blocked_until - now)
    room = _room(limit, row, urgent, now)
    if room <= 0:
        return max(wait, row.urgent_until - now)
    if len(stamps) >= room:
        wait = max(wait, stamps[len(stamps) - room] + limit.period - now)
    return wait


def decide(rows: Mapping[str, Window], limits: Sequence[Limit], urgent: bool, now: float) -> Verdict:
    """Take one slot of every window, or none: the rows are changed in place when they are taken."""
    kept = {limit.key: sorted(s for s in rows[limit.key].stamps if now - s < limit.period) for limit in limits}
    waits = {limit.key: _wait(limit, rows[limit.key], kept[limit.key], urgent, now) for limit in limits}
    if urgent:
        for limit in limits:  # posts leave room from now on, whether this answer goes now or not
            rows[limit.key].urgent_until = max(rows[limit.key].urgent_until, now + URGENT_HOLD_S)
    if any(waits.values()):
        return Verdict(None, max((waits[lim.key] for lim in limits if lim.shared), default=0.0),
                       max((waits[lim.key] for lim in limits if not lim.shared), default=0.0))
    for limit in limits:
        rows[limit.key].stamps = [*kept[limit.key], now]
    return Verdict(now)


def decide_all(rows: Mapping[str, Window], asks: Sequence["Ask"], now: float) -> list[Verdict]:
    """Decide the asks in order on the same rows; each slot taken gets a stamp of its own."""
    return [decide(rows, ask.limits, ask.urgent, now + i * STAMP_STEP_S) for i, ask in enumerate(asks)]


def restamp(rows: Iterable[Window], stamp: float, now: float) -> None:
    """The send stamped `stamp` has been answered: in each window still holding it, it counts from now."""
    for row in rows:
        if stamp in row.stamps:
            row.stamps = [now if s == stamp else s for s in row.stamps]


def block(row: Window, seconds: float, now: float) -> None:
    row.blocked_until = max(row.blocked_until, now + seconds)


class BudgetStore:
    """The windows in the database: each attempt locks its rows (in key order, so two attempts
    never deadlock), decides, and commits. On SQLite every writer is serialised already."""

    def __init__(self, db: Database):
        self.db = db
        self._known: set[str] = set()

    def _rows(self, session: Session, keys: list[str]) -> tuple[dict[str, SendBudget], float]:
        """The windows, locked, and the time now: the database's clock on PostgreSQL, the same for
        every process on every machine."""
        missing = [key for key in keys if key not in self._known]
        if missing:
            insert = _insert_for(session)
            session.execute(insert(SendBudget).values(
                [{"key": key, "stamps": [], "blocked_until": 0.0, "urgent_until": 0.0} for key in missing],
            ).on_conflict_do_nothing())
            self._known.update(missing)
        postgres = session.get_bind().dialect.name == "postgresql"
        # On PostgreSQL the same round trip reads the clock and turns the WAL flush off for this
        # transaction: a window's stamps are worth less than a flush (were the database to crash,
        # the last few milliseconds of them are forgotten, and a send or two may come early).
        extra = [func.extract("epoch", func.clock_timestamp()),
                 func.set_config("synchronous_commit", "off", True)] if postgres else []
        query = select(SendBudget, *extra).where(SendBudget.key.in_(keys))
        found = session.execute(query.order_by(SendBudget.key).with_for_update()).all()
        rows = {found_row[0].key: found_row[0] for found_row in found}
        return rows, float(found[0][1]) if postgres else time.time()

    def attempt(self, asks: Sequence[Ask]) -> list[Verdict]:
        with self.db.uow() as uow:
            rows, now = self._rows(uow.session, _keys(ask.limits for ask in asks))
            verdicts = decide_all(rows, asks, now)
            uow.commit()
            return verdicts

    def settle(self, sends: Settled) -> None:
        """The sends have been answered: each counts from now."""
        with self.db.uow() as uow:
            rows, now = self._rows(uow.session, _keys(limits for limits, _ in sends))
            for limits, stamp in sends:
                restamp([rows[limit.key] for limit in limits], stamp, now)
            uow.commit()

    def block(self, key: str, seconds: float) -> None:
        with self.db.uow() as uow:
            rows, now = self._rows(uow.session, [key])
            block(rows[key], seconds, now)
            uow.commit()


class MemoryStore:
    """The windows of this process alone: what a send falls back on while the database does not
    answer (an answer saying "try again" must still go out), within the same limits."""

    def __init__(self, clock: Callable[[], float] = time.time):
        self.clock = clock
        self._windows: dict[str, MemoryWindow] = {}

    def _rows(self, keys: Iterable[str]) -> dict[str, MemoryWindow]:
        return {key: self._windows.setdefault(key, MemoryWindow(key)) for key in keys}

    def attempt(self, asks: Sequence[Ask]) -> list[Verdict]:
        return decide_all(self._rows(_keys(ask.limits for ask in asks)), asks, self.clock())

    def settle(self, sends: Settled) -> None:
        for limits, stamp in sends:
            restamp(self._rows(limit.key for limit in limits).values(), stamp, self.clock())

    def block(self, key: str, seconds: float) -> None:
        block(self._rows([key])[key], seconds, self.clock())


def _keys(each: Iterable[Sequence[Limit]]) -> list[str]:
    return sorted({limit.key for limits in each for limit in limits})


def _insert_for(session: Session) -> Callable:
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert
