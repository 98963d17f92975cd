"""The Slack check-in page: a real Chromium with an overridden geolocation against the real aiohttp
server pins the visit (source "web"); a reused, expired or altered link gets a clear page and
writes nothing."""
import os
import shutil
from datetime import timedelta

import aiohttp
import pytest
from sqlalchemy import select

from bot.bootstrap import build_router, web_app
from bot.messages import Incoming
from bot.services.visits import checkin_links
from bot.web.server import start_server
from db.base import utcnow
from db.models import Visit
from db.models.visit import UsedCheckinLink
from tests.visits.test_visits import add_records, user_id

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


@pytest.fixture
async def server(db, settings, demo_org):
    add_records(db)
    app = web_app(db, settings, [])
    runner, port = await start_server(app)
    yield f"http://127.0.0.1:{port}"
    await runner.cleanup()


def start(db, settings, command: str, args: str = "", user: str = "li"):
    """Run a command as on Slack and return the check-in link path of its reply."""
    [reply] = build_router(db, settings).handle(Incoming(
        platform="slack", workspace="T1", chat_id="D1", user_id=user, command=command, args=args))
    assert reply.request_location and reply.checkin_url, reply
    return reply.checkin_url.removeprefix(settings.PUBLIC_BASE_URL)


@pytest.fixture
def slack_li(db):
    """Li's Slack identity (the console identity suffices for the router; Slack needs its own)."""
    from db.models import PlatformIdentity

    with db.uow() as uow:
        uow.session.add(PlatformIdentity(platform="slack", workspace="T1", platform_user_id="li",
                                         dm_chat_id="D1", user_id=user_id(db, "li")))
        uow.commit()


def chromium_or_fail() -> None:
    if not os.path.exists(CHROMIUM) and not shutil.which("chromium"):
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("chromium is not installed and CI=true: run `make system-deps`")
        pytest.skip("chromium not installed (run `make system-deps`)")


async def test_real_browser_pins_the_visit_and_a_reused_link_is_refused(server, db, settings, slack_li):
    chromium_or_fail()
    from playwright.async_api import async_playwright

    path = start(db, settings, "visit", "c1")
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = await browser.new_context(
                geolocation={"latitude": 30.243213, "longitude": 120.150817, "accuracy": 12},
                permissions=["geolocation"], locale="en-US", viewport={"width": 390, "height": 800},
            )
            page = await context.new_page()
            external = []
            page.on("request", lambda r: external.append(r.url) if not r.url.startswith(server) else None)
            await page.goto(server + path)
            assert await page.inner_text("h1") == "拜访签到"  # Li reads Chinese, whatever the browser says
            await page.click("#share")
            await page.wait_for_selector("h1.ok", timeout=10_000)
            body = await page.inner_text("body")
            assert "位置已记录" in body and "已核验" in body
            assert external == []  # no external script, style or font
            second = await page.goto(server + path)
            assert second is not None and second.status == 410
            assert "已经使用过" in await page.inner_text("body")
        finally:
            await browser.close()
    with db.uow() as uow:
        [visit] = uow.session.scalars(select(Visit)).all()
    assert (visit.source, visit.verdict, visit.counts, visit.accuracy_m) == ("web", "verified", True, 12)
    assert (visit.latitude, visit.longitude) == (30.243213, 120.150817)


async def test_expired_link_page_is_clear_and_posting_to_it_writes_nothing(server, db, settings, slack_li):
    start(db, settings, "checkin")
    with db.uow() as uow:
        visit_id = uow.session.scalar(select(Visit.id))
    token = checkin_links.issue(settings.SECRET_KEY, user_id(db, "li"), visit_id, utcnow() - timedelta(minutes=11))
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{server}/checkin/{token}") as response:
            assert response.status == 410 and "已过期" in await response.text()
        async with http.post(f"{server}/checkin/{token}", data={"latitude": "30.2", "longitude": "120.1"}) as response:
            assert response.status == 410
    with db.uow() as uow:
        visit = uow.session.get(Visit, visit_id)
        assert visit.latitude is None and visit.status == "waiting"
        assert uow.session.scalar(select(UsedCheckinLink.id)) is None


