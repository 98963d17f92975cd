"""One send budget per bot account, shared by every process through the database.

A platform limits what an account sends, not what one process sends: Telegram about 30 messages a
second overall, 20 a minute to one group, about one a second to one private chat; Slack about one
a second to one channel. Each such limit is a `Limit`, a sliding window kept in a `send_budget` row
(the stamps of the sends it counted, on the database's clock), so three processes behind a load
balancer share it as one. Every send to the platform — a direct answer or an outbox post — takes a
slot of each of its limits first (`Budget.slot`), all of them in one transaction or none.

- **A person waiting goes first.** An answer (`urgent`) may use a whole window; posts leave
  `reserve` slots to answers while an answer was waiting or sent in the last URGENT_HOLD_S seconds
  (the answer marks the window): posts then take at most `count - reserve` of the window, and the
  answers already sent count against the reserve, not against the posts. So answers do not queue
  behind a fan-out, and a fan-out runs at the full rate when nobody is asking anything and loses
  only the reserve's unused slots while people are.
- **A 429 blocks what it names.** `block(key, seconds)` stops that window (one chat, or the whole
  account) until the platform's retry-after has passed; other chats go on.
- **No chat waits for another.** A send that cannot go because of its own chat's window sleeps on
  its own. Posts waiting for the account-wide window queue in this process, in order, so one
  attempt at a time asks the database instead of a herd; an answer does not queue behind them.
- A slot counts from the platform's answer (`settle`): the platform counts a send when it arrives,
  which is never later than its answer, so a slow request cannot squeeze two sends together there.
"""
import asyncio
import contextlib
import contextvars
import functools
import logging
import math
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy import Connection, Float, String, bindparam, func, select, text, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import SQLAlchemyError

from db.models import SendBudget
from db.session import Database
from db.watchdog import deadline

log = logging.getLogger(__name__)

# How long an answer's mark holds a window's reserve for the answers that follow it.
URGENT_HOLD_S = 1.0
# A send waiting for the shared window looks again at least this often (another process may have
# been answered since); one waiting for its own chat sleeps until then, up to OWN_NAP_LIMIT_S.
MAX_NAP_S = 1.0
OWN_NAP_LIMIT_S = 30.0
# A rate limit met by a patient send (a person's answer, a later part of a post) is waited out up
# to this long, rather than giving up or sending the parts already delivered again.
INLINE_WAIT_LIMIT_S = 60.0
# A budget attempt takes milliseconds; one that takes longer finds the database hung.
STORE_DEADLINE_S = 0.5
ANSWER_THREADS = 8  # an answer's budget calls run here, apart from the posts' (see Budget._call); a hung
# database holds each for up to a connect timeout, and the answers saying "try again" must not queue
DATABASE_RETRY_S = 10.0


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
class Verdict:
    """A slot taken at `stamp`, or how long to wait: for the shared window, for the send's own."""

    stamp: float | None
    wait_shared: float = 0.0
    wait_own: float = 0.0


class Window(Protocol):
    """One window's state: a send_budget row, or its stand-in in memory (`MemoryStore`)."""

    key: str
    stamps: list
    answer_stamps: list
    blocked_until: float
    urgent_until: float


@dataclass
class MemoryWindow:
    key: str
    stamps: list = field(default_factory=list)
    answer_stamps: list = field(default_factory=list)  # those of `stamps` that were answers
    blocked_until: float = 0.0
    urgent_until: float = 0.0


def _after(stamps: list[float], most: int, period: float, now: float) -> float:
    """Seconds until fewer than `most` of these sorted stamps are in the window (0: now)."""
    if most <= 0:
        return math.inf
    return max(0.0, stamps[len(stamps) - most] + period - now) if len(stamps) >= most else 0.0


def _posts(stamps: list[float], answers: list[float]) -> list[float]:
    """The sorted stamps less the answers' (one each)."""
    left = Counter(answers)
    posts = []
    for stamp in stamps:
        if left[stamp]:
            left[stamp] -= 1
        else:
            posts.append(stamp)
    return posts


def _wait(limit: Limit, row: Window, stamps: list[float], answers: list[float], urgent: bool, now: float) -> float:
    """Seconds until this window has a slot for this send (0: now)."""
    wait = max(0.0, row.blocked_until - now, _after(stamps, limit.count, limit.period, now))
    if not urgent and limit.reserve and row.urgent_until > now:  # posts leave the reserve to answers
        posts_wait = _after(_posts(stamps, answers), limit.count - limit.reserve, limit.period, now)
        wait = max(wait, min(posts_wait, row.urgent_until - now))
    return wait


