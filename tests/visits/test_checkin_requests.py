"""Slack reps give /nearby and /setloc their position with the one-time check-in page: the link names
the waiting request, the page's position answers it as a chat location would. Through the real
slack-bolt app against the fake Slack API, the page opened over HTTP, the outbox dispatcher with the
Slack sender; on SQLite and PostgreSQL. Around People's Square, Shanghai; Li works in Chinese."""
import base64
import hashlib
import hmac
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from bot.delivery import Dispatcher
from bot.services.leads.imports import import_leads
from bot.services.visits import checkin_links
from db.base import utcnow
from db.models import AuditEntry, Customer, CustomerLocationRequest, Lead, OutboxMessage, Visit
from db.models.visit import UsedCheckinLink
from db.session import Database
from tests.core.test_org_file_settings import load
from tests.fakes.slack_api import Call, FakeSlackApi
from tests.platforms.first_week import page_text
from tests.platforms.slack_harness import Slack, running_slack, slack_settings_for
from tests.platforms.test_first_week_slack import ANSWERS, POSTING, buttons
from tests.platforms.test_slack import link
from tests.visits.test_nearby import POOLS, SQUARE_LAT, SQUARE_LON, add_customer, lead_id
from tests.visits.test_visits import START, Clock, user_id

LI, SAM = "ULI", "USAM"
LI_DM = "DULI"
SECRET_KEY = "test-secret"  # slack_settings_for's
LEADS = "company,phone,lat,lon\nSquare Noodles,13800000001,31.2324,121.4737\n"  # 222 m north


@dataclass
class Rep:
    db: Database
    slack: Slack
    clock: Clock
    dispatcher: Dispatcher

    async def type(self, text: str, user: str = LI) -> Call:
        """`/crm TEXT` typed in his DM with the bot; the one answer Slack got."""
        before = len(self.slack.fake.calls)
        assert (await self.slack.command(text, user, f"D{user}")).status == 200
        await self.slack.front.drain()
        (answer,) = [c for c in self.slack.fake.calls[before:] if c.method in ANSWERS]
        return answer

    async def press(self, value: str) -> Call:
        before = len(self.slack.fake.calls)
        assert (await self.slack.click(value, LI, LI_DM)).status == 200
        await self.slack.front.drain()
        (answer,) = [c for c in self.slack.fake.calls[before:] if c.method in ANSWERS]
        return answer

    async def open(self, path: str) -> tuple[int, str]:
        async with self.slack.http.get(self.slack.base + path) as response:
            return response.status, page_text(await response.text())

    async def post(self, path: str, **position: str) -> tuple[int, str]:
        """The page's form, as the phone posts it (the fix taken just now)."""
        form = {"age_ms": "0", **position}
        async with self.slack.http.post(self.slack.base + path, data=form) as response:
            return response.status, page_text(await response.text())

    async def dispatch(self) -> list[Call]:
        """The dispatcher's round a minute later (the outbox dates its posts by the real clock)."""
        self.clock.advance(minutes=1)
        before = len(self.slack.fake.calls)
        await self.dispatcher.deliver_due()
        return [c for c in self.slack.fake.calls[before:] if c.method in POSTING]


def page_path(answer: Call) -> str:
    """The check-in page the answer's button opens."""
    (url,) = [u for u in buttons(answer).values() if u and "/checkin/" in u]
    return "/checkin/" + url.split("/checkin/", 1)[1]


def written(db: Database) -> tuple:
    """What a position could write: requests' states, used links, queued posts, customers' places, audit rows."""
    with db.uow() as uow:
        return (
            [tuple(r) for r in uow.session.execute(select(CustomerLocationRequest.id, CustomerLocationRequest.status)
                                                   .order_by(CustomerLocationRequest.id))],
            uow.session.scalar(select(func.count(UsedCheckinLink.id))),
            uow.session.scalar(select(func.count(OutboxMessage.id))),
            [tuple(r) for r in uow.session.execute(select(Customer.id, Customer.latitude, Customer.longitude)
                                                   .order_by(Customer.id))],
            uow.session.scalar(select(func.count(AuditEntry.id))),
        )


