"""The rep's plan through the real python-telegram-bot code against the fake Bot API, on PostgreSQL.
Li (Chinese, Asia/Shanghai; the demo org) last stood, verified, at People's Square; his customers lie
around Shanghai, one without a place. Monday 7 December 2026."""
import html
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from bot.bootstrap import build_router
from bot.config import Settings
from bot.delivery import Dispatcher
from bot.jobs.plans import push_morning_plans
from bot.services.core import demo
from bot.services.deals import holidays
from db.base import utcnow
from db.models import Customer, PlannedVisit, PlatformIdentity, Visit
from db.session import Database
from tests.fakes.telegram_api import FakeTelegramAPI, callback_update, text_update
from tests.plans.test_routes import JINGAN_TEMPLE, LUJIAZUI, PEOPLES_SQUARE, XUJIAHUI
from tests.platforms.telegram_harness import TOKEN, WebhookBot, running_webhook, telegram_settings
from tests.visits.test_visits import user_id

LI, MEI, SAM = 555, 556, 557
MONDAY_8AM = datetime(2026, 12, 7, 0, 0, tzinfo=UTC)  # 08:00 in Shanghai


@dataclass
class Clock:
    now: datetime = MONDAY_8AM

    def __call__(self) -> datetime:
        return self.now

    def at(self, local: str) -> None:
        self.now = datetime.fromisoformat(local + "+08:00").astimezone(UTC)


@dataclass
class Chat:
    db: Database
    bot: WebhookBot
    clock: Clock
    settings: Settings
    dispatcher: Dispatcher
    ids: dict[str, int]

    def _sent(self, before: int) -> list[dict]:
        return [c.params for c in self.bot.api.calls[before:] if c.method == "sendMessage"]

    async def say(self, text: str, who: int = LI) -> tuple[str, dict[str, str]]:
        before = len(self.bot.api.calls)
        update = text_update(text, chat_id=who, user_id=who, date=int(self.clock.now.timestamp()))
        assert await self.bot.post(update) == 200
        sent = self._sent(before)
        buttons = {b["text"]: b["callback_data"] for p in sent
                   for row in (p.get("reply_markup") or {}).get("inline_keyboard", []) for b in row}
        return "\n".join(html.unescape(p["text"]) for p in sent), buttons

    async def text(self, text: str, who: int = LI) -> str:
        return (await self.say(text, who))[0]

    async def press(self, data: str) -> str:
        before = len(self.bot.api.calls)
        assert await self.bot.post(callback_update(data, chat_id=LI, user_id=LI)) == 200
        return "\n".join(html.unescape(p["text"]) for p in self._sent(before))

    def run_job_in_two_processes(self) -> None:
        """Two processes fire the morning job at once (this slot and the one before, as a late one would)."""
        slots = [self.clock.now, self.clock.now - timedelta(minutes=5)]
        barrier = threading.Barrier(len(slots))

        def process(slot: datetime) -> None:
            database = Database(self.db.url)
            barrier.wait()
            push_morning_plans(database, slot, self.settings)
            database.dispose()

        threads = [threading.Thread(target=process, args=(slot,)) for slot in slots]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    async def delivered(self) -> list[tuple[str, dict[str, str]]]:
        before = len(self.bot.api.calls)
        await self.dispatcher.deliver_due()
        return [(html.unescape(p["text"]), {b["text"]: b["callback_data"] for row in
                                           (p.get("reply_markup") or {}).get("inline_keyboard", []) for b in row})
                for p in self._sent(before) if str(p["chat_id"]) == str(LI)]

    def planned(self) -> list[PlannedVisit]:
        with self.db.uow() as uow:
            return list(uow.session.scalars(select(PlannedVisit).order_by(PlannedVisit.id)))


