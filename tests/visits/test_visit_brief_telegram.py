"""The brief a visit starts with, and customer care, through the real python-telegram-bot code
against the fake Bot API, on PostgreSQL. Li (Chinese, Asia/Shanghai) keeps West Lake Tea (c1): a
visit there, an open deal and a won one half paid, and contacts with birthdays he sets himself
(`/customer 1 contact NAME --birthday MM-DD --language en`). The care job, run by two processes at
once, sends him one reminder the day before a birthday or the Spring Festival, in his language,
with the greeting in the customer's."""
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from bot.jobs.care import send_care
from db.models import Contact, NudgeLog
from db.session import Database
from tests.conftest import load_demo_org
from tests.platforms.telegram_chat import LI, Chat, ShanghaiClock, running_chat
from tests.visits.test_visits import add_records

START = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)  # Tuesday 1 December, 10:00 in Shanghai


def contacts_of(chat: Chat) -> list[Contact]:
    with chat.db.uow() as uow:
        return list(uow.session.scalars(select(Contact).order_by(Contact.id)))


@pytest.fixture
async def chat(pg_db: Database) -> AsyncIterator[Chat]:
    load_demo_org(pg_db)
    records = add_records(pg_db)
    async with running_chat(pg_db, ShanghaiClock(START), {LI: "li"}) as chat:
        chat.records.update(records)
        yield chat


def brief_lines(answer: str) -> list[str]:
    """The answer's lines between the visit's number and the ask for a location."""
    lines = [re.sub(r"<[^>]+>", "", line) for line in answer.splitlines() if line.strip()]
    start = next(i for i, line in enumerate(lines) if line.startswith(("Visit:", "拜访:"))) + 1
    return lines[start:-1]


async def test_the_brief_shows_last_visit_open_deal_unpaid_and_a_near_birthday_in_both_languages(chat: Chat):
    tea = chat.records["tea"]
    first = await chat.say(f"/visit c{tea}")
    assert brief_lines(first) == []  # nothing known yet: no brief at all
    await chat.say("/visit end 对方要报价单,下次带样品")
    assert "#" in await chat.say(f"/newdeal c{tea} 50000 设备")
    await chat.say(f"/newdeal c{tea} 30000 耗材")
    await chat.say("/win 2")
    await chat.say("/paid 2 10000")
    added = await chat.say(f"/customer {tea} contact 王丽 --birthday 12-05 --language zh")
    assert "已添加联系人" in added and "12-05" in added
    await chat.say(f"/customer {tea} contact Bob Lee --birthday 01-01")
    shown = await chat.say(f"/customer {tea}")
    assert "王丽 · 生日 12-05 · 中文" in shown and "Bob Lee · 生日 01-01" in shown

    chat.clock.at("2026-12-02 10:00")
    zh = brief_lines(await chat.say(f"/visit c{tea}"))
    assert zh == ["上次拜访 2026-12-01:对方要报价单,下次带样品",
                  "进行中的商机:#1 初步沟通 50,000.00 CNY · 待回款:20,000.00 CNY",
                  "王丽 的生日在 3 天后(12-05)"]
    await chat.say("/visit end")
    await chat.say("/lang en")
    en = brief_lines(await chat.say(f"/visit c{tea}"))
    assert en == ["Last visit 2026-12-02",
                  "Open deal: #1 initial contact 50,000.00 CNY · Unpaid: 20,000.00 CNY",
                  "王丽's birthday in 3 days (12-05)"]
    assert "Bob Lee" not in "\n".join(en)  # 30 days off


async def test_a_lead_brief_shows_its_last_follow_up(chat: Chat):
    lead = chat.records["lead"]
    await chat.say(f"/follow {lead} 老板出差,月底再约")
    await chat.say("/lang en")
    lines = brief_lines(await chat.say(f"/visit l{lead}"))
    assert lines == ["Last follow-up 2026-12-01: 老板出差,月底再约"]


async def test_the_day_before_a_birthday_the_owner_gets_one_reminder_with_the_customers_greeting(chat: Chat):
    tea = chat.records["tea"]
    await chat.say(f"/customer {tea} contact Wang Li --birthday 12-09 --language en")
    chat.clock.at("2026-12-08 08:55")
    chat.run_job_in_two_processes(send_care, timedelta(minutes=15))
    assert await chat.delivered() == []  # before 09:00 on his clock
    chat.clock.at("2026-12-08 09:00")
    chat.run_job_in_two_processes(send_care, timedelta(minutes=15))
    [sent] = await chat.delivered()
    assert "明天是 Wang Li(West Lake Tea,c1)的生日" in sent  # Li reads Chinese
    assert "Happy birthday, Wang Li!" in sent  # the customer is greeted in English
    chat.clock.at("2026-12-08 15:00")
    chat.run_job_in_two_processes(send_care, timedelta(minutes=15))
    assert await chat.delivered() == []  # once a day
    with chat.db.uow() as uow:
        assert uow.session.scalar(select(func.count()).select_from(NudgeLog).where(NudgeLog.kind == "care")) == 1


async def test_no_care_reminder_when_nudges_are_off(chat: Chat):
    await chat.say(f"/customer {chat.records['tea']} contact Wang Li --birthday 12-09")
    await chat.say("/nudges off")
    chat.clock.at("2026-12-08 09:30")
    chat.run_job_in_two_processes(send_care, timedelta(minutes=15))
    assert await chat.delivered() == []


async def test_spring_festival_eve_greets_a_chinese_customer(chat: Chat):
    await chat.say(f"/customer {chat.records['foods']} contact 陈总 --language zh")
    chat.clock.at("2027-02-04 09:00")  # the eve of New Year's Eve: nothing to greet tomorrow
    chat.run_job_in_two_processes(send_care, timedelta(minutes=15))
    assert await chat.delivered() == []
    chat.clock.at("2027-02-05 09:00")  # 2027-02-06 is the Spring Festival
    chat.run_job_in_two_processes(send_care, timedelta(minutes=15))
    [sent] = await chat.delivered()
    assert "明天是春节,客户:Shanghai Foods" in sent and "新春快乐" in sent
    assert "West Lake Tea" not in sent  # no contact: the company's language (en) keeps no Spring Festival


@pytest.mark.parametrize("value", ["02-30", "abc", "13-01"])
async def test_a_bad_birthday_is_refused_and_nothing_is_written(chat: Chat, value: str):
    answer = await chat.say(f"/customer {chat.records['tea']} contact 王丽 --birthday {value}")
    assert f"“{value}”不是有效的生日" in answer and "未做任何修改" in answer
    assert contacts_of(chat) == []


async def test_a_bad_language_is_refused(chat: Chat):
    answer = await chat.say(f"/customer {chat.records['tea']} contact 王丽 --language fr")
    assert "问候语言只能是 en, zh" in answer
    assert contacts_of(chat) == []


async def test_someone_elses_customer_reads_like_a_missing_one(chat: Chat):
    diner = chat.records["diner"]
    theirs = await chat.say(f"/customer {diner} contact Bob --birthday 03-15")
    missing = await chat.say("/customer 999999 contact Bob --birthday 03-15")
    assert theirs.replace(str(diner), "N") == missing.replace("999999", "N")
    assert contacts_of(chat) == []