@pytest.fixture
async def rep(db: Database, demo_org) -> AsyncIterator[Rep]:
    load(db, POOLS)
    with db.uow() as uow:
        import_leads(uow, LEADS.encode(), "east.csv", "East pool", START)
        uow.commit()
    fake = await FakeSlackApi().start()
    clock = Clock(utcnow())  # the story runs now
    settings = slack_settings_for(db, fake, PUBLIC_BASE_URL="https://crm.example.com")
    try:
        async with running_slack(db, settings, fake, clock) as slack:
            link(db, "li", LI)
            yield Rep(db, slack, clock, Dispatcher(db, {"slack": slack.front.sender}, clock=clock))
    finally:
        await fake.stop()


async def test_nearby_on_slack_the_page_sends_the_list_to_his_dm_and_claim_works(rep: Rep):
    north = add_customer(rep.db, "li", "North Gate Store", SQUARE_LAT + 0.0045, SQUARE_LON)
    noodles = lead_id(rep.db, "Square Noodles")
    asked = await rep.type("nearby")
    assert "你在哪里?" in asked.text and "打开签到页面" in buttons(asked)
    path = page_path(asked)
    status, page = await rep.open(path)
    assert status == 200 and "我附近有什么" in page and "发送我的位置" in page

    status, page = await rep.post(path, latitude=str(SQUARE_LAT), longitude=str(SQUARE_LON), accuracy="12")
    assert status == 200 and "附近列表已发到聊天" in page and "2公里" in page
    (listed,) = await rep.dispatch()
    assert (listed.method, listed.payload["channel"]) == ("chat.postMessage", LI_DM)
    assert f"1. 222米 · 公海线索 #{noodles} Square Noodles" in listed.text
    assert f"2. 500米 · 客户 c{north} North Gate Store" in listed.text
    shown = buttons(listed)
    assert shown == {f"领取 #{noodles}": f"claim {noodles}", f"拜访 c{north}": f"visit c{north}"}

    claimed = await rep.press(shown[f"领取 #{noodles}"])
    assert f"线索 #{noodles} Square Noodles 已归你负责" in claimed.text
    li = user_id(rep.db, "li")
    with rep.db.uow() as uow:
        assert uow.session.get(Lead, noodles).owner_id == li
    assert await rep.dispatch() == []  # the list went once

    # The link is used: a second post is refused and writes nothing, the page says so.
    before = written(rep.db)
    status, page = await rep.post(path, latitude=str(SQUARE_LAT), longitude=str(SQUARE_LON), accuracy="12")
    assert status == 410 and "已经使用过" in page
    assert written(rep.db) == before and await rep.dispatch() == []


async def test_setloc_on_slack_the_page_sets_the_customers_place_and_says_so(rep: Rep):
    shop = add_customer(rep.db, "li", "Bund Tea House", SQUARE_LAT + 0.02, SQUARE_LON)
    asked = await rep.type(f"customer c{shop} setloc")
    assert "Bund Tea House" in asked.text and "打开签到页面" in buttons(asked)
    path = page_path(asked)
    status, page = await rep.open(path)
    assert status == 200 and "设置客户位置:Bund Tea House" in page and "成为该客户的位置" in page

    status, page = await rep.post(path, latitude="31.24012873", longitude="121.49013452", accuracy="8")
    assert status == 200 and "已保存客户位置:Bund Tea House" in page and "31.240129, 121.490135" in page
    li = user_id(rep.db, "li")
    with rep.db.uow() as uow:
        customer = uow.session.get(Customer, shop)
        assert (customer.latitude, customer.longitude, customer.location_trust) == (31.24012873, 121.49013452,
                                                                                    "trusted")
        audit = uow.session.scalars(select(AuditEntry).where(AuditEntry.record_type == "customer",
                                                             AuditEntry.record_id == shop,
                                                             AuditEntry.action == "update")).all()
        assert [(a.actor_id, a.platform, a.after.get("latitude")) for a in audit] == [(li, "web", 31.24012873)]
    assert await rep.dispatch() == []  # the answer is the page: nothing to the chat