def add_customers(db: Database) -> dict[str, int]:
    li, sam = user_id(db, "li"), user_id(db, "sam")
    with db.uow() as uow:
        def customer(name: str, owner: int, place: tuple[float, float] | None) -> Customer:
            row = Customer(name=name, name_key=name.lower().replace(" ", ""), owner_id=owner,
                           latitude=place[0] if place else None, longitude=place[1] if place else None,
                           location_trust="trusted" if place else None,
                           # Tier C, never visited in his two months as a customer: due by its 30-day cadence.
                           tier="C", created_at=MONDAY_8AM - timedelta(days=60))
            uow.session.add(row)
            return row
        made = {"lujiazui": customer("Lujiazui Tea", li, LUJIAZUI), "jingan": customer("Jingan Foods", li, JINGAN_TEMPLE),
                "xujiahui": customer("Xujiahui Books", li, XUJIAHUI), "noplace": customer("Nowhere Trading", li, None),
                "sams": customer("Sam's Diner", sam, PEOPLES_SQUARE)}
        uow.session.add(Visit(user_id=li, kind="checkin", status="closed", latitude=PEOPLES_SQUARE[0],
                              longitude=PEOPLES_SQUARE[1], taken_at=MONDAY_8AM - timedelta(days=3),
                              started_at=MONDAY_8AM - timedelta(days=3), verdict="verified", counts=True))
        uow.commit()
        return {key: row.id for key, row in made.items()}


@pytest.fixture
async def chat(pg_db: Database) -> AsyncIterator[Chat]:
    with pg_db.uow() as uow:
        demo.load_demo(uow, utcnow())
        uow.commit()
    ids = add_customers(pg_db)
    with pg_db.uow() as uow:
        for telegram_id, handle in ((LI, "li"), (MEI, "mei"), (SAM, "sam")):
            uow.session.add(PlatformIdentity(platform="telegram", workspace="123", platform_user_id=str(telegram_id),
                                             dm_chat_id=str(telegram_id), user_id=user_id(pg_db, handle)))
        uow.commit()
    api = await FakeTelegramAPI(token=TOKEN).start()
    clock = Clock()
    settings = telegram_settings(pg_db, api, webhook=True)
    router = build_router(pg_db, settings, clock=clock)
    try:
        async with running_webhook(pg_db, router, api) as bot:
            yield Chat(pg_db, bot, clock, settings, Dispatcher(pg_db, {"telegram": bot.front_end.sender}, clock=clock),
                       ids)
    finally:
        await api.close()


def lines_with(text: str, *names: str) -> list[str]:
    return [line for line in text.splitlines() if any(name in line for name in names)]


async def test_a_chinese_plan_for_tomorrow_in_route_order_with_distance_and_buttons(chat: Chat):
    ids = chat.ids
    answer = await chat.text(f"/plan add c{ids['xujiahui']} 明天上午10点")
    assert "已加入计划" in answer and "Xujiahui Books" in answer and "12月8日" in answer and "10:00" in answer
    await chat.text(f"/plan add c{ids['lujiazui']} 明天")
    plan, buttons = await chat.say("/plan tomorrow")
    stops = lines_with(plan, "Lujiazui", "Jingan", "Xujiahui", "Nowhere")
    assert [line.split(".")[0] for line in stops] == ["1", "2", "3", "4"]
    assert "Lujiazui Tea" in stops[0] and "已安排" in stops[0] and "2.7 公里" in stops[0]
    assert "Jingan Foods" in stops[1] and "该拜访了" in stops[1]
    assert "Xujiahui Books" in stops[2] and "10:00" in stops[2]
    assert "Nowhere Trading" in stops[3] and "无位置" in stops[3]
    assert "直线距离共" in plan and "最近邻法" in plan and "2-opt" in plan and "1 个地点没有位置" in plan
    assert buttons["▶ 1. Lujiazui Tea"] == f"visit c{ids['lujiazui']}"
    assert buttons["▶ 4. Nowhere Trading"] == f"visit c{ids['noplace']}"
    assert "拜访" in await chat.press(buttons["▶ 1. Lujiazui Tea"])


async def test_an_english_plan_and_dropping_a_visit(chat: Chat):
    ids = chat.ids
    await chat.text("/lang en")
    answer = await chat.text(f"/plan add c{ids['lujiazui']} tomorrow 10:00")
    assert "Planned: Lujiazui Tea" in answer and "Tue 8 Dec" in answer and "10:00" in answer
    plan, buttons = await chat.say("/plan tomorrow")
    assert "Your plan for tomorrow" in plan
    [first] = lines_with(plan, "Lujiazui")
    assert first.startswith("1. Lujiazui Tea") and "at 10:00" in first and "planned" in first and "2.7 km" in first
    assert "km in straight lines (not by road) from your last trusted position" in plan
    assert "nearest neighbour, then 2-opt" in plan and "no location" in plan
    assert buttons["▶ 1. Lujiazui Tea"] == f"visit c{ids['lujiazui']}"
    dropped = await chat.text(f"/plan drop c{ids['lujiazui']}")
    assert "Dropped from your plan: Lujiazui Tea" in dropped
    [row] = chat.planned()
    assert row.dropped_at is not None  # marked, kept
    [again] = lines_with(await chat.text("/plan tomorrow"), "Lujiazui")
    assert "due a visit" in again and "planned" not in again
    assert "is not in your plan" in await chat.text(f"/plan drop c{ids['lujiazui']}")


