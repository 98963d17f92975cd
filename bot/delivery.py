"""The outbox dispatcher: claims due posts, sends them through the platform's Sender, retries.

At-least-once: a row is leased while being sent; a dispatcher that dies mid-send leaves a lease
that expires, and another dispatcher (or the same one after restart) sends it again. Rate limits
are sliding windows per platform and per chat, and a 429's retry-after is honoured.
"""
import asyncio
import contextlib
import logging
import random
import time
from collections import deque
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import or_, select, update

from bot.i18n import render
from bot.messages import Reply, Templated
from bot.metrics import Metrics
from db.base import utcnow
from db.models import OutboxMessage
from db.session import Database

log = logging.getLogger(__name__)


class RetryAfter(Exception):
    """The platform said 429: wait this many seconds."""

    def __init__(self, seconds: float):
        super().__init__(f"retry after {seconds}s")
        self.seconds = seconds


class PermanentFailure(Exception):
    """The platform will never accept this post (channel gone, bot removed)."""


class Sender(Protocol):
    platform: str
    command_prefix: str  # how this platform spells a command in a post

    def limits_for(self, chat_id: str) -> list["SlidingWindow"]: ...

    async def send(self, workspace: str, chat_id: str, reply: Reply) -> None: ...


class SlidingWindow:
    """At most `limit` acquisitions in any `period` seconds.

    A slot is stamped when it is taken and stamped again when the platform has answered
    (`settle`): the platform counts a post when it arrives, which is never later than its answer,
    so a stall on either side can bring posts closer together there, but never within our window.
    """

    def __init__(self, limit: int, period: float, clock: Callable[[], float] = time.monotonic):
        self.limit = limit
        self.period = period
        self.clock = clock
        self.stamps: deque[float] = deque()
        self.blocked_until = 0.0

    def wait_time(self) -> float:
        now = self.clock()
        while self.stamps and now - self.stamps[0] >= self.period:
            self.stamps.popleft()
        wait = max(0.0, self.blocked_until - now)
        if len(self.stamps) >= self.limit:
            wait = max(wait, self.stamps[0] + self.period - now)
        return wait

    def take(self) -> float:
        stamp = self.clock()
        self.stamps.append(stamp)
        return stamp

    def settle(self, stamp: float) -> None:
        """The post taken at `stamp` has been answered: count it from now."""
        try:
            self.stamps.remove(stamp)
        except ValueError:
            return  # it has left the window already
        self.stamps.append(self.clock())

    def block_for(self, seconds: float) -> None:
        self.blocked_until = max(self.blocked_until, self.clock() + seconds)


async def acquire_all(windows: list[SlidingWindow]) -> list[float]:
    """Wait until every window has room, then take one slot of each at the same instant."""
    while True:
        wait = max((w.wait_time() for w in windows), default=0.0)
        if wait <= 0:
            return [window.take() for window in windows]
        await asyncio.sleep(wait)


def backoff_seconds(attempts: int) -> float:
    return min(600.0, 2.0 ** min(attempts, 10)) * random.uniform(0.8, 1.2)


def rendered(payload: dict, command_prefix: str) -> Reply:
    """The post in the words of the platform it goes to. Rows queued before posts were kept as
    templates hold a rendered reply; a template that cannot render will never deliver."""
    if "template" not in payload:
        return Reply.from_json(payload)
    post = Templated.from_json(payload)
    try:
        return render(post.template, post.locale, command_prefix=command_prefix, **post.context)
    except Exception as exc:
        log.exception("outbox post %s does not render", post.template)
        raise PermanentFailure(f"template {post.template} does not render: {exc!r}"[:500]) from exc