def v1_token(user: int, visit: int, expires: int) -> str:
    """A link as the code before request links signed it (VERSION "v1"), written out by hand."""
    body = base64.urlsafe_b64encode(f"v1:{user}:{visit}:{expires}:{'ab' * 12}".encode()).rstrip(b"=").decode()
    signature = hmac.new(SECRET_KEY.encode(), body.encode(), hashlib.sha256).digest()[:20]
    return f"{body}.{base64.urlsafe_b64encode(signature).rstrip(b'=').decode()}"


async def test_a_v1_link_issued_before_the_deploy_still_pins_its_visit(rep: Rep):
    shop = add_customer(rep.db, "li", "North Gate Store", SQUARE_LAT + 0.0045, SQUARE_LON)
    assert "开始拜访" in (await rep.type(f"visit c{shop}")).text
    with rep.db.uow() as uow:
        visit_id = uow.session.scalar(select(Visit.id))
    path = f"/checkin/{v1_token(user_id(rep.db, 'li'), visit_id, int((rep.clock() + timedelta(minutes=10)).timestamp()))}"
    status, page = await rep.open(path)
    assert status == 200 and "拜访签到" in page
    status, page = await rep.post(path, latitude=str(SQUARE_LAT + 0.0045), longitude=str(SQUARE_LON), accuracy="10")
    assert status == 200 and "位置已记录:North Gate Store" in page
    with rep.db.uow() as uow:
        assert uow.session.get(Visit, visit_id).latitude == SQUARE_LAT + 0.0045


async def test_forged_replaced_expired_and_vague_positions_write_nothing(rep: Rep):
    position = {"latitude": str(SQUARE_LAT), "longitude": str(SQUARE_LON), "accuracy": "12"}
    first = page_path(await rep.type("nearby"))
    # Altered signature: refused before anything is read.
    body, _, signature = first.removeprefix("/checkin/").partition(".")
    before = written(rep.db)
    altered = f"/checkin/{body}.{'A' if signature[0] != 'A' else 'B'}{signature[1:]}"
    assert (await rep.open(altered))[0] == 400
    status, page = await rep.post(altered, **position)
    assert status == 400 and "link is not valid" in page and written(rep.db) == before  # whose it is, unknown

    # Genuinely signed, for li, but naming sam's request: reads like an answered one, nothing written.
    link(rep.db, "sam", SAM)
    await rep.type("nearby", SAM)
    li, sam = user_id(rep.db, "li"), user_id(rep.db, "sam")
    with rep.db.uow() as uow:
        sams = uow.session.scalar(select(CustomerLocationRequest.id).where(CustomerLocationRequest.user_id == sam))
    forged = f"/checkin/{checkin_links.issue(SECRET_KEY, li, None, rep.clock(), request_id=sams)}"
    before = written(rep.db)
    status, page = await rep.open(forged)
    assert status == 400 and "请求已不再等待你的位置" in page
    status, page = await rep.post(forged, **position)
    assert status == 400 and "请求已不再等待你的位置" in page and written(rep.db) == before

    # A position known only to within 5 km says nothing of what is within 2 km: refused, nothing
    # written, the request still waits and the same link works with a better fix.
    status, page = await rep.post(first, **{**position, "accuracy": "5000"})
    assert status == 400 and "精度只有 5000 米" in page and written(rep.db) == before

    # A newer /nearby replaces the first: its link no longer answers anything.
    second = page_path(await rep.type("nearby 5km"))
    before = written(rep.db)
    status, page = await rep.post(first, **position)
    assert status == 400 and "请求已不再等待你的位置" in page and written(rep.db) == before

    # Ten minutes on, the newer link has expired too.
    rep.clock.advance(minutes=11)
    status, page = await rep.post(second, **position)
    assert status == 410 and "has expired" in page and written(rep.db) == before and await rep.dispatch() == []
