"""The outbox: queued in the cause's transaction, delivered with retries, surviving restarts."""
import asyncio
import contextlib
import time
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from bot.budget import Budget, BudgetStore, Limit
from bot.delivery import Dispatcher, PermanentFailure, RetryAfter
from bot.messages import Reply
from bot.services.core import outbox
from db.base import utcnow
from db.models import OutboxMessage, TeamChannel
from db.session import Database


class RecordingPlatform:
    """A platform double: records posts, and can fail the next calls in a chosen way."""

    platform = "console"
    command_prefix = "/"

    def __init__(self, failures: list[Exception] | None = None, budget: Budget | None = None,
                 per_chat: tuple[int, float] = (0, 0.0)):
        self.sent: list[tuple[str, str]] = []
        self.failures = list(failures or [])
        self.budget = budget
        self.per_chat = per_chat

    async def send(self, workspace: str, chat_id: str, reply: Reply) -> None:
        if self.budget is None:
            return await self._send(chat_id, reply)
        async with self.budget.slot([Limit(f"console:{chat_id}", *self.per_chat)], urgent=False):
            await self._send(chat_id, reply)

    async def _send(self, chat_id: str, reply: Reply) -> None:
        if self.failures:
            raise self.failures.pop(0)
        self.sent.append((chat_id, reply.text))


def queue_welcome(db, name: str = "Li") -> None:
    with db.uow() as uow:
        outbox.post_to_unit_channels(uow, _company(uow), "channel/welcome", {"name": name, "unit": "Acme"}, now=utcnow())
        uow.commit()


def _company(uow) -> int:
    return uow.session.scalar(select(TeamChannel.unit_id).where(TeamChannel.chat_id == "#sales"))


def statuses(db) -> list[str]:
    with db.uow() as uow:
        return list(uow.session.scalars(select(OutboxMessage.status).order_by(OutboxMessage.id)))


async def test_a_rolled_back_cause_queues_nothing(demo_org):
    with demo_org.uow() as uow:
        outbox.post_to_unit_channels(uow, _company(uow), "channel/welcome", {"name": "X", "unit": "Acme"}, now=utcnow())
        # no commit: the cause failed
    assert statuses(demo_org) == []


async def test_posts_survive_a_restart_and_are_delivered_once(demo_org):
    queue_welcome(demo_org, "Li")
    # The first process claims the row and dies before sending: its lease is left behind.
    crashed = Dispatcher(demo_org, {"console": RecordingPlatform()}, lease_seconds=60)
    assert len(crashed.claim()) == 1 and statuses(demo_org) == ["sending"]
    # A new process after the lease: the post is delivered, exactly once.
    later = utcnow() + timedelta(seconds=61)
    platform = RecordingPlatform()
    restarted = Dispatcher(demo_org, {"console": platform}, clock=lambda: later)
    await restarted.deliver_due()
    await restarted.deliver_due()
    assert platform.sent == [("#sales", "Li joined Acme on fieldcrm. Welcome!")]
    assert statuses(demo_org) == ["sent"]


async def test_retry_after_is_honoured_then_delivered(demo_org):
    queue_welcome(demo_org)
    platform = RecordingPlatform(failures=[RetryAfter(0.3)])
    dispatcher = Dispatcher(demo_org, {"console": platform})
    started = asyncio.get_running_loop().time()
    await dispatcher.deliver_due()
    assert asyncio.get_running_loop().time() - started >= 0.3
    assert len(platform.sent) == 1 and statuses(demo_org) == ["sent"]


async def test_server_errors_back_off_and_retry_later(demo_org):
    queue_welcome(demo_org)
    platform = RecordingPlatform(failures=[ConnectionError("503")])
    dispatcher = Dispatcher(demo_org, {"console": platform})
    await dispatcher.deliver_due()
    assert statuses(demo_org) == ["pending"] and platform.sent == []
    with demo_org.uow() as uow:
        row = uow.session.scalar(select(OutboxMessage))
        assert row.next_attempt_at > utcnow() and row.attempts == 1 and "503" in row.last_error
        uow.session.execute(update(OutboxMessage).values(next_attempt_at=utcnow()))
        uow.commit()
    await dispatcher.deliver_due()
    assert statuses(demo_org) == ["sent"] and len(platform.sent) == 1


async def test_permanent_failures_are_kept_not_deleted(demo_org):
    queue_welcome(demo_org)
    dispatcher = Dispatcher(demo_org, {"console": RecordingPlatform(failures=[PermanentFailure("channel_not_found")])})
    await dispatcher.deliver_due()
    assert statuses(demo_org) == ["dead"]