class Dispatcher:
    def __init__(
        self,
        db: Database,
        senders: dict[str, Sender],
        clock: Callable[[], datetime] = utcnow,
        lease_seconds: int = 60,
        max_attempts: int = 25,
        batch: int = 200,
        poll_seconds: float = 1.0,
        metrics: Metrics | None = None,
    ):
        self.db = db
        self.metrics = metrics if metrics is not None else Metrics()  # a process passes its own
        self.senders = senders
        self.clock = clock
        self.lease = timedelta(seconds=lease_seconds)
        self.max_attempts = max_attempts
        self.batch = batch
        self.poll_seconds = poll_seconds
        self.wakeup = asyncio.Event()
        # A 429 pauses its chat here, whatever windows the sender declares.
        self._pauses: dict[tuple[str, str], SlidingWindow] = {}

    def _windows(self, message: OutboxMessage) -> list[SlidingWindow]:
        pause = self._pauses.setdefault((message.platform, message.chat_id), SlidingWindow(1_000_000, 1.0))
        return [*self.senders[message.platform].limits_for(message.chat_id), pause]

    def claim(self) -> list[OutboxMessage]:
        """Lease a batch of due rows; SKIP LOCKED lets several processes share the outbox."""
        now = self.clock()
        with self.db.uow() as uow:
            due = (
                select(OutboxMessage.id)
                .where(
                    OutboxMessage.platform.in_(list(self.senders)),
                    or_(
                        (OutboxMessage.status == "pending") & (OutboxMessage.next_attempt_at <= now),
                        (OutboxMessage.status == "sending") & (OutboxMessage.locked_until < now),
                    ),
                )
                .order_by(OutboxMessage.id)
                .limit(self.batch)
                .with_for_update(skip_locked=True)
            )
            ids = list(uow.session.scalars(due))
            if not ids:
                return []
            uow.session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id.in_(ids))
                .values(status="sending", locked_until=now + self.lease, attempts=OutboxMessage.attempts + 1)
            )
            rows = list(uow.session.scalars(select(OutboxMessage).where(OutboxMessage.id.in_(ids)).order_by(OutboxMessage.id)))
            uow.commit()
            return rows

    def _finish(self, message_id: int, **values: object) -> None:
        with self.db.uow() as uow:
            uow.session.execute(update(OutboxMessage).where(OutboxMessage.id == message_id).values(**values))
            uow.commit()

    @staticmethod
    async def _post(sender: Sender, message: OutboxMessage, windows: list[SlidingWindow]) -> None:
        """One attempt, within the windows; its slots count from the platform's answer."""
        reply = rendered(message.payload, sender.command_prefix)
        stamps = await acquire_all(windows)
        try:
            await sender.send(message.workspace, message.chat_id, reply)
        finally:
            for window, stamp in zip(windows, stamps, strict=True):
                window.settle(stamp)

    async def _send_one(self, message: OutboxMessage) -> None:
        sender = self.senders[message.platform]
        windows = self._windows(message)
        while True:
            try:
                await self._post(sender, message, windows)
            except RetryAfter as exc:
                # Honour it for this chat and try again once the platform allows.
                self.metrics.outbox_failures.inc()
                for window in windows:
                    window.block_for(exc.seconds)
                log.info("outbox %s: 429, retry after %ss", message.id, exc.seconds)
                continue
            except PermanentFailure as exc:
                self.metrics.outbox_failures.inc()
                log.warning("outbox %s undeliverable: %s", message.id, exc)
                await asyncio.to_thread(self._finish, message.id, status="dead", last_error=str(exc)[:2000])
                return
            except Exception as exc:  # network, 5xx, timeouts: back off and retry later
                self.metrics.outbox_failures.inc()
                dead = message.attempts >= self.max_attempts
                log.warning("outbox %s failed (attempt %s): %r", message.id, message.attempts, exc)
                await asyncio.to_thread(
                    self._finish,
                    message.id,
                    status="dead" if dead else "pending",
                    locked_until=None,
                    last_error=repr(exc)[:2000],
                    next_attempt_at=self.clock() + timedelta(seconds=backoff_seconds(message.attempts)),
                )
                return
            self.metrics.outbox_delivered.inc()
            await asyncio.to_thread(self._finish, message.id, status="sent", sent_at=self.clock(), locked_until=None)
            return

    async def _send_chat(self, messages: list[OutboxMessage]) -> None:
        for message in messages:  # in order within one chat
            await self._send_one(message)

    async def deliver_due(self) -> int:
        """Deliver one claimed batch: chats in parallel, each chat in order. Returns rows handled."""
        rows = await asyncio.to_thread(self.claim)
        by_chat: dict[tuple[str, str], list[OutboxMessage]] = {}
        for row in rows:
            by_chat.setdefault((row.platform, row.chat_id), []).append(row)
        await asyncio.gather(*(self._send_chat(batch) for batch in by_chat.values()))
        return len(rows)

    def poke(self) -> None:
        """Something was just queued: deliver without waiting for the next poll."""
        self.wakeup.set()

    async def run_forever(self) -> None:
        while True:
            try:
                handled = await self.deliver_due()
            except Exception:
                log.exception("outbox dispatcher pass failed; retrying")
                handled = 0
            if handled:
                continue
            self.wakeup.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wakeup.wait(), timeout=self.poll_seconds)
