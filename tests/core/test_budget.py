"""The send budget: one set of rate windows per bot account, shared through the database by every
process; answers before posts; a 429 stops only what it names."""
import asyncio
import time

import pytest
from sqlalchemy import text

from bot.budget import Budget, BudgetStore, Limit
from db.session import Database
from db.watchdog import deadline

ALL = Limit("fake:bot", 5, 1.0, reserve=2, shared=True)


def chat(name: str, count: int = 100, period: float = 1.0, reserve: int = 0) -> Limit:
    return Limit(f"fake:bot:{name}", count, period, reserve=reserve)


async def take(budget: Budget, limits: list[Limit], urgent: bool, log: list, label: str) -> None:
    async with budget.slot(limits, urgent):
        log.append((label, time.monotonic()))


def most_in_any_window(stamps: list[float], period: float) -> int:
    stamps = sorted(stamps)
    return max(sum(1 for t in stamps[i:] if t - start < period) for i, start in enumerate(stamps))


async def test_a_window_never_holds_more_than_its_limit(db: Database):
    budget, log = Budget(BudgetStore(db)), []
    await asyncio.gather(*(take(budget, [ALL, chat(f"c{i}")], False, log, f"post {i}") for i in range(12)))
    assert len(log) == 12
    assert most_in_any_window([t for _, t in log], 1.0) <= 5


async def test_an_answer_goes_before_posts_that_were_waiting(db: Database):
    budget, log = Budget(BudgetStore(db)), []
    posts = [asyncio.create_task(take(budget, [ALL, chat(f"c{i}")], False, log, f"post {i}")) for i in range(12)]
    await asyncio.sleep(0.3)  # five posts went at once; seven are waiting for the window
    waiting = 12 - len(log)
    asked = time.monotonic()
    await take(budget, [ALL, chat("person")], True, log, "answer")
    answered = dict(log)["answer"] - asked
    await asyncio.gather(*posts)
    order = [label for label, _ in log]
    assert waiting == 7 and order.index("answer") == 5, order  # the first slot that came free
    assert answered < 1.0
    assert most_in_any_window([t for _, t in log], 1.0) <= 5


@pytest.mark.serial
async def test_posts_leave_the_reserve_free_while_people_are_being_answered(db: Database):
    budget, log = Budget(BudgetStore(db)), []
    await take(budget, [ALL, chat("person")], True, log, "answer")
    posts = [asyncio.create_task(take(budget, [ALL, chat(f"c{i}")], False, log, f"post {i}")) for i in range(6)]
    await asyncio.sleep(0.3)
    # Posts take 5 - reserve 2: the answer already sent used one of the reserve, not a post's slot.
    assert [label for label, _ in log] == ["answer", "post 0", "post 1", "post 2"]
    started = time.monotonic()
    await take(budget, [ALL, chat("person 2")], True, log, "second answer")
    assert time.monotonic() - started < 0.3, "the reserve was there for the next answer"
    await asyncio.sleep(0.3)
    assert len(log) == 5, "the window is full: the other posts wait for it"
    for post in posts:
        post.cancel()
    await asyncio.gather(*posts, return_exceptions=True)


@pytest.mark.serial
async def test_a_blocked_chat_waits_alone(db: Database):
    budget = Budget(BudgetStore(db))
    await budget.block(chat("refusing").key, 0.6)
    started, log = time.monotonic(), []
    refusing = asyncio.create_task(take(budget, [ALL, chat("refusing")], False, log, "refusing"))
    await take(budget, [ALL, chat("other")], False, log, "other")
    assert time.monotonic() - started < 0.3
    await refusing
    assert dict(log)["refusing"] - started >= 0.55


async def test_a_slot_counts_from_the_platforms_answer(db: Database):
    budget, arrived = Budget(BudgetStore(db)), []
    window = [chat("slow", count=1, period=0.4)]

    async def send(delay: float) -> None:
        async with budget.slot(window, False):
            await asyncio.sleep(delay)  # the request is on its way; the platform counts it on arrival
            arrived.append(time.monotonic())

    await asyncio.gather(send(0.3), send(0.0))
    assert arrived[1] - arrived[0] >= 0.39


@pytest.mark.pg_only
async def test_processes_share_one_budget(pg_db: Database):
    """Two budgets, each with its own store and connection pool: two processes' worth."""
    other = Database(pg_db.url)
    try:
        first, second, log = Budget(BudgetStore(pg_db)), Budget(BudgetStore(other)), []
        await asyncio.gather(*(take(budget, [ALL, chat(f"c{i}")], False, log, f"post {i}")
                               for i, budget in enumerate([first, second] * 6)))
        assert len(log) == 12 and most_in_any_window([t for _, t in log], 1.0) <= 5
    finally:
        other.dispose()


async def test_without_the_database_each_process_keeps_the_limits_alone(tmp_path):
    broken = Database(f"sqlite:///{tmp_path / 'missing-dir' / 'crm.sqlite3'}")
    budget, log = Budget(BudgetStore(broken)), []
    started = time.monotonic()
    await asyncio.gather(*(take(budget, [chat("c", count=1, period=0.2)], True, log, str(i)) for i in range(3)))
    assert len(log) == 3 and time.monotonic() - started >= 0.4
    broken.dispose()


@pytest.mark.pg_only
@pytest.mark.serial
def test_a_post_told_to_wait_is_told_without_waiting_for_the_accounts_row(db: Database):
    # Posts are refused more often than granted in a fan-out; a refusal must not queue for the row
    # an answer is holding (nor write it).
    store = BudgetStore(db)
    for i in range(5):
        assert store.attempt([ALL, chat(f"c{i}")], False).stamp is not None
    with db.engine.connect() as answer:
        answer.execute(text("SELECT 1 FROM send_budget WHERE key = :key FOR UPDATE"), {"key": ALL.key})
        started = time.monotonic()
        with deadline(2.0):
            verdict = store.attempt([ALL, chat("c0")], False)
        assert time.monotonic() - started < 0.5
    assert verdict.stamp is None and 0 < verdict.wait_shared <= 1.0
