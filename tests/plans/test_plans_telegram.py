"""The rep's plan through the real python-telegram-bot code against the fake Bot API, on PostgreSQL.
Li (Chinese, Asia/Shanghai; the demo org) last stood, verified, at People's Square; his customers lie
around Shanghai, one without a place. Monday 7 December 2026."""
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from bot.jobs.plans import push_morning_plans
from bot.services.deals import holidays
from db.base import utcnow
from db.models import Customer, PlannedVisit, Visit
from db.session import Database
from tests.conftest import load_demo_org
from tests.plans.test_routes import JINGAN_TEMPLE, LUJIAZUI, PEOPLES_SQUARE, XUJIAHUI
from tests.platforms.telegram_chat import LI, Chat, ShanghaiClock, running_chat
from tests.visits.test_visits import user_id

MEI, SAM = 556, 557
MONDAY_8AM = datetime(2026, 12, 7, 0, 0, tzinfo=UTC)  # 08:00 in Shanghai


def planned_of(chat: Chat) -> list[PlannedVisit]:
    with chat.db.uow() as uow:
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
    load_demo_org(pg_db)
    ids = add_customers(pg_db)
    async with running_chat(pg_db, ShanghaiClock(MONDAY_8AM), {LI: "li", MEI: "mei", SAM: "sam"}) as chat:
        chat.records.update(ids)
        yield chat


def lines_with(text: str, *names: str) -> list[str]:
    return [line for line in text.splitlines() if any(name in line for name in names)]


async def test_a_chinese_plan_for_tomorrow_in_route_order_with_distance_and_buttons(chat: Chat):
    ids = chat.records
    answer = await chat.say(f"/plan add c{ids['xujiahui']} 明天上午10点")
    assert "已加入计划" in answer and "Xujiahui Books" in answer and "12月8日" in answer and "10:00" in answer
    await chat.say(f"/plan add c{ids['lujiazui']} 明天")
    plan, buttons = await chat.say_with_buttons("/plan tomorrow")
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
    ids = chat.records
    await chat.say("/lang en")
    answer = await chat.say(f"/plan add c{ids['lujiazui']} tomorrow 10:00")
    assert "Planned: Lujiazui Tea" in answer and "Tue 8 Dec" in answer and "10:00" in answer
    plan, buttons = await chat.say_with_buttons("/plan tomorrow")
    assert "Your plan for tomorrow" in plan
    [first] = lines_with(plan, "Lujiazui")
    assert first.startswith("1. Lujiazui Tea") and "at 10:00" in first and "planned" in first and "2.7 km" in first
    assert "km in straight lines (not by road) from your last trusted position" in plan
    assert "nearest neighbour, then 2-opt" in plan and "no location" in plan
    assert buttons["▶ 1. Lujiazui Tea"] == f"visit c{ids['lujiazui']}"
    dropped = await chat.say(f"/plan drop c{ids['lujiazui']}")
    assert "Dropped from your plan: Lujiazui Tea" in dropped
    [row] = planned_of(chat)
    assert row.dropped_at is not None  # marked, kept
    [again] = lines_with(await chat.say("/plan tomorrow"), "Lujiazui")
    assert "due a visit" in again and "planned" not in again
    assert "is not in your plan" in await chat.say(f"/plan drop c{ids['lujiazui']}")


async def test_an_iso_date_and_a_past_date(chat: Chat):
    await chat.say("/lang en")
    assert "Wed 9 Dec" in await chat.say(f"/plan add c{chat.records['jingan']} 2026-12-09 14:30")
    week = await chat.say("/plan week")
    assert "Your plan for the coming week" in week and "Mon 7 Dec" in week and "Wed 9 Dec" in week
    assert "Tue 8 Dec" not in week  # a day with nothing is left out
    [planned] = [line for line in week.split("Wed 9 Dec")[1].splitlines() if "Jingan" in line]
    assert planned.startswith("1. Jingan Foods") and "at 14:30 · planned" in planned
    for words in ("2026-12-01", "yesterday", "07:00", "昨天"):
        answer = await chat.say(f"/plan add c{chat.records['jingan']} {words}")
        assert "has passed" in answer and "Nothing was planned" in answer
    assert len(planned_of(chat)) == 1


async def test_a_customer_out_of_scope_reads_like_a_missing_one(chat: Chat):
    sams = chat.records["sams"]
    theirs = await chat.say(f"/plan add c{sams} 明天")
    missing = await chat.say("/plan add c99999 明天")
    assert theirs.replace(str(sams), "N") == missing.replace("99999", "N")
    assert "Sam" not in theirs and planned_of(chat) == []


async def test_a_manager_sees_a_reps_plan_within_his_scope_only(chat: Chat):
    plan = await chat.say("/plan li", who=MEI)
    assert "李雷 Li Lei" in plan and "Lujiazui Tea" in plan
    refused = await chat.say("/plan li", who=SAM)
    missing = await chat.say("/plan nobody", who=SAM)
    assert refused.replace("li", "X") == missing.replace("nobody", "X")
    assert "Lujiazui" not in refused


async def test_the_morning_message_comes_once_at_0830_on_working_days(chat: Chat):
    chat.clock.at("2026-12-07 08:25")
    chat.run_job_in_two_processes(push_morning_plans, timedelta(minutes=5))
    assert await chat.delivered_with_buttons() == []
    chat.clock.at("2026-12-07 08:30")
    chat.run_job_in_two_processes(push_morning_plans, timedelta(minutes=5))
    [(text, buttons)] = await chat.delivered_with_buttons()
    assert "早上好" in text and "今天的计划" in text and "Lujiazui Tea" in text and "直线距离共" in text
    assert buttons["▶ 1. Lujiazui Tea"] == f"visit c{chat.records['lujiazui']}"
    chat.clock.at("2026-12-07 08:35")
    chat.run_job_in_two_processes(push_morning_plans, timedelta(minutes=5))
    assert await chat.delivered_with_buttons() == []
    chat.clock.at("2026-12-12 08:30")  # Saturday
    chat.run_job_in_two_processes(push_morning_plans, timedelta(minutes=5))
    assert await chat.delivered_with_buttons() == []
    with chat.db.uow() as uow:
        holidays.apply(uow, {date(2026, 12, 14): "Company day"}, utcnow())
        uow.commit()
    chat.clock.at("2026-12-14 08:30")  # a company holiday
    chat.run_job_in_two_processes(push_morning_plans, timedelta(minutes=5))
    assert await chat.delivered_with_buttons() == []


async def test_the_morning_message_can_be_moved_or_turned_off(chat: Chat):
    assert "不再发送" in await chat.say("/plan morning off")
    chat.clock.at("2026-12-07 08:30")
    chat.run_job_in_two_processes(push_morning_plans, timedelta(minutes=5))
    assert await chat.delivered_with_buttons() == []
    assert "09:15" in await chat.say("/plan morning 09:15")
    chat.clock.at("2026-12-08 08:30")
    chat.run_job_in_two_processes(push_morning_plans, timedelta(minutes=5))
    assert await chat.delivered_with_buttons() == []
    chat.clock.at("2026-12-08 09:15")
    chat.run_job_in_two_processes(push_morning_plans, timedelta(minutes=5))
    assert len(await chat.delivered_with_buttons()) == 1
    assert "不是有效设置" in await chat.say("/plan morning sometimes")


async def test_help_lists_plan(chat: Chat):
    assert "/plan" in await chat.say("/help")
