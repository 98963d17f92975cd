"""The rep's day on Slack, through the real slack-bolt app against the fake Slack API on PostgreSQL:
the plan with its start-visit buttons, the morning message, a reminder from a note and a customer's
birthday reach Li in his own DM with the bot, once, spelled `/crm`, in Chinese (his language).
Monday 7 December 2026 in Shanghai."""
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from bot.delivery import Dispatcher
from bot.jobs.care import send_care
from bot.jobs.plans import push_morning_plans
from bot.jobs.reminders import send_reminders
from db.session import Database
from tests.conftest import load_demo_org
from tests.fakes.slack_api import Call, FakeSlackApi
from tests.plans.test_plans_telegram import MONDAY_8AM, add_customers
from tests.platforms.slack_harness import Slack, running_slack, slack_settings_for
from tests.platforms.telegram_chat import ShanghaiClock
from tests.platforms.test_first_week_slack import ANSWERS, POSTING, buttons, is_private, own_dm
from tests.platforms.test_slack import link

LI = "ULI"


@dataclass
class Day:
    db: Database
    slack: Slack
    clock: ShanghaiClock
    dispatcher: Dispatcher
    ids: dict[str, int]

    async def type(self, text: str) -> Call:
        """`/crm TEXT` typed by Li in his DM with the bot; the one answer Slack got."""
        before = len(self.slack.fake.calls)
        assert (await self.slack.command(text, LI, own_dm(LI))).status == 200
        await self.slack.front.drain()
        (answer,) = [c for c in self.slack.fake.calls[before:] if c.method in ANSWERS]
        return answer

    async def press(self, value: str) -> Call:
        before = len(self.slack.fake.calls)
        assert (await self.slack.click(value, LI, own_dm(LI))).status == 200
        await self.slack.front.drain()
        (answer,) = [c for c in self.slack.fake.calls[before:] if c.method in ANSWERS]
        return answer

    async def job(self, job, runs: int = 2) -> list[Call]:
        """A scheduled job fired `runs` times at the clock's time (as two processes would), then the
        dispatcher's round: what Slack got."""
        for _ in range(runs):
            job(self.db, self.clock(), self.slack.front.settings)
        before = len(self.slack.fake.calls)
        await self.dispatcher.deliver_due()
        return [c for c in self.slack.fake.calls[before:] if c.method in POSTING]


@pytest.fixture
async def day(pg_db: Database) -> AsyncIterator[Day]:
    load_demo_org(pg_db)
    ids = add_customers(pg_db)
    fake = await FakeSlackApi().start()
    clock = ShanghaiClock(MONDAY_8AM)
    settings = slack_settings_for(pg_db, fake, PUBLIC_BASE_URL="https://crm.example.com")
    try:
        async with running_slack(pg_db, settings, fake, clock) as slack:
            link(pg_db, "li", LI)
            yield Day(pg_db, slack, clock, Dispatcher(pg_db, {"slack": slack.front.sender}, clock=clock), ids)
    finally:
        await fake.stop()


async def test_the_plan_and_its_start_visit_button_on_slack(day: Day):
    added = await day.type(f"plan add c{day.ids['xujiahui']} 明天上午10点")
    assert "已加入计划" in added.text and "12月8日" in added.text
    plan = await day.type("plan tomorrow")
    assert is_private(plan) or plan.method == "response_url"
    assert "最近邻法" in plan.text and "2-opt" in plan.text
    shown = buttons(plan)
    assert shown["▶ 1. Lujiazui Tea"] == f"visit c{day.ids['lujiazui']}"
    started = await day.press(shown["▶ 1. Lujiazui Tea"])
    assert "Lujiazui Tea" in started.text
    # Slack cannot share a position in a message: the answer links the one-time check-in page
    assert any("/checkin/" in (url or "") for url in buttons(started).values())
    assert "/crm " in added.text + plan.text and " /plan" not in plan.text


async def test_the_morning_message_reaches_his_dm_once(day: Day):
    day.clock.at("2026-12-07 08:30")
    (morning,) = await day.job(push_morning_plans)
    assert (morning.method, morning.payload["channel"]) == ("chat.postMessage", own_dm(LI))
    assert "Lujiazui Tea" in morning.text and "/crm " in morning.text
    assert buttons(morning)["▶ 1. Lujiazui Tea"] == f"visit c{day.ids['lujiazui']}"
    day.clock.at("2026-12-07 09:30")
    assert await day.job(push_morning_plans) == []  # once a day, however often the job runs


async def test_a_reminder_from_a_visit_note_and_a_birthday_reach_his_dm(day: Day):
    await day.type(f"visit c{day.ids['jingan']}")
    ended = await day.type("visit end 客户要报价,明天上午10点回电")
    assert "已设提醒" in ended.text and "/crm remind" in ended.text
    added = await day.type(f"customer c{day.ids['jingan']} contact O'Neil --birthday 12-08 --language en")
    assert "O'Neil" in added.text
    day.clock.at("2026-12-07 09:15")
    (care,) = await day.job(send_care)
    assert care.payload["channel"] == own_dm(LI) and "O'Neil" in care.text and "Happy birthday" in care.text
    day.clock.at("2026-12-08 10:00")
    (reminder,) = await day.job(send_reminders)
    assert reminder.payload["channel"] == own_dm(LI)
    assert "Jingan Foods" in reminder.text and "明天上午10点回电" in reminder.text