async def test_an_iso_date_and_a_past_date(chat: Chat):
    await chat.text("/lang en")
    assert "Wed 9 Dec" in await chat.text(f"/plan add c{chat.ids['jingan']} 2026-12-09 14:30")
    week = await chat.text("/plan week")
    assert "Your plan for the coming week" in week and "Mon 7 Dec" in week and "Wed 9 Dec" in week
    assert "Tue 8 Dec" not in week  # a day with nothing is left out
    [planned] = [line for line in week.split("Wed 9 Dec")[1].splitlines() if "Jingan" in line]
    assert planned.startswith("1. Jingan Foods") and "at 14:30 · planned" in planned
    for words in ("2026-12-01", "yesterday", "07:00", "昨天"):
        answer = await chat.text(f"/plan add c{chat.ids['jingan']} {words}")
        assert "has passed" in answer and "Nothing was planned" in answer
    assert len(chat.planned()) == 1


async def test_a_customer_out_of_scope_reads_like_a_missing_one(chat: Chat):
    sams = chat.ids["sams"]
    theirs = await chat.text(f"/plan add c{sams} 明天")
    missing = await chat.text("/plan add c99999 明天")
    assert theirs.replace(str(sams), "N") == missing.replace("99999", "N")
    assert "Sam" not in theirs and chat.planned() == []


async def test_a_manager_sees_a_reps_plan_within_his_scope_only(chat: Chat):
    plan = await chat.text("/plan li", who=MEI)
    assert "李雷 Li Lei" in plan and "Lujiazui Tea" in plan
    refused = await chat.text("/plan li", who=SAM)
    missing = await chat.text("/plan nobody", who=SAM)
    assert refused.replace("li", "X") == missing.replace("nobody", "X")
    assert "Lujiazui" not in refused


async def test_the_morning_message_comes_once_at_0830_on_working_days(chat: Chat):
    chat.clock.at("2026-12-07 08:25")
    chat.run_job_in_two_processes()
    assert await chat.delivered() == []
    chat.clock.at("2026-12-07 08:30")
    chat.run_job_in_two_processes()
    [(text, buttons)] = await chat.delivered()
    assert "早上好" in text and "今天的计划" in text and "Lujiazui Tea" in text and "直线距离共" in text
    assert buttons["▶ 1. Lujiazui Tea"] == f"visit c{chat.ids['lujiazui']}"
    chat.clock.at("2026-12-07 08:35")
    chat.run_job_in_two_processes()
    assert await chat.delivered() == []
    chat.clock.at("2026-12-12 08:30")  # Saturday
    chat.run_job_in_two_processes()
    assert await chat.delivered() == []
    with chat.db.uow() as uow:
        holidays.apply(uow, {date(2026, 12, 14): "Company day"}, utcnow())
        uow.commit()
    chat.clock.at("2026-12-14 08:30")  # a company holiday
    chat.run_job_in_two_processes()
    assert await chat.delivered() == []


async def test_the_morning_message_can_be_moved_or_turned_off(chat: Chat):
    assert "不再发送" in await chat.text("/plan morning off")
    chat.clock.at("2026-12-07 08:30")
    chat.run_job_in_two_processes()
    assert await chat.delivered() == []
    assert "09:15" in await chat.text("/plan morning 09:15")
    chat.clock.at("2026-12-08 08:30")
    chat.run_job_in_two_processes()
    assert await chat.delivered() == []
    chat.clock.at("2026-12-08 09:15")
    chat.run_job_in_two_processes()
    assert len(await chat.delivered()) == 1
    assert "不是有效设置" in await chat.text("/plan morning sometimes")


async def test_help_lists_plan(chat: Chat):
    assert "/plan" in await chat.text("/help")
