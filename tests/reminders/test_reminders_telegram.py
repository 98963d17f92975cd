"""Reminders through the real python-telegram-bot code against the fake Bot API, on PostgreSQL: Li
(Chinese, Asia/Shanghai) writes dates in his notes; the reminder job, run by two processes at once,
queues each due reminder once and the dispatcher sends it to his private chat at the local time."""
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from bot.jobs.reminders import send_reminders
from db.models import Deal, Lead, Reminder
from db.session import Database
from tests.conftest import load_demo_org
from tests.platforms.telegram_chat import LI, Chat, ShanghaiClock, running_chat
from tests.visits.test_visits import add_records, user_id

EVERY_MINUTE = timedelta(minutes=1)  # the reminders job's slot
START = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)  # Tuesday 1 December, 10:00 in Shanghai


def reminders_of(chat: Chat) -> list[Reminder]:
    with chat.db.uow() as uow:
        return list(uow.session.scalars(select(Reminder).order_by(Reminder.id)))


@pytest.fixture
async def chat(pg_db: Database) -> AsyncIterator[Chat]:
    load_demo_org(pg_db)
    records = add_records(pg_db)
    with pg_db.uow() as uow:
        other = Lead(company="Pudong Paper", name_key="pudongpaper", owner_id=user_id(pg_db, "sam"), status="pending")
        uow.session.add(other)
        uow.commit()
        records["sams_lead"] = other.id
    async with running_chat(pg_db, ShanghaiClock(START), {LI: "li"}) as chat:
        chat.records.update(records)
        yield chat


async def test_a_chinese_note_sets_a_reminder_sent_once_at_the_local_time(chat: Chat):
    lead = chat.records["lead"]
    answer = await chat.say(f"/follow {lead} 下周二下午三点回电")
    assert "已记录" in answer and "已设提醒" in answer and "12月8日 周二 15:00" in answer
    listed = await chat.say("/remind")
    assert "12月8日 周二 15:00" in listed and "下周二下午三点回电" in listed and "Bund Bakery" in listed

    chat.clock.at("2026-12-08 14:59")
    chat.run_job_in_two_processes(send_reminders, EVERY_MINUTE)
    assert await chat.delivered() == []
    chat.clock.at("2026-12-08 15:00")
    chat.run_job_in_two_processes(send_reminders, EVERY_MINUTE)
    [sent] = await chat.delivered()
    assert "提醒" in sent and "12月8日 周二 15:00" in sent and "下周二下午三点回电" in sent
    chat.clock.at("2026-12-08 15:01")
    chat.run_job_in_two_processes(send_reminders, EVERY_MINUTE)
    assert await chat.delivered() == []
    [reminder] = reminders_of(chat)
    assert reminder.sent_at is not None
    assert "没有待发的提醒" in await chat.say("/remind")


async def test_a_cancelled_reminder_is_not_sent(chat: Chat):
    await chat.say(f"/follow {chat.records['lead']} 明天上午10点再打")
    [reminder] = reminders_of(chat)
    assert f"已取消提醒 #{reminder.id}" in await chat.say(f"/remind cancel {reminder.id}")
    assert "已经取消" in await chat.say(f"/remind cancel {reminder.id}")
    chat.clock.at("2026-12-02 10:00")
    chat.run_job_in_two_processes(send_reminders, EVERY_MINUTE)
    assert await chat.delivered() == []
    [reminder] = reminders_of(chat)
    assert reminder.cancelled_at is not None and reminder.sent_at is None


async def test_an_ambiguous_time_is_asked_and_the_pressed_reading_is_set(chat: Chat):
    answer, buttons = await chat.say_with_buttons(f"/follow {chat.records['lead']} 明天7点回电")
    assert "可能是" in answer and "已记录" in answer
    assert list(buttons) == ["12月2日 周三 07:00", "12月2日 周三 19:00"]
    [reminder] = reminders_of(chat)
    assert reminder.due_at is None
    assert "12月2日 周三 19:00" in await chat.press(buttons["12月2日 周三 19:00"])
    [reminder] = reminders_of(chat)
    assert reminder.due_at == datetime(2026, 12, 2, 11, 0, tzinfo=UTC)


@pytest.mark.parametrize("note", ["昨天见过客户", "上午9点见过"])
async def test_a_date_in_the_past_is_said_and_nothing_is_set(chat: Chat, note: str):
    answer = await chat.say(f"/follow {chat.records['lead']} {note}")
    assert "已经过去了" in answer and "没有设提醒" in answer
    assert reminders_of(chat) == []


async def test_a_vague_week_asks_for_the_day(chat: Chat):
    answer = await chat.say(f"/follow {chat.records['lead']} 下周再联系")
    assert "没有说哪一天" in answer and reminders_of(chat) == []


async def test_money_is_offered_as_a_deal_never_applied(chat: Chat):
    lead = chat.records["lead"]
    answer, buttons = await chat.say_with_buttons(f"/follow {lead} 客户预算2万,下周三再谈")
    assert "20,000" in answer and buttons["记为商机 20,000"] == f"convert {lead} --deal 20000"
    with chat.db.uow() as uow:
        assert uow.session.scalar(select(func.count()).select_from(Deal)) == 0
        assert uow.session.get(Lead, lead).status == "following"


async def test_a_visit_end_note_sets_a_reminder_and_a_quantity_is_not_money(chat: Chat):
    await chat.say(f"/visit c{chat.records['tea']}")
    answer, buttons = await chat.say_with_buttons("/visit end 客户说三月底前要20台")
    assert "拜访结束" in answer and "已设提醒" in answer and "3月31日 周三 09:00" in answer
    assert not any(data.startswith(("convert", "newdeal")) for data in buttons.values())
    [reminder] = reminders_of(chat)
    assert reminder.customer_id == chat.records["tea"]


async def test_money_in_a_customer_visit_note_is_offered_as_a_new_deal(chat: Chat):
    tea = chat.records["tea"]
    await chat.say(f"/visit c{tea}")
    answer, buttons = await chat.say_with_buttons("/visit end 签了样品单,预算1.5w")
    assert "15,000" in answer and buttons["记为商机 15,000"] == f"newdeal c{tea} 15000"
    assert reminders_of(chat) == []
    with chat.db.uow() as uow:
        assert uow.session.scalar(select(func.count()).select_from(Deal)) == 0


async def test_someone_elses_lead_and_reminder_read_like_missing_ones(chat: Chat):
    sams = chat.records["sams_lead"]
    out_of_scope = await chat.say(f"/follow {sams} 下周二下午三点回电")
    missing = await chat.say("/follow 99999 下周二下午三点回电")
    assert out_of_scope.replace(str(sams), "N") == missing.replace("99999", "N")
    assert reminders_of(chat) == []
    with chat.db.uow() as uow:
        uow.session.add(Reminder(owner_id=user_id(chat.db, "sam"), note="Sam's own", words="tomorrow",
                                 timezone="Asia/Shanghai", due_at=START + timedelta(days=1), candidates=[]))
        uow.commit()
    sams_reminder = reminders_of(chat)[0].id
    theirs = await chat.say(f"/remind cancel {sams_reminder}")
    assert theirs.replace(str(sams_reminder), "N") == (await chat.say("/remind cancel 99999")).replace("99999", "N")
    assert "Sam's own" not in await chat.say("/remind")
    assert reminders_of(chat)[0].cancelled_at is None


async def test_help_lists_remind(chat: Chat):
    assert re.search(r"/remind .*我的提醒", await chat.say("/help"))
