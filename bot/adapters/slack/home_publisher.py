"""Publishing the App Home (views.publish): when the person opens it, and again when his data changes,
coalesced and within Slack's rate limits.

What marks a home stale (`mark`): every command he runs (typed, a button, a modal, a shortcut) and
every direct message the outbox delivers to him, which is how the writes of others about him reach
him (a manager's review, a lead returned to the pool, a reminder, the morning plan). Marks are
coalesced per person: the first publish leaves `debounce_s` after the first mark, the next no sooner
than `min_interval_s` after the last, so twenty changes in a minute publish two or three times. No
timer publishes anything. Opening the Home tab publishes at once only when this process has not
published it since it last changed (or never did). Every views.publish passes the shared budget
(bot.budget): Slack's views.publish window per workspace and a small one per person; a 429 blocks
that person's window in every process and the publish is tried again after its Retry-After.
"""
import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from slack_sdk.web.async_client import AsyncWebClient

from bot.adapters.slack.home import home_view, unlinked_view
from bot.adapters.slack.outbound import rate_limited_seconds
from bot.adapters.slack.words import COMMAND_PREFIX, PLATFORM
from bot.budget import Budget, Limit
from bot.delivery import Sender
from bot.messages import Reply
from bot.services.home import home
from db.session import Database

log = logging.getLogger(__name__)

DEBOUNCE_S = 2.0
MIN_INTERVAL_S = 30.0


def limits(team: str, user: str) -> list[Limit]:
    """views.publish: Slack's Tier 4 (100 a minute) per workspace, and at most 10 a minute per person."""
    return [Limit(f"slack:{team}:views.publish", 100, 60.0, shared=True), Limit(f"slack:{team}:home:{user}", 10, 60.0)]


@dataclass
class _State:
    last: float | None = None  # monotonic time of the last publish
    dirty: bool = True  # changed since the last publish
    pending: asyncio.Task | None = None
    sleeping: bool = False  # the pending task is only waiting (may be cancelled at once)


class HomePublisher:
    def __init__(self, client: AsyncWebClient, budget: Budget, db: Database, clock: Callable[[], datetime],
                 default_locale: str, debounce_s: float = DEBOUNCE_S, min_interval_s: float = MIN_INTERVAL_S):
        self.client, self.budget, self.db, self.clock = client, budget, db, clock
        self.default_locale = default_locale
        self.debounce_s, self.min_interval_s = debounce_s, min_interval_s
        self._states: dict[tuple[str, str], _State] = {}
        self._closed = False
        self._running: set[asyncio.Task] = set()
        self.published = 0  # views.publish calls that succeeded in this process

    def mark(self, team: str, user: str) -> None:
        """His data changed: publish soon, coalesced with the other changes."""
        if not team or not user:
            return
        state = self._states.setdefault((team, user), _State())
        state.dirty = True
        if state.pending is None and not self._closed:
            state.pending = self._task(self._later(team, user, self._wait(state)))

    async def mark_chat(self, team: str, chat_id: str) -> None:
        """A post reached a private chat: the home of the person it is with changed."""
        if not chat_id.startswith("D"):
            return
        try:
            account = await asyncio.to_thread(self._account_of_chat, team, chat_id)
        except Exception as exc:  # the post left: a stale home is no reason to send it again
            log.warning("slack: whose DM %s is could not be read: %r", chat_id, exc)
            return
        if account is not None:
            self.mark(team, account)

    async def opened(self, team: str, user: str, has_view: bool) -> None:
        """He opened the Home tab: publish unless what he sees is current."""
        state = self._states.setdefault((team, user), _State())
        if has_view and not state.dirty and state.last is not None:
            return
        if state.pending is not None:
            state.pending.cancel()
            state.pending = None
        await self._publish(team, user, state, opened=True)

    def _task(self, work: Awaitable[None]) -> asyncio.Task:
        task = asyncio.ensure_future(work)
        self._running.add(task)
        task.add_done_callback(self._running.discard)
        return task

    def _wait(self, state: _State) -> float:
        if state.last is None:
            return self.debounce_s
        return max(self.debounce_s, state.last + self.min_interval_s - time.monotonic())

    async def _later(self, team: str, user: str, seconds: float) -> None:
        state = self._states[(team, user)]
        state.sleeping = True
        try:
            await asyncio.sleep(seconds)
        finally:
            state.sleeping = False
        state.pending = None
        await self._publish(team, user, state)

    async def _publish(self, team: str, user: str, state: _State, opened: bool = False) -> None:
        """Publish his Home now; someone not linked gets how to join, only when he opened the tab."""
        state.dirty = False  # a change from now on publishes again
        state.last = time.monotonic()
        try:
            found = await asyncio.to_thread(self._read, team, user)
            if found is None and not opened:
                return
            view = home_view(found) if found is not None else unlinked_view(self.default_locale)
            await self.budget.send(limits(team, user), lambda: self.client.views_publish(user_id=user, view=view),
                                   False, False, rate_limited_seconds)
            self.published += 1
        except Exception as exc:
            seconds = rate_limited_seconds(exc)
            if seconds is None:
                log.warning("slack: home of %s not published: %r", user, exc)
                return
            log.info("slack: home of %s rate limited, publishing again in %ss", user, seconds)
            state.dirty = True
            if state.pending is None and not self._closed:
                state.pending = self._task(self._later(team, user, seconds))

    def _read(self, team: str, user: str) -> home.Home | None:
        with self.db.uow() as uow:
            return home.of_account(uow, PLATFORM, team, user, self.clock())

    def _account_of_chat(self, team: str, chat_id: str) -> str | None:
        with self.db.uow() as uow:
            return home.account_of_chat(uow, PLATFORM, team, chat_id)

    async def close(self) -> None:
        """Drop the publishes still waiting; let the ones under way finish (they read the database)."""
        self._closed = True
        tasks = list(self._running)
        for state in self._states.values():
            if state.pending is not None and state.sleeping:
                state.pending.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def settle(self) -> None:
        """Wait for every publish planned so far (tests)."""
        while self._running:
            await asyncio.gather(*list(self._running), return_exceptions=True)


class HomeMarkingSender:
    """The outbox sender, marking the home of the person a direct post reached."""

    platform = PLATFORM
    command_prefix = COMMAND_PREFIX

    def __init__(self, sender: Sender, publisher: HomePublisher):
        self.sender, self.publisher = sender, publisher

    async def send(self, workspace: str, chat_id: str, reply: Reply) -> None:
        await self.sender.send(workspace, chat_id, reply)
        await self.publisher.mark_chat(workspace, chat_id)
