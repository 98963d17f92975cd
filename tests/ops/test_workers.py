"""COMMAND_WORKERS > 0: commands run in real worker processes (spawned), on SQLite and PostgreSQL.

The main process keeps the rate limit and the metrics; a worker that dies costs its users one
polite reply, and the pool comes back by itself.
"""
import asyncio
import os
import signal
from collections.abc import AsyncIterator
from dataclasses import replace

import pytest
from sqlalchemy import func, select, text

from bot import metrics
from bot.config import Settings
from bot.messages import Incoming, Reply
from bot.router import Router
from bot.workers import WORKER_NICENESS
from db.base import utcnow
from db.models import InboundEvent, PlatformIdentity, User
from db.session import Database

WORKSPACE = "B1"


def telegram(user_id: str, command: str, args: str = "", event_id: str | None = None) -> Incoming:
    return Incoming(platform="telegram", workspace=WORKSPACE, chat_id=user_id, user_id=user_id, command=command,
                    args=args, event_id=event_id)


def shown(reply: Reply) -> str:
    return f"{reply.title or ''}|{reply.text}"


def link_telegram(db: Database, handle: str, platform_user_id: str) -> None:
    with db.uow() as uow:
        user = uow.session.scalar(select(User).where(User.handle == handle))
        assert user is not None
        uow.session.add(PlatformIdentity(platform="telegram", workspace=WORKSPACE, platform_user_id=platform_user_id,
                                         dm_chat_id=platform_user_id, user_id=user.id, linked_at=utcnow()))
        uow.commit()


@pytest.fixture
def linked(demo_org: Database) -> Database:
    link_telegram(demo_org, "li", "701")  # zh
    link_telegram(demo_org, "sam", "702")  # en
    return demo_org


@pytest.fixture
async def workers(linked: Database, settings: Settings) -> AsyncIterator[Router]:
    router = Router(linked, settings.model_copy(update={"COMMAND_WORKERS": 2}))
    yield router
    await router.aclose()


async def test_answer_from_a_worker_equals_the_in_process_answer(workers: Router, linked: Database,
                                                                 settings: Settings) -> None:
    in_process = Router(linked, settings)
    for user, command in (("701", "whoami"), ("702", "whoami"), ("702", "help"), ("702", "nosuchcommand")):
        expected = in_process.handle(telegram(user, command))
        assert await workers.handle_async(telegram(user, command)) == expected
        assert expected and (expected[0].text or expected[0].title)
    assert workers.worker_pids()  # it did run in processes


async def test_the_same_event_sent_concurrently_acts_once(workers: Router, linked: Database) -> None:
    await workers.handle_async(telegram("702", "whoami"))  # both workers up
    answers = await asyncio.gather(*(workers.handle_async(telegram("702", "whoami", event_id="ev-1"))
                                     for _ in range(6)))
    assert sum(1 for replies in answers if replies) == 1
    with linked.uow() as uow:
        assert uow.session.scalar(select(func.count()).select_from(InboundEvent)
                                  .where(InboundEvent.event_id == "ev-1")) == 1


async def test_a_flood_from_one_user_is_limited_across_workers(linked: Database, settings: Settings) -> None:
    router = Router(linked, settings.model_copy(update={"COMMAND_WORKERS": 2, "RATE_LIMIT_BURST": 3,
                                                        "RATE_LIMIT_PER_SECOND": 0.01}))
    try:
        # One command first: the main process learns li's language from what the worker returns.
        answered = shown((await router.handle_async(telegram("701", "whoami")))[0])
        before = metrics.RATE_LIMITED.value("telegram")
        answers = await asyncio.gather(*(router.handle_async(telegram("701", "whoami")) for _ in range(12)))
        texts = [shown(replies[0]) for replies in answers if replies]
        assert len(texts) == 3  # burst of three (one spent above), one refusal, the rest dropped silently
        assert texts.count(answered) == 2
        refusals = [t for t in texts if t != answered]
        assert len(refusals) == 1 and "太快" in refusals[0]  # li reads Chinese
        assert metrics.RATE_LIMITED.value("telegram") - before == 10
        # Another user is not held back by li's flood.
        assert shown((await router.handle_async(telegram("702", "whoami")))[0])
    finally:
        await router.aclose()


