"""The Telegram Mini App in a real Chromium against the real aiohttp app (bot.bootstrap.web_app) with
the Telegram front end on the fake Bot API. Telegram's script is a shim served through playwright:
window.Telegram.WebApp with initData signed by the test's bot token (or forged, or expired), with
Bot API 8.0's LocationManager in one case and without it in another (the browser's Geolocation API,
overridden, is used then). What the rep sees, what is written, what reaches his chat."""
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta

import pytest
import pytest_asyncio
from sqlalchemy import func, select

from bot.adapters.telegram.front_end import WEBHOOK_PATH
from bot.bootstrap import build_router
from bot.ratelimit import RateLimiter
from db.base import utcnow
from db.models import AuditEntry, Lead, Reminder, Visit
from tests.fakes.telegram_api import FakeTelegramAPI, Refused
from tests.platforms.telegram_harness import TOKEN, WebhookBot, running_webhook
from tests.platforms.test_telegram import link
from tests.platforms.test_telegram_initdata import encoded, signed
from tests.platforms.test_telegram_menu import link_directly
from tests.visits.test_checkin_page import CHROMIUM, CHROMIUM_ARGS, chromium_or_fail
from tests.visits.test_visits import WEST_LAKE, add_records

pytestmark = pytest.mark.asyncio(loop_scope="module")

LI, SAM, STRANGER = 555, 777, 999
PEOPLE = {LI: {"id": LI, "first_name": "Li", "language_code": "zh"},
          SAM: {"id": SAM, "first_name": "Sam", "language_code": "en"},
          STRANGER: {"id": STRANGER, "first_name": "Eve", "language_code": "en"}}
SCRIPT = "https://telegram.org/js/telegram-web-app.js"
PUBLIC = "https://crm.example.com"


def init_data(who: int, token: str = TOKEN, age: timedelta = timedelta(minutes=1)) -> str:
    return encoded(signed(token=token, auth_date=utcnow() - age, user=PEOPLE[who]))


def shim(data: str, who: int, location: dict | None = None) -> str:
    """telegram-web-app.js as the test's Telegram: the initData, and LocationManager when `location`."""
    manager = "" if location is None else f"""
      LocationManager: {{isInited: false, isLocationAvailable: false,
        init: function (cb) {{ this.isInited = true; this.isLocationAvailable = true; setTimeout(cb, 0); }},
        getLocation: function (cb) {{ window.askedTelegram = true; setTimeout(function () {{ cb({json.dumps(location)}); }}, 0); }}}},"""
    return f"""window.Telegram = {{WebApp: {{initData: {json.dumps(data)},
      initDataUnsafe: {{user: {json.dumps(PEOPLE[who])}}}, version: "8.0", platform: "android",
      isVersionAtLeast: function (v) {{ return parseFloat(v) <= 8.0; }}, ready: function () {{}},{manager}
      HapticFeedback: {{notificationOccurred: function () {{}}}}}}}};"""


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def browser() -> AsyncIterator[object]:
    chromium_or_fail()
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        launched = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        await launched.close()


@dataclass
class MiniApp:
    bot: WebhookBot
    base: str
    browser: object

    async def open(self, data: str, who: int, location: dict | None = None, geolocation: dict | None = None):
        """A phone opening the Mini App from the menu button; returns (page, urls fetched elsewhere)."""
        context = await self.browser.new_context(  # type: ignore[attr-defined]
            locale="en-US", viewport={"width": 390, "height": 800},
            geolocation=geolocation, permissions=["geolocation"] if geolocation else [])
        page = await context.new_page()
        elsewhere: list[str] = []
        page.on("request", lambda r: elsewhere.append(r.url) if not r.url.startswith(self.base) else None)
        await page.route(SCRIPT, lambda route: route.fulfill(
            status=200, content_type="application/javascript", body=shim(data, who, location)))
        await page.goto(self.base + "/miniapp")
        return page, elsewhere

    async def post(self, action: str, body: dict) -> tuple[int, dict]:
        async with self.bot.session.post(f"{self.base}/miniapp/api/{action}", json=body) as response:
            return response.status, await response.json()


@pytest_asyncio.fixture(loop_scope="module")
async def app(db, demo_org, router, browser) -> AsyncIterator[MiniApp]:
    add_records(db)
    api = await FakeTelegramAPI(token=TOKEN).start()
    try:
        async with running_webhook(db, router, api, PUBLIC_BASE_URL=PUBLIC) as bot:
            yield MiniApp(bot, bot.url.removesuffix(WEBHOOK_PATH), browser)
    finally:
        await api.close()


def count(db, model) -> int:
    with db.uow() as uow:
        return uow.session.scalar(select(func.count()).select_from(model)) or 0


def last_visit(db) -> Visit:
    with db.uow() as uow:
        return uow.session.scalars(select(Visit).order_by(Visit.id.desc()).limit(1)).one()