async def test_altered_link_and_bad_coordinates(server, db, settings, slack_li):
    path = start(db, settings, "visit", "c1")
    token = path.removeprefix("/checkin/")
    altered = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
    other_visit = checkin_links.issue(settings.SECRET_KEY, user_id(db, "sam"), 1, utcnow())
    async with aiohttp.ClientSession(headers={"Accept-Language": "en"}) as http:
        async with http.get(f"{server}/checkin/{altered}") as response:
            assert response.status == 400 and "not valid" in await response.text()
        async with http.post(f"{server}/checkin/{altered}", data={"latitude": "30.2", "longitude": "120.1"}) as r:
            assert r.status == 400
        async with http.post(f"{server}/checkin/{other_visit}", data={"latitude": "30.2", "longitude": "120.1"}) as r:
            assert r.status == 400 and "no longer waiting" in await r.text()  # Sam's link cannot pin Li's visit
        async with http.post(f"{server}/checkin/{token}", data={"latitude": "abc", "longitude": "120.1"}) as r:
            assert r.status == 400 and "不是有效的位置" in await r.text()
        # The refused attempt did not use the link up: a real position still goes through.
        async with http.post(f"{server}/checkin/{token}",
                             data={"latitude": "30.24321377", "longitude": "120.15081694", "accuracy": "9"}) as r:
            assert r.status == 200 and "已核验" in await r.text()
            assert "default-src 'none'" in r.headers["Content-Security-Policy"]
    with db.uow() as uow:
        [visit] = uow.session.scalars(select(Visit)).all()
        assert visit.source == "web" and visit.accuracy_m == 9
        assert uow.session.scalar(select(UsedCheckinLink.visit_id)) == visit.id


def test_links_are_bound_signed_and_expire():
    now = utcnow()
    token = checkin_links.issue("s", 7, 42, now)
    claims = checkin_links.verify("s", token, now + timedelta(minutes=9))
    assert (claims.user_id, claims.visit_id) == (7, 42)
    for bad_secret, when, problem in (("other", now, "altered"), ("s", now + timedelta(minutes=10), "expired")):
        with pytest.raises(checkin_links.LinkError) as caught:
            checkin_links.verify(bad_secret, token, when)
        assert caught.value.problem == problem
    assert checkin_links.issue("s", 7, 42, now) != token  # every link has its own nonce


@pytest.mark.parametrize("age_ms, verdict, code", [
    ("1500", "已核验", None),  # a fresh fix, whatever the phone's clock says
    (str(-20 * 60_000), None, "refused_future"),  # stamped 20 minutes ahead of the phone's own clock
    (str(3 * 3600_000), None, "sent_late"),  # a cached fix three hours old
])
async def test_the_page_dates_a_position_by_its_age_on_the_phone(server, db, settings, slack_li, age_ms, verdict, code):
    path = start(db, settings, "visit", "c1")
    form = {"latitude": "30.24321377", "longitude": "120.15081694", "accuracy": "9", "age_ms": age_ms}
    async with (aiohttp.ClientSession(headers={"Accept-Language": "zh"}) as http,
                http.post(f"{server}{path}", data=form) as response):
        page = await response.text()
    with db.uow() as uow:
        [visit] = uow.session.scalars(select(Visit)).all()
        codes = {reason["code"] for reason in visit.reasons}
    if code == "refused_future":
        assert response.status == 400 and "已拒绝" in page
        assert visit.status == "waiting" and visit.latitude is None and code in codes  # the attempt is kept
    else:
        assert response.status == 200 and visit.latitude is not None
        assert (verdict is None or verdict in page) and (code is None or code in codes)
        assert abs((visit.arrived_at - visit.taken_at).total_seconds() * 1000 - int(age_ms)) < 5_000