def _within(stamps: list[float], period: float, now: float) -> list[float]:
    return sorted(s for s in stamps if now - s < period)


def decide(rows: Mapping[str, Window], limits: Sequence[Limit], urgent: bool, now: float) -> Verdict:
    """Take one slot of every window, or none: the rows are changed in place when they are taken."""
    kept = {limit.key: _within(rows[limit.key].stamps, limit.period, now) for limit in limits}
    answers = {limit.key: _within(rows[limit.key].answer_stamps, limit.period, now) for limit in limits}
    waits = {limit.key: _wait(limit, rows[limit.key], kept[limit.key], answers[limit.key], urgent, now)
             for limit in limits}
    if urgent:
        for limit in limits:  # posts leave room from now on, whether this answer goes now or not
            rows[limit.key].urgent_until = max(rows[limit.key].urgent_until, now + URGENT_HOLD_S)
    if any(waits.values()):
        return Verdict(None, max((waits[lim.key] for lim in limits if lim.shared), default=0.0),
                       max((waits[lim.key] for lim in limits if not lim.shared), default=0.0))
    for limit in limits:
        rows[limit.key].stamps = [*kept[limit.key], now]
        rows[limit.key].answer_stamps = [*answers[limit.key], now] if urgent else answers[limit.key]
    return Verdict(now)


def restamp(rows: Iterable[Window], stamp: float, now: float) -> None:
    """The send stamped `stamp` has been answered: in each window still holding it, it counts from now."""
    for row in rows:
        if stamp in row.stamps:
            row.stamps = [now if s == stamp else s for s in row.stamps]
            row.answer_stamps = [now if s == stamp else s for s in row.answer_stamps]


def block(row: Window, seconds: float, now: float) -> None:
    row.blocked_until = max(row.blocked_until, now + seconds)


class BudgetStore:
    """The windows in the database: each attempt locks its rows (in key order, so two attempts
    never deadlock), decides, and commits. On SQLite every writer is serialised already.

    Every send of a fan-out passes the account's one row twice (its attempt and its settle), and a
    person's answer waits for whatever holds it: the row is read and written with plain statements,
    not the ORM, and on PostgreSQL a settle is one UPDATE, so the lock is held for as little Python
    as can be."""

    def __init__(self, db: Database):
        self.db = db
        self._known: set[str] = set()

    def _rows(self, connection: Connection, keys: list[str]) -> tuple[dict[str, MemoryWindow], float, list[str]]:
        """The windows, locked, the time now (the database's clock on PostgreSQL, the same for every
        process on every machine) and the windows this transaction created."""
        created = self._create(connection, keys)
        rows, now = self._read(connection, keys, lock=True)
        return rows, now, created

    def _read(self, connection: Connection, keys: list[str], lock: bool) -> tuple[dict[str, MemoryWindow], float]:
        postgres = connection.dialect.name == "postgresql"
        # On PostgreSQL the same round trip reads the clock and, for a locked read that will write,
        # turns the WAL flush off for this transaction: a window's stamps are worth less than a flush
        # (were the database to crash, the last few milliseconds of them are forgotten, and a send or
        # two may come early).
        extra = [func.extract("epoch", func.clock_timestamp()), *([_NO_FLUSH] if lock else [])] if postgres else []
        query = select(_BUDGET.c.key, _BUDGET.c.stamps, _BUDGET.c.answer_stamps, _BUDGET.c.blocked_until,
                       _BUDGET.c.urgent_until, *extra).where(_BUDGET.c.key.in_(keys)).order_by(_BUDGET.c.key)
        found = connection.execute(query.with_for_update() if lock else query).all()
        rows = {row[0]: MemoryWindow(row[0], list(row[1]), list(row[2]), row[3], row[4]) for row in found}
        if not postgres:
            return rows, time.time()
        return rows, float(found[0][5]) if found else math.nan  # no row: no clock read (only a glance)

    def _refused_at_a_glance(self, limits: Sequence[Limit], keys: list[str]) -> Verdict | None:
        """A post's wait, read without locking or writing the windows; None when it may have a slot
        (then the locked attempt decides). In a fan-out from three processes a post was refused
        about 1.4 times before its slot came, each refusal holding the account's row (which the
        answers wait for) and writing it. A refusal read this way is exact: what another
        transaction commits meanwhile only adds stamps, moves them later or extends a hold, and a
        window not made yet is an empty one."""
        if self.db.engine.dialect.name != "postgresql":
            return None
        with self.db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            rows, now = self._read(connection, keys, lock=False)
        if not rows:
            return None  # no window made yet: the locked attempt makes them
        verdict = decide({key: rows.get(key) or MemoryWindow(key) for key in keys}, limits, False, now)
        return verdict if verdict.stamp is None else None

    def _create(self, connection: Connection, keys: list[str]) -> list[str]:
        """Windows this process has not seen yet are created if need be (known once committed: a
        window created by a transaction still open is not there for the others yet)."""
        missing = [key for key in keys if key not in self._known]
        if missing:
            connection.execute(_insert_for(connection)(_BUDGET).values(
                [{"key": key, "stamps": [], "answer_stamps": [], "blocked_until": 0.0, "urgent_until": 0.0}
                 for key in missing],
            ).on_conflict_do_nothing())
        return missing

    def _change(self, keys: list[str], change: Callable[[dict[str, MemoryWindow], float], object]) -> Any:
        """Lock the windows, change them in memory, write back the ones changed, commit."""
        with self.db.engine.begin() as connection:
            rows, now, created = self._rows(connection, keys)
            before = {key: _state(row) for key, row in rows.items()}
            result = change(rows, now)
            changed = [{"k": key, "s": row.stamps, "a": row.answer_stamps, "b": row.blocked_until, "u": row.urgent_until}
                       for key, row in rows.items() if before[key] != _state(row)]
            if changed:
                connection.execute(_WRITE, changed)
        self._known.update(created)
        return result

    def attempt(self, limits: Sequence[Limit], urgent: bool) -> Verdict:
        keys = sorted({limit.key for limit in limits})
        refused = None if urgent else self._refused_at_a_glance(limits, keys)
        return refused or self._change(keys, lambda rows, now: decide(rows, limits, urgent, now))

    def settle(self, limits: Sequence[Limit], stamp: float) -> None:
        """The send stamped `stamp` has been answered: it counts from now."""
        keys = sorted({limit.key for limit in limits})
        if self.db.engine.dialect.name != "postgresql":
            self._change(keys, lambda rows, now: restamp(rows.values(), stamp, now))
            return
        with self.db.engine.begin() as connection:
            connection.execute(select(_NO_FLUSH))
            connection.execute(_RESTAMP, {"keys": keys, "stamp": stamp})

    def block(self, key: str, seconds: float) -> None:
        self._change([key], lambda rows, now: block(rows[key], seconds, now))