async def test_li_pins_his_visit_through_telegram_and_files_the_report_and_a_lead(app, db):
    link_directly(db, "li", LI)
    assert "拜访" in await app.bot.say("/visit c1")
    position = {"latitude": 30.24321377, "longitude": 120.15081694, "horizontal_accuracy": 8, "course": 90,
                "speed": 0.5, "altitude": None}
    page, elsewhere = await app.open(init_data(LI), LI, location=position)
    assert await page.inner_text("nav") == "拜访报告\n新线索\n位置"  # Li reads Chinese
    await page.click("[data-tab=location]")
    await page.click("#share")
    await page.wait_for_selector("#located.ok", timeout=10_000)
    assert "位置已记录" in await page.inner_text("#located") and "已核验" in await page.inner_text("#located")
    assert await page.evaluate("window.askedTelegram") is True
    visit = last_visit(db)
    assert (visit.source, visit.verdict, visit.accuracy_m) == ("miniapp", "verified", 8)
    assert (visit.latitude, visit.longitude) == (30.24321377, 120.15081694)

    await page.click("[data-tab=visit]")
    await page.fill("#v-note", "O'Neil liked the samples -- wants prices")
    await page.select_option("#v-outcome", "interested")
    await page.fill("#v-next", "send the quote")
    await page.fill("#v-remind", (utcnow() + timedelta(days=3)).strftime("%Y-%m-%dT10:00"))
    await page.click("#visit .submit")
    await page.wait_for_selector("#visit .result.ok", timeout=10_000)
    shown = await page.inner_text("#visit .result")
    assert "拜访结束" in shown and "有意向" in shown and "send the quote" in shown, shown
    visit = last_visit(db)
    assert (visit.status, visit.outcome, visit.next_step) == ("closed", "interested", "send the quote")
    assert visit.end_note == "O'Neil liked the samples -- wants prices"
    with db.uow() as uow:
        assert uow.session.scalar(select(func.count()).select_from(Reminder).where(Reminder.visit_id == visit.id)) == 1
    assert any("拜访结束" in text for text in app.bot.api.texts(LI))  # the chat keeps the record

    await page.click("[data-tab=lead]")
    await page.fill("#l-company", "Bund Bakery")  # already Li's lead: the duplicate check says so
    await page.click("#lead .submit")
    await page.wait_for_selector("[data-error-for=company]:not(:empty)", timeout=10_000)
    assert "已存在" in await page.inner_text("[data-error-for=company]")
    await page.fill("#l-company", "Lakeside Noodles")
    await page.fill("#l-phone", "13800138000")
    await page.click("#lead .submit")
    await page.wait_for_selector("#lead .result.ok", timeout=10_000)
    assert "Lakeside Noodles" in await page.inner_text("#lead .result")
    assert await page.inner_text("[data-error-for=company]") == ""
    with db.uow() as uow:
        assert uow.session.scalar(select(Lead.contact_name).where(Lead.company == "Lakeside Noodles")) is None
    assert elsewhere == [SCRIPT]  # nothing from outside but Telegram's own script


async def test_sam_reads_english_and_the_browser_position_is_used_without_a_location_manager(app, db):
    link_directly(db, "sam", SAM)
    assert "Visit" in await app.bot.say("/visit c3", chat_id=SAM)
    page, _ = await app.open(init_data(SAM), SAM, geolocation={"latitude": 31.2304, "longitude": 121.4737,
                                                                "accuracy": 15})
    assert await page.inner_text("nav") == "Visit report\nNew lead\nLocation"
    await page.click("[data-tab=location]")
    await page.click("#share")
    await page.wait_for_selector("#located.ok", timeout=10_000)
    assert "Location pinned: Sam's Diner" in await page.inner_text("#located")
    visit = last_visit(db)
    assert (visit.source, visit.accuracy_m, visit.latitude, visit.longitude) == ("miniapp", 15, 31.2304, 121.4737)
    await page.click("[data-tab=visit]")
    await page.fill("#v-remind", "2020-01-01T10:00")  # passed: the whole report is refused, beside the field
    await page.click("#visit .submit")
    await page.wait_for_selector("[data-error-for=remind]:not(:empty)", timeout=10_000)
    assert "passed" in await page.inner_text("[data-error-for=remind]")
    assert last_visit(db).status != "closed"


@pytest.mark.parametrize("how", ["forged", "expired"])
async def test_forged_or_stale_init_data_writes_nothing(app, db, how):
    link_directly(db, "li", LI)
    data = init_data(LI, token="999:another-bot") if how == "forged" else init_data(LI, age=timedelta(hours=2))
    audited, leads = count(db, AuditEntry), count(db, Lead)
    page, _ = await app.open(data, LI)
    await page.wait_for_selector("#banner:not([hidden])", timeout=10_000)
    banner = await page.inner_text("#banner")
    assert ("并非来自 Telegram" if how == "forged" else "太久") in banner, banner
    assert await page.is_hidden("#app")
    status, answer = await app.post("new_lead", {"init_data": data, "id": uuid.uuid4().hex, "lang": "en",
                                                 "fields": {"company": "Forged Foods"}})
    assert status == 401 and answer["ok"] is False and "nothing was saved" in answer["message"]
    status, _ = await app.post("location", {"init_data": data, "id": uuid.uuid4().hex,
                                            "position": {"latitude": WEST_LAKE[0], "longitude": WEST_LAKE[1]}})
    assert status == 401
    assert count(db, Lead) == leads and count(db, AuditEntry) == audited and count(db, Visit) == 0
    assert app.bot.api.texts(LI) == []  # nothing said in his chat either


