"""The outbox dispatcher: leases chats with due posts, sends each chat's posts in order through the
platform's Sender, retries.

- **Each chat moves on its own.** A chat is leased by one process at a time (its first unsent post
  is locked while the lease is taken), its posts go in order, and a chat that is slow, rate limited
  or refusing delays only itself: the dispatcher keeps leasing other chats while it waits.
- **Leases do not expire under a live sender.** The process renews its leases every third of the
  lease; one that dies leaves leases that expire, and another process sends what was left.
- **Duplicates.** A post is sent again only when it may have landed without our knowing: the
  process died while it was in flight (at most one per chat per crash, since a chat has one post in
  flight), or the platform did not answer in time (`MaybeSent`: retried after the answer window,
  at most one duplicate per timed-out send).
- Rate limits are the senders' (bot.budget, shared by every process); a 429 the sender passes on
  pauses its chat here too.
- **One sender per database.** One process sends at a time (db.leader: an advisory lock held by a
  connection of its own); the others stand by and one of them takes over within TAKEOVER_POLL_S of
  the sender's death. One sender fills a bot account's budget: several only contended for it.
"""
import asyncio
import contextlib
import contextvars
import dataclasses
import functools
import logging
import random
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import ColumnElement, and_, func, or_, select, tuple_, update
from sqlalchemy.exc import SQLAlchemyError

from bot.i18n import button, render
from bot.messages import Reply, Templated
from bot.metrics import Metrics
from bot.services.core.queries import among
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


class MaybeSent(Exception):
    """The platform did not answer in time: the post may have landed. It is sent again only after
    the platform's answer window (`Dispatcher.answer_window`), so a slow platform costs at most one
    duplicate per timed-out send, never a burst of them."""


class Sender(Protocol):
    """One platform's outbox delivery. It keeps its sends within the account's shared budget
    (bot.budget) itself: the dispatcher only orders, leases and retries."""

    platform: str
    command_prefix: str  # how this platform spells a command in a post

    async def send(self, workspace: str, chat_id: str, reply: Reply) -> None: ...


def backoff_seconds(attempts: int) -> float:
    return min(600.0, 2.0 ** min(attempts, 10)) * random.uniform(0.8, 1.2)


def rendered(payload: dict, command_prefix: str) -> Reply:
    """The post in the words of the platform it goes to. Rows queued before posts were kept as
    templates hold a rendered reply; a template that cannot render will never deliver."""
    if "template" not in payload:
        return Reply.from_json(payload)
    post = Templated.from_json(payload)
    try:
        reply = render(post.template, post.locale, command_prefix=command_prefix, **post.context)
        if post.buttons:
            labelled = [button(b["label"], post.locale, b["payload"], b.get("style", "default"), **b.get("params", {}))
                        for b in post.buttons]
            reply = dataclasses.replace(reply, buttons=[*reply.buttons, *labelled])
        return reply
    except Exception as exc:
        log.exception("outbox post %s does not render", post.template)
        raise PermanentFailure(f"template {post.template} does not render: {exc!r}"[:500]) from exc


_UNSENT = OutboxMessage.status.in_(["pending", "sending"])


REFILL_SHARE = 4  # see Dispatcher._chat_done
SENDER_ROLE = "outbox-sender"
TAKEOVER_POLL_S = 1.0  # how often a standing-by dispatcher asks to be the sender
# Threads for the dispatcher's database work: few, so that a fan-out's posts never have more than
# these contending with a person's answer for the interpreter.
OUTBOX_THREADS = 2


