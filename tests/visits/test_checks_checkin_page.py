"""Every check a browser's position can meet, through the Slack check-in page: for each, a genuine
position that passes and a spoof that is caught, the rep told why on the page in his language.

The page's script posts the browser's position as a form (latitude, longitude, accuracy: the
Geolocation API's numbers as JavaScript writes them, a full double) to the link the rep got in
Slack; these tests post exactly that body to the real aiohttp server (test_checkin_page drives the
page itself in Chromium). A browser sends no live trail, no heading and always an accuracy, and
the page dates the position when it arrives: the trail, heading, backdating and late-location
checks are Telegram's (test_checks_telegram).
"""
import html
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import aiohttp
import pytest

from bot.adapters.slack.words import COMMAND_PREFIX, LOCATION_ASK, PLATFORM
from bot.bootstrap import web_app
from bot.messages import Incoming
from bot.web.server import start_server
from db.models import Visit
from tests.platforms.first_week import page_text
from tests.visits import fieldday
from tests.visits.field_company import OnCompanyClock, Rep, lead_ids, router_on, set_up_company
from tests.visits.test_checks_telegram import FAR, LI, OFFICE, SAM, SHOP
from tests.visits.test_visits import Clock, reason_codes, visits_of

# On PostgreSQL alone: the checks judge alike on both databases, and the history they read is
# read SQLite's way too in test_location_history; the pairs are the suite's longest table.
pytestmark = pytest.mark.pg_only

WORKSPACE = "T1"


def near(point: tuple[float, float], bearing: float, metres: float) -> tuple[float, float]:
    """A point as a browser gives it: a full double."""
    return fieldday.toward(point, bearing, metres)


@dataclass
class Page(OnCompanyClock):
    """One rep's Slack chat (commands through the router as the Slack adapter hands them over) and
    the check-in page its links open, on the company's clock."""

    db: object
    settings: object
    server: str
    http: aiohttp.ClientSession
    clock: Clock
    rep: Rep
    leads: dict[str, int]

    def __post_init__(self) -> None:
        self.router = router_on(self.db, self.settings, self.clock)

    def say(self, command: str, args: str = "") -> list:
        return self.router.handle(Incoming(
            platform=PLATFORM, workspace=WORKSPACE, chat_id=f"D{self.rep.handle}", user_id=f"U{self.rep.handle}",
            command=command, args=args, command_prefix=COMMAND_PREFIX, location_ask=LOCATION_ASK))

    def link(self, command: str, args: str = "") -> str:
        """The check-in link of a command's answer, as the rep taps it in Slack."""
        [reply] = self.say(command, args)
        assert reply.checkin_url, reply
        return reply.checkin_url.removeprefix(self.settings.PUBLIC_BASE_URL)

    async def post(self, path: str, where: tuple[float, float], accuracy: float) -> str:
        """What the page's script posts once the browser has a position; the result page's text."""
        form = {"latitude": repr(where[0]), "longitude": repr(where[1]), "accuracy": repr(accuracy)}
        async with self.http.post(self.server + path, data=form) as response:
            assert response.status == 200
            return html.unescape(page_text(await response.text()))

    async def visit(self, where: tuple[float, float], accuracy: float = 9.6, lead: str = "shop",
                    stay: float = 30) -> str:
        """A whole visit: started in Slack, the page's position posted 40 s later, ended `stay` minutes on."""
        path = self.link("visit", f"l{self.leads[f'{self.rep.handle} {lead}']}")
        self.later(seconds=40)
        out = await self.post(path, where, accuracy)
        self.later(minutes=stay)
        self.say("visit", "end")
        return out

    async def attendance(self, command: str, where: tuple[float, float], accuracy: float = 14.4) -> str:
        path = self.link(command)
        self.later(seconds=30)
        return await self.post(path, where, accuracy)

    def last(self) -> Visit:
        return visits_of(self.db, self.rep.handle)[-1]


Run = Callable[[Page, bool], Awaitable[str]]


async def on_place(p: Page, spoof: bool) -> str:
    return await p.visit(SHOP if spoof else near(SHOP, 40, 12))


async def zero_accuracy(p: Page, spoof: bool) -> str:
    return await p.visit(near(SHOP, 150 if spoof else 130, 9), accuracy=0 if spoof else 6.4)


async def repeated_accuracy(p: Page, spoof: bool) -> str:
    """As on Telegram: the genuine fifth accuracy differs; the spoof's is the fifth 10 m in a row."""
    values = [10.0] * 4 if spoof else [12.1, 9.4, 15.8, 11.0, 10.0]
    out = ""
    for i, accuracy in enumerate(values):
        p.at((10 if spoof else 0) + i)
        out = await p.visit(near(SHOP, 40 * i + (20 if spoof else 0), 9 + i), accuracy)
    return out


async def typed(p: Page, spoof: bool) -> str:
    return await p.visit((31.2305, 121.4738) if spoof else near(SHOP, 20, 14), accuracy=10)


async def replayed_position(p: Page, spoof: bool, hours: float = 0) -> str:
    if not spoof:
        p.at(0)
        await p.visit(near(SHOP, 300, 11), accuracy=14.3)
    if hours:
        p.at(0)
        p.later(hours=hours + (2 if spoof else 0))
    else:
        p.at(8 if spoof else 7)
    return await p.visit(near(near(SHOP, 300, 11), 45, 0.25) if spoof else near(SHOP, 280, 5),
                         accuracy=14.3 if spoof else 11.8)