def _state(row: MemoryWindow) -> tuple:
    return list(row.stamps), list(row.answer_stamps), row.blocked_until, row.urgent_until


_BUDGET = SendBudget.__table__
_NO_FLUSH = func.set_config("synchronous_commit", "off", True)
_WRITE = (update(_BUDGET).where(_BUDGET.c.key == bindparam("k"))
          .values(stamps=bindparam("s"), answer_stamps=bindparam("a"), blocked_until=bindparam("b"),
                  urgent_until=bindparam("u")))
# `restamp` in one statement: the lock is held for its execution only. Stamps travel as JSON
# numbers written in their shortest exact form, so the one sent comes back equal; a row's two lists
# take the same new stamp (the clock is read once per row, in the joined `answered`).
_RESTAMP_LIST = ("(SELECT coalesce(json_agg(CASE WHEN s = :stamp THEN answered.now ELSE s END), '[]')"
                 " FROM (SELECT value::float8 AS s FROM json_array_elements_text({column})) AS kept)")
_RESTAMP = text(
    f"UPDATE send_budget SET stamps = {_RESTAMP_LIST.format(column='stamps')},"
    f" answer_stamps = {_RESTAMP_LIST.format(column='answer_stamps')}"
    " FROM (SELECT extract(epoch FROM clock_timestamp())::float8 AS now) AS answered"
    " WHERE key = ANY(:keys)"
).bindparams(bindparam("keys", type_=ARRAY(String)), bindparam("stamp", type_=Float))


class MemoryStore:
    """The windows of this process alone: what a send falls back on while the database does not
    answer (an answer saying "try again" must still go out), within the same limits."""

    def __init__(self, clock: Callable[[], float] = time.time):
        self.clock = clock
        self._windows: dict[str, MemoryWindow] = {}

    def _rows(self, keys: Iterable[str]) -> dict[str, MemoryWindow]:
        return {key: self._windows.setdefault(key, MemoryWindow(key)) for key in keys}

    def attempt(self, limits: Sequence[Limit], urgent: bool) -> Verdict:
        return decide(self._rows(limit.key for limit in limits), limits, urgent, self.clock())

    def settle(self, limits: Sequence[Limit], stamp: float) -> None:
        restamp(self._rows(limit.key for limit in limits).values(), stamp, self.clock())

    def block(self, key: str, seconds: float) -> None:
        block(self._rows([key])[key], seconds, self.clock())