class Dispatcher:
    def __init__(
        self,
        db: Database,
        senders: dict[str, Sender],
        clock: Callable[[], datetime] = utcnow,
        lease_seconds: int = 20,
        max_attempts: int = 25,
        batch: int = 200,
        per_chat: int = 10,
        poll_seconds: float = 1.0,
        answer_window_seconds: float = 60.0,
        metrics: Metrics | None = None,
    ):
        self.db = db
        self.metrics = metrics if metrics is not None else Metrics()  # a process passes its own
        self.senders = senders
        self.clock = clock
        self.lease = timedelta(seconds=lease_seconds)
        self.max_attempts = max_attempts
        self.batch = batch  # chats leased at once by this process
        self.per_chat = per_chat  # posts of one chat taken with its lease
        self.poll_seconds = poll_seconds
        self.answer_window = timedelta(seconds=answer_window_seconds)
        self.wakeup = asyncio.Event()
        self._held: set[int] = set()  # rows this process has leased and not finished
        self._chats: set[asyncio.Task] = set()
        self._drained = False  # the last lease found fewer due chats than it had room for
        self._leadership = db.leadership(SENDER_ROLE)  # None on SQLite: the one process sends
        self.sending = self._leadership is None
        self._threads = ThreadPoolExecutor(OUTBOX_THREADS, thread_name_prefix="outbox")

    # --- leasing -------------------------------------------------------------------------------

    def _due(self, row: type[OutboxMessage], now: datetime) -> ColumnElement[bool]:
        return or_(and_(row.status == "pending", row.next_attempt_at <= now),
                   and_(row.status == "sending", row.locked_until < now))

    def claim(self, chats: int | None = None) -> list[OutboxMessage]:
        """Lease up to `chats` chats whose first unsent post is due, with up to `per_chat` of their
        posts, in order. SKIP LOCKED on each chat's first unsent post lets several processes share
        the outbox without two of them ever holding one chat."""
        now = self.clock()
        platforms = list(self.senders)
        with self.db.uow() as uow:
            # Each chat's first unsent post, computed once (MATERIALIZED): right after a burst the
            # table's statistics still say "hardly anything unsent", and PostgreSQL would otherwise
            # run the grouping again for every row it checks.
            firsts = (select(func.min(OutboxMessage.id).label("id")).where(_UNSENT, OutboxMessage.platform.in_(platforms))
                      .group_by(OutboxMessage.platform, OutboxMessage.chat_id).cte("firsts").prefix_with("MATERIALIZED"))
            heads = list(uow.session.execute(
                select(OutboxMessage.platform, OutboxMessage.chat_id)
                .join(firsts, firsts.c.id == OutboxMessage.id)
                .where(self._due(OutboxMessage, now))
                .order_by(OutboxMessage.id).limit(chats or self.batch)
                .with_for_update(of=OutboxMessage, skip_locked=True)
            ))
            if not heads:
                return []
            ids = self._leading_due(uow, heads, now)
            uow.session.execute(
                update(OutboxMessage).where(OutboxMessage.id.in_(ids))
                .values(status="sending", locked_until=now + self.lease, attempts=OutboxMessage.attempts + 1)
            )
            rows = list(uow.session.scalars(select(OutboxMessage).where(OutboxMessage.id.in_(ids))
                                            .order_by(OutboxMessage.id)))
            uow.commit()
        self._held.update(ids)
        return rows

    def _leading_due(self, uow, heads: list, now: datetime) -> list[int]:
        """Of each leased chat, its first unsent posts while they are due, at most per_chat."""
        rank = func.row_number().over(partition_by=(OutboxMessage.platform, OutboxMessage.chat_id),
                                      order_by=OutboxMessage.id).label("rank")
        queue = (select(OutboxMessage.id, OutboxMessage.platform, OutboxMessage.chat_id,
                        self._due(OutboxMessage, now).label("due"), rank)
                 .where(_UNSENT,
                        tuple_(OutboxMessage.platform, OutboxMessage.chat_id).in_([tuple(h) for h in heads]))
                 .subquery())
        rows = uow.session.execute(select(queue.c.id, queue.c.platform, queue.c.chat_id, queue.c.due)
                                   .where(queue.c.rank <= self.per_chat).order_by(queue.c.id))
        ids, stopped = [], set()
        for row in rows:
            chat = (row.platform, row.chat_id)
            if chat in stopped or not row.due:
                stopped.add(chat)  # a post waiting for its retry holds back the ones after it
                continue
            ids.append(row.id)
        return ids

    def _renew(self) -> None:
        """Extend the leases this process holds: they never expire under a live sender."""
        held = list(self._held)
        if not held:
            return
        with self.db.uow() as uow:
            uow.session.execute(update(OutboxMessage)
                                .where(among(uow, OutboxMessage.id, held), OutboxMessage.status == "sending")
                                .values(locked_until=self.clock() + self.lease))
            uow.commit()

    def _finish(self, message_id: int, **values: object) -> None:
        """One statement, no session: a fan-out finishes thirty posts a second."""
        with self.db.engine.begin() as connection:
            connection.execute(update(OutboxMessage).where(OutboxMessage.id == message_id).values(**values))
        self._held.discard(message_id)

    def _give_back(self, ids: list[int]) -> None:
        """Posts leased but not tried (their chat stopped at an earlier post): due again at once."""
        if not ids:
            return
        with self.db.uow() as uow:
            uow.session.execute(update(OutboxMessage).where(among(uow, OutboxMessage.id, ids))
                                .values(status="pending", locked_until=None, attempts=OutboxMessage.attempts - 1))
            uow.commit()
        self._held.difference_update(ids)

    # --- sending -------------------------------------------------------------------------------

    async def _send_one(self, message: OutboxMessage) -> bool:
        """Deliver one post, or settle its fate; True when it was delivered or is dead for good."""
        sender = self.senders[message.platform]
        while True:
            try:
                await sender.send(message.workspace, message.chat_id, rendered(message.payload, sender.command_prefix))
            except RetryAfter as exc:
                # The sender has told the shared budget; this chat alone waits, then tries again.
                self.metrics.outbox_failures.inc()
                log.info("outbox %s: 429, retry after %ss", message.id, exc.seconds)
                await asyncio.sleep(exc.seconds)
                continue
            except PermanentFailure as exc:
                self.metrics.outbox_failures.inc()
                log.warning("outbox %s undeliverable: %s", message.id, exc)
                await self._in_thread(self._finish, message.id, status="dead", last_error=str(exc)[:2000])
                return True
            except Exception as exc:  # network, 5xx, timeouts: back off and retry later
                self.metrics.outbox_failures.inc()
                log.warning("outbox %s failed (attempt %s): %r", message.id, message.attempts, exc)
                await self._in_thread(self._retry_later, message, exc)
                return False
            self.metrics.outbox_delivered.inc()
            await self._in_thread(self._finish, message.id, status="sent", sent_at=self.clock(), locked_until=None)
            return True

    def _retry_later(self, message: OutboxMessage, exc: Exception) -> None:
        wait = timedelta(seconds=backoff_seconds(message.attempts))
        if isinstance(exc, MaybeSent):
            wait = max(wait, self.answer_window)
        self._finish(message.id, status="dead" if message.attempts >= self.max_attempts else "pending",
                     locked_until=None, last_error=repr(exc)[:2000], next_attempt_at=self.clock() + wait)

    async def _send_chat(self, messages: list[OutboxMessage]) -> None:
        """One chat's posts in order; a post put off for later holds back the ones after it. When
        the database cannot record how a post went, the chat's leases are let go: they expire and
        its posts are tried again (one may arrive twice)."""
        try:
            for index, message in enumerate(messages):
                if not await self._send_one(message):
                    await self._in_thread(self._give_back, [m.id for m in messages[index + 1:]])
                    return
        except SQLAlchemyError as exc:
            log.warning("outbox: database unavailable (%s); chat %s resumes when its lease ends",
                        type(exc).__name__, messages[0].chat_id)
            self._held.difference_update(m.id for m in messages)
        finally:
            self._chat_done()

    def _by_chat(self, rows: list[OutboxMessage]) -> list[list[OutboxMessage]]:
        chats: dict[tuple[str, str], list[OutboxMessage]] = {}
        for row in rows:
            chats.setdefault((row.platform, row.chat_id), []).append(row)
        return list(chats.values())

    async def deliver_due(self) -> int:
        """Deliver one leased batch and wait for it (the console, tests). Returns rows handled."""
        rows = await self._in_thread(self.claim)
        await asyncio.gather(*(self._send_chat(chat) for chat in self._by_chat(rows)))
        return len(rows)

    async def _in_thread(self, function: Callable, *args: object, **kwargs: object) -> Any:
        """The dispatcher's database work, on its own few threads (see OUTBOX_THREADS)."""
        call = functools.partial(contextvars.copy_context().run, function, *args, **kwargs)
        return await asyncio.get_running_loop().run_in_executor(self._threads, call)

    def _chat_done(self) -> None:
        """A chat let go (it may have more posts waiting): lease more once a quarter of the room is
        free, not after every chat. A fan-out holding 200 chats at 30 sends a second would otherwise
        run the leasing query thirty times a second in every process; the poll picks up the rest.
        Nor once the last lease found the outbox drained: then a new post (NOTIFY) or the poll leases."""
        held = len(self._chats) - 1  # this chat's task is still among them
        if not self._drained and held <= self.batch - max(1, self.batch // REFILL_SHARE):
            self.poke()

    def poke(self) -> None:
        """Something was just queued or a chat finished: lease more without waiting for the poll."""
        self.wakeup.set()

    async def run_forever(self) -> None:
        """Lease chats as they become due, each chat's posts in a task of its own, while leases
        are renewed. On the way out, posts leased and not tried are given back."""
        self._set_sending(self.sending)
        renewing = asyncio.create_task(self._keep_leases())
        listener = self.db.listen("outbox", functools.partial(self._poke_from, asyncio.get_running_loop()))  # queued anywhere
        try:
            while True:
                self.wakeup.clear()
                room = self.batch - len(self._chats)
                if not self.sending:
                    await self._ask_to_send()
                if room > 0 and self.sending:
                    try:
                        rows = await self._in_thread(self.claim, room)
                    except SQLAlchemyError as exc:  # an outage: one line, not a traceback a second
                        log.warning("outbox: database unavailable (%s); retrying", type(exc).__name__)
                        rows = []
                    except Exception:
                        log.exception("outbox dispatcher pass failed; retrying")
                        rows = []
                    chats = self._by_chat(rows)
                    self._drained = len(chats) < room
                    for chat in chats:
                        task = asyncio.create_task(self._send_chat(chat))
                        self._chats.add(task)
                        task.add_done_callback(self._chats.discard)
                    if len(chats) >= room:
                        self.wakeup.set()  # there may be more due chats than we had room for
                with contextlib.suppress(TimeoutError):
                    # asyncio.timeout, not wait_for: on Python 3.11 wait_for swallows a cancel that
                    # comes as the wake-up does, and the process would not stop
                    async with asyncio.timeout(self.poll_seconds if self.sending else TAKEOVER_POLL_S):
                        await self.wakeup.wait()
        finally:
            if listener is not None:
                listener.stop()
            renewing.cancel()
            for task in list(self._chats):
                task.cancel()
            await asyncio.gather(*self._chats, return_exceptions=True)
            with contextlib.suppress(Exception):
                await asyncio.shield(self._in_thread(self._give_back_untried))
            if self._leadership is not None:
                self._leadership.release()
                self._set_sending(False)

    def _poke_from(self, loop: asyncio.AbstractEventLoop) -> None:
        """poke, from the listener's thread."""
        with contextlib.suppress(RuntimeError):  # the loop closed while the listener was stopping
            loop.call_soon_threadsafe(self.poke)

    async def _ask_to_send(self) -> None:
        """Take the sender's role if nobody holds it (db.leader)."""
        assert self._leadership is not None
        if await self._in_thread(self._leadership.take):
            log.info("outbox: this process is the sender")
            self._set_sending(True)

    def _set_sending(self, sending: bool) -> None:
        """Whether this process is the sender, and the gauge that shows it."""
        self.sending = sending
        self.metrics.outbox_sending.set(int(sending))

    async def _keep_leases(self) -> None:
        """Renew the leases held, and check that the sender's role is still this process's: when
        its connection broke, another process may be sending; this one leases nothing more (the
        chats it holds finish) until it is the sender again."""
        while True:
            await asyncio.sleep(self.lease.total_seconds() / 3)
            try:
                await self._in_thread(self._renew)
            except SQLAlchemyError as exc:
                log.warning("outbox: could not renew leases (%s); retrying", type(exc).__name__)
            if self._leadership is not None and self.sending and not await self._in_thread(self._leadership.held):
                log.warning("outbox: lost the sender's role (its connection broke); standing by")
                self._set_sending(False)

    def _give_back_untried(self) -> None:
        """At shutdown: leased posts not yet tried go back at once. A post in flight when the task
        was cancelled is among them, and may arrive twice (at most one per chat)."""
        self._give_back(list(self._held))