async def test_a_worker_killed_mid_command_gets_a_polite_reply_then_the_next_works(
        linked: Database, settings: Settings) -> None:
    workers = Router(linked, settings.model_copy(update={"COMMAND_WORKERS": 1}))
    try:
        await killed_mid_command(workers, linked)
    finally:
        await workers.aclose()


async def killed_mid_command(workers: Router, linked: Database) -> None:
    assert await workers.handle_async(telegram("701", "whoami"))
    restarts = metrics.WORKER_RESTARTS.value()
    # Hold the event's row (uncommitted) so the worker's command waits inside its transaction.
    with linked.engine.connect() as blocker:
        blocker.execute(text("INSERT INTO inbound_events (platform, event_id, received_at) "
                             "VALUES ('telegram', 'ev-kill', :now)"), {"now": utcnow()})
        pending = asyncio.ensure_future(workers.handle_async(telegram("701", "whoami", event_id="ev-kill")))
        await asyncio.sleep(0.8)
        assert not pending.done()
        [pid] = workers.worker_pids()
        os.kill(pid, signal.SIGKILL)
        blocker.rollback()  # (on SQLite the main process's locale lookup would wait for this lock)
        replies = await asyncio.wait_for(pending, 30)
    assert len(replies) == 1
    assert "Traceback" not in replies[0].text
    assert replies[0].locale == "zh"  # li's own language, read by the main process
    assert metrics.WORKER_RESTARTS.value() == restarts + 1
    assert metrics.COMMANDS.value("whoami", "internal") >= 1
    after = await workers.handle_async(telegram("701", "whoami"))
    assert after and after[0].locale == "zh" and after[0].text != replies[0].text
    again = await workers.handle_async(replace(telegram("702", "whoami"), event_id="ev-after"))
    assert again and again[0].locale == "en"


async def test_metrics_count_commands_run_in_workers(workers: Router) -> None:
    ok_before = metrics.COMMANDS.value("whoami", "ok")
    unknown_before = metrics.COMMANDS.value("(unknown)", "unknown")
    await asyncio.gather(*(workers.handle_async(telegram("702", "whoami")) for _ in range(5)))
    await workers.handle_async(telegram("702", "zzzz"))
    assert metrics.COMMANDS.value("whoami", "ok") - ok_before == 5
    assert metrics.COMMANDS.value("(unknown)", "unknown") - unknown_before == 1
    assert metrics.COMMAND_LATENCY.count("whoami", "ok") >= 5
    assert "fieldcrm_commands_total" in metrics.exposition(None)


async def test_workers_yield_the_cpu_to_the_process_that_acks(workers: Router) -> None:
    assert await workers.handle_async(telegram("702", "whoami"))
    pids = workers.worker_pids()
    assert pids
    mine = os.getpriority(os.PRIO_PROCESS, 0)
    assert all(os.getpriority(os.PRIO_PROCESS, pid) == min(19, mine + WORKER_NICENESS) for pid in pids)


async def test_a_stop_signal_to_the_process_group_leaves_stopping_the_workers_to_the_bot(workers: Router) -> None:
    assert await workers.handle_async(telegram("702", "whoami"))
    pids = workers.worker_pids()
    for pid in pids:
        os.kill(pid, signal.SIGTERM)  # what systemd and Ctrl-C send to every process of the bot
        os.kill(pid, signal.SIGINT)
    await asyncio.sleep(0.3)
    assert await workers.handle_async(telegram("702", "whoami"))
    assert workers.worker_pids() == pids  # still the same workers, until the bot stops them
