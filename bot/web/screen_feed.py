"""The office screens' feed: one poller per process, shared by every screen open on it.

Once a second (while any screen is open) one worker thread reads, in one transaction: for each unit
with a screen open here, its team channel's announcements after the last one this process saw (one
indexed query per unit, however many browsers show it), and which of the links being served were
revoked (one query for all). The unit's boards are computed once per change (and once a minute, so
visits and the turn of the day show) and handed to each of its screens. A win committed by any
process sharing the database reaches every process's screens this way; SQLite is one process.

Each screen's stream gets Events on its own queue; a revoked link gets `revoked` and its stream ends.
The poller also notes, at most once per `seen_seconds` per link, when each screen was last open.
"""
import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from bot.services.deals import office_screen
from bot.services.deals.office_screen import Announcement, Boards, Screen
from db.session import Database

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Event:
    kind: str  # win | board | revoked | closed
    announcement: Announcement | None = None
    boards: Boards | None = None


@dataclass(eq=False)
class Subscriber:
    screen: Screen
    queue: asyncio.Queue = field(default_factory=asyncio.Queue)


@dataclass
class _Unit:
    screen: Screen  # the unit's channel and time zone, as its first screen found them
    last_id: int | None = None  # None until a screen has caught up: nothing to poll after yet
    boards_at: float = 0.0
    subscribers: set[Subscriber] = field(default_factory=set)


@dataclass
class _Polled:
    announcements: dict[int, list[Announcement]]
    boards: dict[int, Boards]
    revoked: set[int]


class ScreenFeed:
    def __init__(self, db: Database, clock: Callable[[], datetime], poll_seconds: float = 1.0,
                 board_seconds: float = 60.0, seen_seconds: float = 3600.0):
        self.db = db
        self.clock = clock
        self.poll_seconds = poll_seconds
        self.board_seconds = board_seconds
        self.seen_seconds = seen_seconds
        self._units: dict[int, _Unit] = {}
        self._seen: dict[int, float] = {}  # link id -> when last_seen_at was last written (monotonic)
        self._task: asyncio.Task | None = None
        self._closed = False

    # --- screens come and go -------------------------------------------------------------------

    def subscribe(self, screen: Screen) -> Subscriber:
        subscriber = Subscriber(screen)
        unit = self._units.setdefault(screen.unit_id, _Unit(screen, boards_at=time.monotonic()))
        unit.subscribers.add(subscriber)
        if self._closed:
            subscriber.queue.put_nowait(Event("closed"))
        elif self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run(), name="screen-feed")
        return subscriber

    def caught_up(self, subscriber: Subscriber, last_id: int) -> None:
        """The screen has read its channel's announcements up to last_id: the unit's polling starts
        after it if it had not started (announcements commit in id order per channel)."""
        unit = self._units.get(subscriber.screen.unit_id)
        if unit is not None and unit.last_id is None:
            unit.last_id = last_id

    def unsubscribe(self, subscriber: Subscriber) -> None:
        unit = self._units.get(subscriber.screen.unit_id)
        if unit is None:
            return
        unit.subscribers.discard(subscriber)
        if not unit.subscribers:
            del self._units[subscriber.screen.unit_id]

    async def close(self, *_: object) -> None:
        """Process shutdown: every stream ends (its browser reconnects, to another process)."""
        self._closed = True
        for unit in self._units.values():
            for subscriber in unit.subscribers:
                subscriber.queue.put_nowait(Event("closed"))
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    # --- the poller ----------------------------------------------------------------------------

    async def _run(self) -> None:
        while self._units and not self._closed:
            await asyncio.sleep(self.poll_seconds)
            now = time.monotonic()
            units = {unit_id: (unit.screen, unit.last_id, now - unit.boards_at >= self.board_seconds)
                     for unit_id, unit in self._units.items()}
            links = sorted({s.screen.link_id for unit in self._units.values() for s in unit.subscribers})
            due_seen = [link for link in links if now - self._seen.get(link, -self.seen_seconds) >= self.seen_seconds]
            try:
                polled = await asyncio.to_thread(self._poll, units, links, due_seen)
            except Exception:  # a database hiccup: the screens keep what they show, the next second retries
                log.exception("office screens: poll failed")
                continue
            self._seen.update(dict.fromkeys(due_seen, now))
            self._deliver(polled, now)

    def _poll(self, units: dict[int, tuple[Screen, int | None, bool]], links: list[int],
              due_seen: list[int]) -> _Polled:
        polled = _Polled({}, {}, set())
        now = self.clock()
        with self.db.uow() as uow, self.db.deadline():
            for unit_id, (screen, last_id, board_due) in units.items():
                found = office_screen.announcements_after(uow, screen.channel_id, last_id) if last_id is not None else []
                polled.announcements[unit_id] = found
                if found or board_due:
                    polled.boards[unit_id] = office_screen.boards(uow, screen, now)
            polled.revoked = office_screen.revoked_among(uow, links)
            if due_seen:
                office_screen.mark_seen(uow, due_seen, now)
                uow.commit()
        return polled

    def _deliver(self, polled: _Polled, now: float) -> None:
        for unit_id, unit in list(self._units.items()):
            found = polled.announcements.get(unit_id, [])
            boards = polled.boards.get(unit_id)
            if found:
                unit.last_id = max(unit.last_id or 0, found[-1].id)
            if boards is not None:
                unit.boards_at = now
            for subscriber in list(unit.subscribers):
                if subscriber.screen.link_id in polled.revoked:
                    subscriber.queue.put_nowait(Event("revoked"))
                    continue
                for announcement in found:
                    subscriber.queue.put_nowait(Event("win", announcement, boards))
                if boards is not None and not found:
                    subscriber.queue.put_nowait(Event("board", boards=boards))