async def test_per_chat_rate_limit_spaces_posts(demo_org):
    for name in ("A", "B", "C"):
        queue_welcome(demo_org, name)
    platform = RecordingPlatform(budget=Budget(BudgetStore(demo_org)), per_chat=(1, 0.2))
    dispatcher = Dispatcher(demo_org, {"console": platform})
    started = asyncio.get_running_loop().time()
    await dispatcher.deliver_due()
    assert asyncio.get_running_loop().time() - started >= 0.4
    assert [text.split()[0] for _, text in platform.sent] == ["A", "B", "C"]  # in order


class LaggingPlatform(RecordingPlatform):
    """Counts a post when it gets to it, after a delay that varies (a busy server, a slow network)."""

    def __init__(self, delays: list[float], budget: Budget, per_chat: tuple[int, float]):
        super().__init__(budget=budget, per_chat=per_chat)
        self.delays = delays
        self.counted_at: list[float] = []

    async def _send(self, chat_id: str, reply: Reply) -> None:
        await asyncio.sleep(self.delays.pop(0))
        self.counted_at.append(asyncio.get_running_loop().time())


async def test_a_late_answer_cannot_squeeze_posts_past_the_platforms_limit(demo_org):
    for name in ("A", "B", "C"):
        queue_welcome(demo_org, name)
    platform = LaggingPlatform(delays=[0.3, 0.0, 0.0], budget=Budget(BudgetStore(demo_org)), per_chat=(2, 0.5))
    await Dispatcher(demo_org, {"console": platform}).deliver_due()
    first, _, third = platform.counted_at
    assert third - first >= 0.5  # never three in any half second, as the platform counts them


def test_dedupe_key_queues_once(demo_org):
    with demo_org.uow() as uow:
        channel = uow.session.scalar(select(TeamChannel))
        welcome = {"name": "Li", "unit": "Acme"}
        assert outbox.post_to_channel(uow, channel, "channel/welcome", welcome, dedupe_key="win:7", now=utcnow()) is not None
        uow.commit()
    with demo_org.uow() as uow:
        channel = uow.session.scalar(select(TeamChannel))
        assert outbox.post_to_channel(uow, channel, "channel/welcome", welcome, dedupe_key="win:7", now=utcnow()) is None
        uow.commit()
    assert statuses(demo_org) == ["pending"]


async def test_direct_message_goes_to_the_users_linked_chat_in_his_language(demo_org):
    from bot.services.core import identity

    with demo_org.uow() as uow:
        li = identity.find_user(uow, "li")
        assert outbox.queue_direct(uow, li.id, "errors/try_again", {}, now=utcnow())
        uow.commit()
    with demo_org.uow() as uow:
        row = uow.session.scalar(select(OutboxMessage))
    platform = RecordingPlatform()
    await Dispatcher(demo_org, {"console": platform}).deliver_due()
    [(chat_id, text)] = platform.sent
    assert row.kind == "direct" and chat_id == "@li" and "数据库" in text


@pytest.mark.pg_only
@pytest.mark.serial
async def test_a_post_queued_by_another_process_is_sent_at_once_not_at_the_next_poll(demo_org):
    # The dispatcher polls once a minute here; the outbox trigger's NOTIFY is what wakes it.
    platform = RecordingPlatform()
    dispatcher = Dispatcher(demo_org, {"console": platform}, poll_seconds=60)
    running = asyncio.create_task(dispatcher.run_forever())
    other_process = Database(demo_org.url)
    try:
        await asyncio.sleep(1.0)  # its first pass found nothing; now it waits for the poll or a NOTIFY
        queue_welcome(other_process, "Mei")
        queued = time.monotonic()
        while not platform.sent and time.monotonic() - queued < 10:
            await asyncio.sleep(0.02)
        assert platform.sent == [("#sales", "Mei joined Acme on fieldcrm. Welcome!")]
        assert time.monotonic() - queued < 2.0
    finally:
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running
        other_process.dispose()


async def test_a_dispatcher_stops_when_told_to_just_as_a_post_wakes_it(demo_org):
    # A process stopping (SIGTERM) at the moment a post is queued must still stop: Python 3.11's
    # asyncio.wait_for returned the wake-up and swallowed the cancellation, and the loop ran on.
    dispatcher = Dispatcher(demo_org, {"console": RecordingPlatform()}, poll_seconds=60)
    running = asyncio.create_task(dispatcher.run_forever())
    await asyncio.sleep(0.3)  # its first pass found nothing; it waits for a wake-up
    dispatcher.poke()
    running.cancel()
    done, _ = await asyncio.wait({running}, timeout=5)
    assert done and running.cancelled()
