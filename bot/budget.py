"""One send budget per bot account, shared by every process through the database.

A platform limits what an account sends, not what one process sends: Telegram about 30 messages a
second overall, 20 a minute to one group, about one a second to one private chat; Slack about one
a second to one channel. Each such limit is a `Limit`, a sliding window kept in a `send_budget` row
(the stamps of the sends it counted, on the database's clock), so three processes behind a load
balancer share it as one. Every send to the platform — a direct answer or an outbox post — takes a
slot of each of its limits first (`Budget.slot`), all of them in one transaction or none. The
windows and the rules deciding a slot are in bot.budget_store.

- **A person waiting goes first.** An answer (`urgent`) may use a whole window; a post leaves
  `reserve` slots free while an answer was waiting or sent in the last URGENT_HOLD_S seconds (the
  answer marks the window), so answers do not queue behind a fan-out and a fan-out runs at the full
  rate when nobody is asking anything.
- **A 429 blocks what it names.** `block(key, seconds)` stops that window (one chat, or the whole
  account) until the platform's retry-after has passed; other chats go on.
- **No chat waits for another.** A send that cannot go because of its own chat's window sleeps on
  its own. Sends waiting for the account-wide window queue in this process (answers first, then in
  order), so one attempt at a time asks the database instead of a herd. The one whose turn it is
  asks for up to BATCH of those in line in the same transaction (an answer only for other
  answers), so a window that comes free is filled in one attempt rather than one per send.
- A slot counts from the platform's answer (`settle`): the platform counts a send when it arrives,
  which is never later than its answer, so a slow request cannot squeeze two sends together there.
  Sends answered while a settle is on its way are settled together in the next transaction.
"""
import asyncio
import heapq
import itertools
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from bot.budget_store import Ask, BudgetStore, Limit, MemoryStore, Verdict
from db.watchdog import deadline

log = logging.getLogger(__name__)

# Sends asked for in one attempt by the one whose turn it is (see the module docstring).
BATCH = 5
# A send waiting for the shared window looks again at least this often (another process may have
# been answered since); one waiting for its own chat sleeps until then, up to OWN_NAP_LIMIT_S.
MAX_NAP_S = 1.0
OWN_NAP_LIMIT_S = 30.0
# A rate limit met by a patient send (a person's answer, a later part of a post) is waited out up
# to this long, rather than giving up or sending the parts already delivered again.
INLINE_WAIT_LIMIT_S = 60.0
# A budget attempt takes milliseconds; one that takes longer finds the database hung.
STORE_DEADLINE_S = 0.5
# The budget's own threads (an attempt, a settle and a block at once): its calls never queue behind
# the dispatcher's database work in the event loop's default executor.
STORE_THREADS = 3
DATABASE_RETRY_S = 10.0


@dataclass(eq=False)
class _InLine:
    """A send waiting for its turn: told None when it is its turn, or the verdict of an attempt
    the one whose turn it was made for it."""

    ask: Ask
    order: int
    told: asyncio.Future


class _Turns:
    """Who in this process asks for the shared window next: answers first, then in order."""

    def __init__(self) -> None:
        self._waiting: list[tuple[int, int, _InLine]] = []
        self._busy = False
        self.answer_waiting = asyncio.Event()

    async def take(self, ask: Ask, order: int) -> Verdict | None:
        """None: it is this send's turn (give() it back); else the verdict of an attempt made for it."""
        if not self._busy and not self._waiting:
            self._busy = True
            return None
        line = _InLine(ask, order, asyncio.get_running_loop().create_future())
        heapq.heappush(self._waiting, (0 if ask.urgent else 1, order, line))
        if ask.urgent:
            self.answer_waiting.set()
        try:
            return await line.told
        except asyncio.CancelledError:
            if line.told.done() and not line.told.cancelled() and line.told.result() is None:
                self.give()  # it was handed over just as we were cancelled: pass it on
            raise

    def waiting(self, count: int, urgent_only: bool) -> list[_InLine]:
        """The first `count` sends in line (answers first, then in order); they stay in line until told."""
        ahead = (line for _, _, line in sorted(self._waiting) if not line.told.done())
        return list(itertools.islice((line for line in ahead if line.ask.urgent or not urgent_only), count))

    def tell(self, line: _InLine, verdict: Verdict) -> None:
        """An attempt was made for this send: it leaves the line with its verdict."""
        if not line.told.done():
            line.told.set_result(verdict)
        self._mark_answers()

    def give(self) -> None:
        while self._waiting:
            _, _, line = heapq.heappop(self._waiting)
            if not line.told.done():
                line.told.set_result(None)
                self._mark_answers()
                return
        self._busy = False
        self.answer_waiting.clear()

    def _mark_answers(self) -> None:
        if not any(line.ask.urgent and not line.told.done() for _, _, line in self._waiting):
            self.answer_waiting.clear()