def _insert_for(connection: Connection) -> Callable:
    if connection.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert


class Budget:
    """Slots of the shared windows for the sends of this process (see the module docstring)."""

    def __init__(self, store: BudgetStore, sleep: Callable[[float], Awaitable[None]] = asyncio.sleep):
        self.store = store
        self.sleep = sleep
        self.fallback = MemoryStore()
        self._database_down_until = 0.0
        self._turns: dict[str, asyncio.Lock] = {}  # posts' turns at a shared window, in order
        self._answer_threads = ThreadPoolExecutor(ANSWER_THREADS, thread_name_prefix="budget-answers")

    async def _call(self, method: str, *args: object, urgent: bool = False) -> Any:
        """The shared store, or this process's own windows while the database does not answer: a
        send must not wait on a hung database longer than STORE_DEADLINE_S, nor again for
        DATABASE_RETRY_S after it failed. An answer's calls have threads of their own: they never
        queue behind the posts' calls of a fan-out in the default pool."""
        if time.monotonic() >= self._database_down_until:
            try:
                call = functools.partial(contextvars.copy_context().run, self._in_store, method, *args)
                work = asyncio.get_running_loop().run_in_executor(self._answer_threads if urgent else None, call)
                async with asyncio.timeout(STORE_DEADLINE_S + 0.1 if urgent else None):  # a connect takes 2 s
                    return await work
            except (SQLAlchemyError, TimeoutError) as exc:
                self._database_down_until = time.monotonic() + DATABASE_RETRY_S
                log.warning("send budget: database unavailable (%s); this process counts alone for %ss",
                            type(exc).__name__, DATABASE_RETRY_S)
        return getattr(self.fallback, method)(*args)

    def _in_store(self, method: str, *args: object) -> Any:
        with deadline(STORE_DEADLINE_S):
            return getattr(self.store, method)(*args)

    @asynccontextmanager
    async def slot(self, limits: Sequence[Limit], urgent: bool) -> AsyncIterator[None]:
        """Hold one slot of every window for one send to the platform."""
        if not limits:
            yield
            return
        stamp = await self._acquire(limits, urgent)
        try:
            yield
        finally:
            await asyncio.shield(self._call("settle", limits, stamp, urgent=urgent))

    async def block(self, key: str, seconds: float) -> None:
        await self._call("block", key, seconds)

    async def send(self, limits: Sequence[Limit], call: Callable[[], Awaitable[object]], urgent: bool,
                   patient: bool, retry_after: Callable[[Exception], float | None]) -> None:
        """One call to the platform within a slot. When the platform answers 429 (`retry_after`
        tells its seconds from the exception), the last window (the chat's) is blocked for every
        process; a patient caller waits that out, up to INLINE_WAIT_LIMIT_S, and tries again
        (three tries in all); otherwise the 429 is raised."""
        for attempt in range(3):
            async with self.slot(limits, urgent):
                try:
                    await call()
                    return
                except Exception as exc:
                    seconds = retry_after(exc)
                    if seconds is None:
                        raise
                    await self.block(limits[-1].key, seconds)
                    if not patient or seconds > INLINE_WAIT_LIMIT_S or attempt == 2:
                        raise
                    log.info("%s: rate limited, waiting %ss", limits[-1].key, seconds)

    async def _acquire(self, limits: Sequence[Limit], urgent: bool) -> float:
        """A person's answer asks the database at once: the row's lock orders it among the other
        sends, and posts leave the reserve once it has marked the window. Posts waiting for the
        shared window take turns in this process, in order, so one at a time asks the database."""
        shared = next((limit.key for limit in limits if limit.shared), None)
        turn = self._turns.setdefault(shared, asyncio.Lock()) if shared and not urgent else contextlib.nullcontext()
        while True:
            async with turn:
                verdict = await self._attempt_for_shared(limits, urgent)
            if verdict.stamp is not None:
                return verdict.stamp
            await self.sleep(min(verdict.wait_own, OWN_NAP_LIMIT_S) if verdict.wait_own > 0
                             else min(verdict.wait_shared, MAX_NAP_S))

    async def _attempt_for_shared(self, limits: Sequence[Limit], urgent: bool) -> Verdict:
        """Attempt until a slot is taken or the send must wait for its own window (others may go
        meanwhile); a post keeps its turn while it waits for the shared one."""
        while True:
            verdict = await self._call("attempt", limits, urgent, urgent=urgent)
            if verdict.stamp is not None or verdict.wait_own > 0 or urgent:
                return verdict
            await self.sleep(min(verdict.wait_shared, MAX_NAP_S))