async def replayed_recently(p: Page, spoof: bool) -> str:
    return await replayed_position(p, spoof, hours=3)


async def checkin_away(p: Page, spoof: bool) -> str:
    p.at(1 if spoof else 0, "08:55")
    return await p.attendance("checkin", near(OFFICE, 90, 6000) if spoof else near(OFFICE, 45, 30), 15.3)


async def far_away(p: Page, spoof: bool) -> str:
    return await p.visit(near(SHOP, 0, 3000) if spoof else near(SHOP, 0, 150), accuracy=12.5)


async def poor_accuracy(p: Page, spoof: bool) -> str:
    return await p.visit(near(SHOP, 20 if spoof else 0, 40), accuracy=800 if spoof else 35.5)


async def impossible_travel(p: Page, spoof: bool) -> str:
    p.at(1 if spoof else 0)
    await p.visit(near(FAR, 0, 10), 9.7, lead="far", stay=1 if spoof else 120)
    return await p.visit(near(SHOP, 50, 9), 10.9)


async def late_checkin(p: Page, spoof: bool) -> str:
    p.at(1 if spoof else 0, "09:40" if spoof else "08:50")
    return await p.attendance("checkin", near(OFFICE, 330 if spoof else 300, 25))


async def early_checkout(p: Page, spoof: bool) -> str:
    p.at(1 if spoof else 0, "16:00" if spoof else "18:05")
    return await p.attendance("checkout", near(OFFICE, 330 if spoof else 300, 25))


async def unplaced_lead(p: Page, spoof: bool) -> str:
    return await p.visit(near(SHOP, 40 if spoof else 10, 20), lead="new" if spoof else "shop")


@dataclass(frozen=True)
class Pair:
    code: str
    rep: Rep
    run: Run
    told: str
    outcome: str = "flagged"  # flagged | noted (kept, still verified) | held


PAIRS = [
    Pair("on_stored_place", SAM, on_place, "exactly on the saved location (0.0 m off): a real phone never lands there"),
    Pair("accuracy_implausible", LI, zero_accuracy, "精度 0.0 米,手机不可能这么精确(低于 1.0 米)"),
    Pair("accuracy_repeated", SAM, repeated_accuracy, "the same accuracy, 10.0 m, on 5 positions in a row"),
    Pair("typed_coordinates", LI, typed, "坐标最多只有 4 位小数,疑似手动输入或粘贴"),
    Pair("replayed_position", SAM, replayed_position, "of a position you sent 8 days before: a replay?"),
    Pair("replayed_position_recent", LI, replayed_recently, "小时前另一次拜访的位置仅相差"),
    Pair("away_from_office", LI, checkin_away, "签到位置距办公室"),
    Pair("outside_geofence", LI, far_away, "距线索保存的位置"),
    Pair("low_accuracy", SAM, poor_accuracy, "accuracy 800 m is worse than 200 m"),
    Pair("impossible_travel", LI, impossible_travel, "不可能的移动:距上一个位置 20"),
    Pair("late_checkin", SAM, late_checkin, "late by 40 min", "noted"),
    Pair("early_checkout", LI, early_checkout, "早退 120 分钟", "noted"),
    Pair("place_unconfirmed", SAM, unplaced_lead, "the place of this customer or lead is not confirmed yet", "held"),
]
VERDICT = {"flagged": "flagged", "noted": "verified", "held": "unconfirmed"}


@pytest.fixture
async def pages(db, settings, clock):
    """The company of test_checks_telegram, its reps on Slack; the check-in pages served on its clock."""
    places = {f"{r.handle} {name}": place for r in (LI, SAM)
              for name, place in (("shop", SHOP), ("far", FAR), ("new", None))}
    clock.advance(days=-1)  # set up the day before: the clock only moves on from here
    codes = set_up_company(db, settings, [LI, SAM], places)
    runner, port = await start_server(web_app(db, settings, [], clock=clock))
    leads = lead_ids(db)
    try:
        async with aiohttp.ClientSession() as http:
            def page(rep: Rep) -> Page:
                made = Page(db, settings, f"http://127.0.0.1:{port}", http, clock, rep, leads)
                made.say("join", codes[rep.handle])
                for name in ("shop", "far", "new"):
                    made.say("claim", str(leads[f"{rep.handle} {name}"]))
                return made

            yield page
    finally:
        await runner.cleanup()


@pytest.mark.parametrize("pair", PAIRS, ids=[p.code for p in PAIRS])
async def test_each_check_a_browser_can_meet_passes_a_genuine_position_and_catches_its_spoof(pages, pair):
    page = pages(pair.rep)
    page.at(0, "08:00")
    await pair.run(page, False)
    genuine = page.last()
    assert (genuine.source, genuine.verdict) == ("web", "verified") and pair.code not in reason_codes(genuine), \
        genuine.reasons
    page.later(hours=1)
    told = await pair.run(page, True)
    spoofed = page.last()
    assert pair.told in told, told
    assert pair.code in reason_codes(spoofed) and spoofed.verdict == VERDICT[pair.outcome], spoofed.reasons
    assert spoofed.counts == (pair.outcome == "noted")