class Budget:
    """Slots of the shared windows for the sends of this process (see the module docstring)."""

    def __init__(self, store: BudgetStore, sleep: Callable[[float], Awaitable[None]] = asyncio.sleep):
        self.store = store
        self.sleep = sleep
        self.fallback = MemoryStore()
        self._database_down_until = 0.0
        self._turns: dict[str, _Turns] = {}
        self._order = itertools.count()
        self._settling: list[tuple[Sequence[Limit], float]] = []  # answered, for the next settle
        self._settled: asyncio.Future | None = None  # done when those are settled
        self._settler: asyncio.Task | None = None
        self._threads = ThreadPoolExecutor(STORE_THREADS, thread_name_prefix="budget")

    async def _call(self, method: str, *args: object) -> Any:
        """The shared store, or this process's own windows while the database does not answer: a
        send must not wait on a hung database longer than STORE_DEADLINE_S, nor again for
        DATABASE_RETRY_S after it failed."""
        if time.monotonic() >= self._database_down_until:
            try:
                loop = asyncio.get_running_loop()
                return await loop.run_in_executor(self._threads, self._in_store, method, *args)
            except SQLAlchemyError as exc:
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
        stamp = await self._acquire(Ask(limits, urgent))
        try:
            yield
        finally:
            await asyncio.shield(self._settle(limits, stamp))

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

    async def _settle(self, limits: Sequence[Limit], stamp: float) -> None:
        """Sends answered while a settle is on its way are settled together in the next one."""
        if self._settled is None:
            self._settled = asyncio.get_running_loop().create_future()
        settled = self._settled
        self._settling.append((limits, stamp))
        if self._settler is None or self._settler.done():
            self._settler = asyncio.create_task(self._settle_all())
        await settled

    async def _settle_all(self) -> None:
        while self._settling:
            sends, settled = self._settling, self._settled
            self._settling, self._settled = [], None
            assert settled is not None
            try:
                await self._call("settle", sends)
            except Exception as exc:
                settled.set_exception(exc)
            else:
                settled.set_result(None)

    async def _acquire(self, ask: Ask) -> float:
        shared = next((limit.key for limit in ask.limits if limit.shared), None)
        turns = self._turns.setdefault(shared, _Turns()) if shared else None
        order = next(self._order)
        while True:
            verdict = await turns.take(ask, order) if turns is not None else None
            if verdict is None:  # this send's turn
                try:
                    verdict = await self._attempt_while_turn(ask, turns)
                finally:
                    if turns is not None:
                        turns.give()
            if verdict.stamp is not None:
                return verdict.stamp
            if verdict.wait_own > 0:
                await self.sleep(min(verdict.wait_own, OWN_NAP_LIMIT_S))
            elif turns is None:
                await self.sleep(min(verdict.wait_shared, MAX_NAP_S))

    async def _attempt_while_turn(self, ask: Ask, turns: _Turns | None) -> Verdict:
        """Attempt until a slot is taken, or the send must wait for its own window (others here may
        go meanwhile), or an answer comes to wait for the shared window in front of this post. Each
        attempt asks for the first sends in line too (an answer only for other answers) and tells
        those it decided for."""
        while True:
            verdict = await self._attempt_with_others(ask, turns)
            if verdict.stamp is not None or verdict.wait_own > 0 or turns is None:
                return verdict
            seconds = min(verdict.wait_shared, MAX_NAP_S)
            if ask.urgent:
                await self.sleep(seconds)
                continue
            try:
                await asyncio.wait_for(turns.answer_waiting.wait(), timeout=seconds)
                return verdict  # an answer is waiting: it goes first
            except TimeoutError:
                continue

    async def _attempt_with_others(self, ask: Ask, turns: _Turns | None) -> Verdict:
        others = turns.waiting(BATCH - 1, urgent_only=ask.urgent) if turns is not None else []
        batch = sorted([ask, *(line.ask for line in others)], key=lambda each: not each.urgent)
        verdicts = dict(zip(map(id, batch), await self._call("attempt", batch), strict=True))
        for line in others:
            verdict = verdicts[id(line.ask)]
            if verdict.stamp is not None or verdict.wait_own > 0:
                turns.tell(line, verdict)  # type: ignore[union-attr]
        return verdicts[id(ask)]