async def test_a_double_tap_acts_once_and_strangers_and_junk_get_a_clean_answer(app, db):
    link_directly(db, "li", LI)
    submission = {"init_data": init_data(LI), "id": uuid.uuid4().hex, "fields": {"company": "Twice Tea"}}
    first, second = [await app.post("new_lead", submission) for _ in range(2)]
    assert first == second and first[0] == 200 and "Twice Tea" in json.dumps(first[1], ensure_ascii=False)
    with db.uow() as uow:
        assert uow.session.scalar(select(func.count()).select_from(Lead).where(Lead.company == "Twice Tea")) == 1
    assert sum("Twice Tea" in text for text in app.bot.api.texts(LI)) == 1  # one answer in the chat
    status, answer = await app.post("session", {"init_data": init_data(STRANGER)})
    assert status == 403 and "invitation code" in answer["message"]
    for body, expected in [({"init_data": init_data(LI), "id": "x", "fields": {}}, 400),
                           ({"init_data": init_data(LI), "id": uuid.uuid4().hex, "fields": {"company": 5}}, 400),
                           ({"init_data": init_data(LI), "id": uuid.uuid4().hex, "fields": {"target": "c1"}}, 400),
                           ({"init_data": init_data(LI), "id": uuid.uuid4().hex, "position": {"latitude": "a"}}, 400)]:
        status, answer = await app.post("new_lead" if "fields" in body else "location", body)
        assert status == expected and answer["ok"] is False and "无法读取" in answer["message"], answer
    async with app.bot.session.post(f"{app.base}/miniapp/api/new_lead", data=b"{not json") as response:
        assert response.status == 400 and "could not be read" in (await response.json())["message"]
    assert count(db, Visit) == 0


async def test_the_menu_button_opens_the_https_mini_app_for_linked_people_only(app, db):
    await app.bot.say("/start", chat_id=STRANGER, language_code="en")
    assert app.bot.api.menu_buttons == {}
    await link(app.bot, db, "li", LI)
    assert app.bot.api.menu_buttons[str(LI)] == {"type": "web_app", "text": "表单",
                                                 "web_app": {"url": PUBLIC + "/miniapp"}}
    await app.bot.say("/lang en")
    assert app.bot.api.menu_buttons[str(LI)]["text"] == "Forms"
    async with app.bot.session.get(f"{app.base}/miniapp") as response:
        policy = response.headers["Content-Security-Policy"]
        assert response.headers["Cache-Control"] == "no-store"
    assert "script-src 'nonce-" in policy and SCRIPT in policy and "connect-src 'self'" in policy
    assert "frame-ancestors 'self' https://web.telegram.org" in policy and "default-src 'none'" in policy


async def test_an_http_base_url_gets_no_menu_button(db, demo_org, router):
    api = await FakeTelegramAPI(token=TOKEN).start()
    try:
        async with running_webhook(db, router, api) as bot:  # PUBLIC_BASE_URL: http://127.0.0.1:8080
            await link(bot, db, "li", LI)
            assert api.called("setChatMenuButton") == [] and api.menu_buttons == {}
        with pytest.raises(Refused, match="https"):  # as Telegram refuses it
            await api._api_setChatMenuButton({"chat_id": LI, "menu_button": {
                "type": "web_app", "text": "Forms", "web_app": {"url": "http://127.0.0.1:8080/miniapp"}}})
    finally:
        await api.close()



async def test_a_flood_past_the_rate_limit_is_told_not_done(db, demo_org, settings):
    link_directly(db, "li", LI)
    api = await FakeTelegramAPI(token=TOKEN).start()
    limited = build_router(db, settings, limiter=RateLimiter(burst=2, per_second=0.001))
    try:
        async with running_webhook(db, limited, api, PUBLIC_BASE_URL=PUBLIC) as bot:
            app = MiniApp(bot, bot.url.removesuffix(WEBHOOK_PATH), None)
            answers = [await app.post("visit_report", {"init_data": init_data(LI), "id": uuid.uuid4().hex,
                                                       "fields": {"note": "x"}}) for _ in range(4)]
    finally:
        await api.close()
    assert [status for status, _ in answers[:2]] == [422, 422]  # no visit to end: refused, but answered
    assert answers[2][0] == 422 and "太快" in answers[2][1]["message"]  # told once by the router, in Li's language
    assert answers[3][0] == 429 and "太多" in answers[3][1]["message"]  # then dropped: the page says so
