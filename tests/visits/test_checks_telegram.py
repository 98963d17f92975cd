"""Every check a shared position or a live trail can meet, through the Telegram adapter with real
Update JSON (locations, live locations as edited_message updates with heading and
horizontal_accuracy, venues): for each, a genuine case that passes and a spoof that is caught, the
rep told why in his language (Li reads Chinese, Sam English).

The company is set up as its admin does it (tests/visits/field_company): an org file with the
office, a CSV of leads with coordinates; the reps join with their invitation codes and claim their
leads. The history a check reads (earlier accuracies, an earlier position or trail) is made by
earlier visits through the same chat, on a clock moved between them.
"""
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest

from bot.services.visits import location_checks, spoof_checks
from db.models import Visit
from tests.visits import fieldday
from tests.visits.field_company import (
    OnCompanyClock,
    Rep,
    Telegram,
    lead_ids,
    set_up_company,
)
from tests.visits.test_visits import Clock, reason_codes, visits_of

# On PostgreSQL alone: the checks judge alike on both databases, and the history they read is
# read SQLite's way too in test_location_history; the pairs are the suite's longest table.
pytestmark = pytest.mark.pg_only

LI = Rep("li", "李雷", "zh", 555)
SAM = Rep("sam", "Sam Carter", "en", 777)
SHOP = (31.230416, 121.473701)  # each rep's shop, at the coordinates the company imported
FAR = fieldday.toward(SHOP, 250, 20_000)  # each rep's far customer, 20 km away
OFFICE = fieldday.OFFICE


def near(point: tuple[float, float], bearing: float, metres: float) -> tuple[float, float]:
    """A point as a phone sends it (six decimals)."""
    lat, lon = fieldday.toward(point, bearing, metres)
    return round(lat, 6), round(lon, 6)


@dataclass
class Chat(OnCompanyClock):
    """One rep's chat with the bot, on the company's shared clock."""

    tg: Telegram
    rep: Rep
    leads: dict[str, int]
    clock: Clock

    def say(self, text: str) -> str:
        return self.tg.say(self.rep, text)

    def start(self, lead: str = "shop", note: str = "") -> str:
        return self.say(f"/visit l{self.leads[f'{self.rep.handle} {lead}']} {note}".strip())

    def share(self, where: tuple[float, float], accuracy: float | None = 9.6, **point: object) -> str:
        return self.tg.share(self.rep, where[0], where[1], accuracy, **point)

    def visit(self, where: tuple[float, float], accuracy: float | None = 9.6, lead: str = "shop") -> str:
        """A whole visit: started, the position shared a minute later, ended half an hour later."""
        self.start(lead)
        self.later(minutes=1)
        out = self.share(where, accuracy)
        self.later(minutes=30)
        self.say("/visit end")
        return out

    def live(self, points: Sequence[tuple[float, float, float | None]], message_id: int,
             lead: str = "shop") -> str:
        """A visit shared as a live location: the first point a location with live_period, each next an
        edit `seconds` later (points: lat, lon, heading; ~35 s apart), then the visit ended."""
        self.start(lead)
        self.later(seconds=20)
        began = self.clock.now
        accuracy = [8.1, 9.4, 7.7, 10.2, 8.8, 9.9, 7.3, 8.5, 9.1, 10.6]
        out = [self.tg.share(self.rep, *points[0][:2], accuracy[0], live_period=3600, message_id=message_id)]
        for i, (lat, lon, heading) in enumerate(points[1:], start=1):
            self.later(seconds=30 + 7 * (i % 3))
            out.append(self.tg.live_edit(self.rep, lat, lon, message_id=message_id, started=began,
                                         taken=self.clock.now, accuracy=accuracy[i % 10], heading=heading))
        self.later(minutes=20)
        self.say("/visit end")
        return "\n".join(out)

    def finish(self, out: str) -> str:
        """End the visit ten minutes on; what the position's message was answered."""
        self.later(minutes=10)
        self.say("/visit end")
        return out

    def last(self) -> Visit:
        return visits_of(self.tg.db, self.rep.handle)[-1]


def walk(start: tuple[float, float], bearings: Callable[[int], float], steps: Callable[[int], float],
         headings: Callable[[int, float], float | None] = lambda i, b: None,
         count: int = 8) -> list[tuple[float, float, float | None]]:
    """A walk from `start`: step i goes steps(i) metres along bearings(i), reporting headings(i, bearing)."""
    points, here = [(*near(start, 0, 0), None)], start
    for i in range(1, count):
        here = fieldday.toward(here, bearings(i), steps(i))
        heading = headings(i, bearings(i))
        points.append((*near(here, 0, 0), None if heading is None else round(heading % 360) or 360))
    return points


WEST_OF_SHOP = near(SHOP, 270, 300)


def wander(i: int) -> float:
    return 80 + (-1) ** i * 6


def pace(i: int) -> float:
    return 38 + 5 * (i % 3)


def real_walk(start: tuple[float, float] = WEST_OF_SHOP) -> list[tuple[float, float, float | None]]:
    """Walking to the shop from the car: the way and the pace wander; the phone's course follows the way."""
    return walk(start, wander, pace, lambda i, b: b + (-1) ** i * 12)


def another_real_walk() -> list[tuple[float, float, float | None]]:
    """The same walk on another day: it starts a few metres away and goes its own way."""
    return walk(near(WEST_OF_SHOP, 200, 6), lambda i: 84 + (-1) ** i * 9, lambda i: 41 + 4 * (i % 2),
                lambda i, b: b - (-1) ** i * 10)


def replay_of(points: Sequence[tuple[float, float, float | None]]) -> list[tuple[float, float, float | None]]:
    """An earlier trail sent again, every update moved by about 0.3 m."""
    return [(round(lat + 0.000002, 6), round(lon - 0.000002, 6), heading) for lat, lon, heading in points]


# ---------------------------------------------------------------- the pairs: (genuine, spoof) per check


def on_place(c: Chat, spoof: bool) -> str:
    return c.visit(SHOP if spoof else near(SHOP, 40, 12))


def zero_accuracy(c: Chat, spoof: bool) -> str:
    return c.visit(near(SHOP, 150 if spoof else 130, 9), accuracy=0 if spoof else 6.4)


def repeated_accuracy(c: Chat, spoof: bool) -> str:
    """Genuine: five visits whose accuracy changes as a phone's does (the last 10 m). Spoof: the next
    four report 10 m again: the fourth is the fifth fix in a row with the very same accuracy."""
    values = [10.0] * 4 if spoof else [12.1, 9.4, 15.8, 11.0, 10.0]
    out = ""
    for i, accuracy in enumerate(values):
        c.at((10 if spoof else 0) + i)
        out = c.visit(near(SHOP, 40 * i + (20 if spoof else 0), 9 + i), accuracy)
    return out


def typed(c: Chat, spoof: bool) -> str:
    return c.visit((31.2305, 121.4738) if spoof else near(SHOP, 20, 14), accuracy=10)


def replayed_position(c: Chat, spoof: bool, hours: float = 0) -> str:
    """Last week's position (or this morning's, `hours` before) again: genuine, the phone lands
    metres away; the spoof sends it again with 0.2 m of jitter and its accuracy."""
    if not spoof:
        c.at(0)
        c.visit(near(SHOP, 300, 11), accuracy=14.3)
    if hours:
        c.at(0)
        c.later(hours=hours + (2 if spoof else 0))
    else:
        c.at(8 if spoof else 7)
    return c.visit(near(SHOP, 300, 11.2) if spoof else near(SHOP, 280, 5), accuracy=14.3 if spoof else 11.8)


def replayed_recently(c: Chat, spoof: bool) -> str:
    return replayed_position(c, spoof, hours=3)


def backdated(c: Chat, spoof: bool) -> str:
    c.start()
    c.later(minutes=1)
    taken = c.clock.now - timedelta(hours=2) if spoof else c.clock.now - timedelta(seconds=20)
    out = c.share(near(SHOP, 60, 10), 11.5, taken=taken)
    c.later(minutes=30)
    c.say("/visit end")
    return out


def located_late(c: Chat, spoof: bool) -> str:
    """A no-signal visit: genuine, located when the rep steps out during it; the spoof, three hours
    after it ended, from wherever he is by then."""
    c.start(note="--no-location 地下室没有信号")
    if not spoof:
        c.later(minutes=30)
        return c.finish(c.share(near(SHOP, 200, 20), 16.2))
    c.later(minutes=40)
    c.say("/visit end")
    c.later(hours=3)
    return c.share(near(SHOP, 230, 25), 16.2)


def checkin_away(c: Chat, spoof: bool) -> str:
    c.at(1 if spoof else 0, "08:55")
    c.say("/checkin")
    c.later(seconds=30)
    return c.share(near(OFFICE, 90, 6000) if spoof else near(OFFICE, 45, 30), 15.3)


def simulated_walk(c: Chat, spoof: bool) -> str:
    """The spoof walks due east at exactly 1.3 m/s: a straight line at a steady speed."""
    if not spoof:
        return c.live(real_walk(), message_id=60)
    start = near(WEST_OF_SHOP, 180, 20)
    points, seconds = [(*start, None)], 0
    for i in range(1, 8):
        seconds += 30 + 7 * (i % 3)
        points.append((*near(start, 90, 1.3 * seconds), 90))
    return c.live(points, message_id=61)


def heading_off(c: Chat, spoof: bool) -> str:
    """The spoof walks east reporting a heading frozen at west."""
    if not spoof:
        return c.live(real_walk(), message_id=62)
    return c.live(walk(near(WEST_OF_SHOP, 0, 20), wander, pace, lambda i, b: 270), message_id=63)


def replayed_trail(c: Chat, spoof: bool, hours: float = 0) -> str:
    if not spoof:
        c.at(0)
        c.live(real_walk(), message_id=64)
    if hours:
        c.at(0)
        c.later(hours=hours + (2 if spoof else 0))
    else:
        c.at(8 if spoof else 7)
    if not spoof:
        return c.live(another_real_walk(), message_id=65)
    # The first update is fresh (a replay of a pinned position is caught on its own, and the verdict it
    # gives would leave nothing to tell); the next seven are last time's.
    return c.live([(*near(WEST_OF_SHOP, 90, 4), None), *replay_of(real_walk())[1:]], message_id=66)


def replayed_trail_recently(c: Chat, spoof: bool) -> str:
    return replayed_trail(c, spoof, hours=3)


def not_moving(c: Chat, spoof: bool) -> str:
    return c.live([(*near(SHOP, 10, 8), None)] * 3 if spoof else real_walk(), message_id=67 if spoof else 68)


def far_away(c: Chat, spoof: bool) -> str:
    return c.visit(near(SHOP, 0, 3000) if spoof else near(SHOP, 0, 150), accuracy=12.5)


def poor_accuracy(c: Chat, spoof: bool) -> str:
    return c.visit(near(SHOP, 20 if spoof else 0, 40), accuracy=800 if spoof else 35.5)


def no_accuracy(c: Chat, spoof: bool) -> str:
    return c.visit(near(SHOP, 20 if spoof else 0, 40), accuracy=None if spoof else 12.7)


def venue(c: Chat, spoof: bool) -> str:
    if not spoof:
        return c.visit(near(SHOP, 100, 10))
    c.start()
    return c.tg.venue(c.rep, *near(SHOP, 120, 10), "Shop")


def impossible_travel(c: Chat, spoof: bool) -> str:
    """At the far customer, then at the shop 20 km away: two hours later, or ten minutes (the spoof)."""
    c.at(1 if spoof else 0)
    c.start("far")
    c.later(minutes=1)
    c.share(near(FAR, 0, 10), 9.7)
    c.say("/visit end")
    c.later(minutes=1 if spoof else 120)
    return c.visit(near(SHOP, 50, 9), 10.9)


def forwarded(c: Chat, spoof: bool) -> str:
    if not spoof:
        return c.visit(near(SHOP, 80, 9))
    c.start()
    return c.share(near(SHOP, 80, 9), 10.0, forward_origin={
        "type": "user", "date": c.tg.now() - 600, "sender_user": {"id": 999, "is_bot": False, "first_name": "Wu"}})


def future(c: Chat, spoof: bool) -> str:
    if not spoof:
        return c.visit(near(SHOP, 80, 9))
    c.start()
    return c.share(near(SHOP, 80, 9), 10.0, taken=c.clock.now + timedelta(hours=1))


def sent_late(c: Chat, spoof: bool) -> str:
    c.start()
    taken = c.clock.now + timedelta(minutes=1)
    c.later(minutes=31 if spoof else 2)
    return c.finish(c.share(near(SHOP, 150 if spoof else 170, 12), 13.3, taken=taken))


def attached_late(c: Chat, spoof: bool) -> str:
    c.start(note="--no-location 电梯里没有信号")
    c.later(minutes=40 if spoof else 5)
    return c.finish(c.share(near(SHOP, 190 if spoof else 170, 10), 11.1))


def late_checkin(c: Chat, spoof: bool) -> str:
    c.at(1 if spoof else 0, "09:40" if spoof else "08:50")
    c.say("/checkin")
    c.later(seconds=20)
    return c.share(near(OFFICE, 330 if spoof else 300, 25), 14.4)


def early_checkout(c: Chat, spoof: bool) -> str:
    c.at(1 if spoof else 0, "16:00" if spoof else "18:05")
    c.say("/checkout")
    c.later(seconds=20)
    return c.share(near(OFFICE, 330 if spoof else 300, 25), 14.4)


def unplaced_lead(c: Chat, spoof: bool) -> str:
    """Not a spoof: a lead the company has no coordinates for waits for its place to be confirmed."""
    if not spoof:
        return c.visit(near(SHOP, 10, 20))
    return c.visit(near(SHOP, 40, 20), lead="new")


@dataclass(frozen=True)
class Pair:
    code: str
    rep: Rep
    run: Callable[[Chat, bool], str]
    told: str  # what the rep reads about it, in his language
    outcome: str = "flagged"  # flagged | refused (nothing pinned) | noted (kept, still verified) | held


PAIRS = [
    # spoof_checks
    Pair("on_stored_place", LI, on_place, "与保存的位置完全重合(相差 0.0 米),真实手机定位不会如此"),
    Pair("accuracy_implausible", SAM, zero_accuracy, "accuracy of 0 m is better than a phone can give (under 1.0 m)"),
    Pair("accuracy_repeated", LI, repeated_accuracy, "连续 5 次定位的精度都是 10.0 米"),
    Pair("typed_coordinates", SAM, typed, "coordinates look typed or pasted: 4 decimal places at most"),
    Pair("replayed_position", LI, replayed_position, "与 8 天前发送的位置仅相差"),
    Pair("replayed_position_recent", SAM, replayed_recently, "h before: a replay?"),
    Pair("taken_before_start", SAM, backdated, "position taken 119 min before the visit or check-in began"),
    Pair("taken_after_visit", LI, located_late, "定位时间比拜访时段结束晚 3.0 小时"),
    Pair("away_from_office", SAM, checkin_away, "m from the office (limit 200 m)"),
    Pair("live_simulated", LI, simulated_walk, "实时位置沿一条直线匀速移动"),
    Pair("heading_mismatch", SAM, heading_off, "the reported direction is off the path by"),
    Pair("replayed_trail", LI, replayed_trail, "实时位置重复了 8 天前轨迹中的"),
    Pair("replayed_trail_recent", SAM, replayed_trail_recently, "live location repeats"),
    # location_checks
    Pair("live_not_moving", LI, not_moving, "实时位置从未移动(3 次更新)"),
    Pair("outside_geofence", SAM, far_away, "m from the lead's saved location (limit 500 m)"),
    Pair("low_accuracy", LI, poor_accuracy, "精度 800 米,超过上限 200 米"),
    Pair("no_accuracy", SAM, no_accuracy, "no accuracy given"),
    Pair("manual", LI, venue, "地图选点或地点,不是 GPS 定位"),
    Pair("impossible_travel", SAM, impossible_travel, "impossible travel: 20"),
    Pair("forwarded", LI, forwarded, "转发的位置是别人的位置", "refused"),
    Pair("future", SAM, future, "dated 60 min in the future, so it was refused", "refused"),
    Pair("sent_late", LI, sent_late, "定位后 30 分钟才发送", "noted"),
    Pair("attached_late", SAM, attached_late, "location attached 0.7 h after the visit started", "noted"),
    Pair("late_checkin", LI, late_checkin, "迟到 40 分钟", "noted"),
    Pair("early_checkout", SAM, early_checkout, "left 120 min early", "noted"),
    Pair("place_unconfirmed", LI, unplaced_lead, "该客户或线索的地点尚未确认", "held"),
]
VERDICT = {"flagged": "flagged", "noted": "verified", "held": "unconfirmed"}


@pytest.fixture
def company(db, settings, clock) -> Telegram:
    places = {f"{r.handle} {name}": place for r in (LI, SAM)
              for name, place in (("shop", SHOP), ("far", FAR), ("new", None))}
    clock.advance(days=-1)  # the company is set up the day before: the clock only moves on from here
    codes = set_up_company(db, settings, [LI, SAM], places)
    tg = Telegram(db, settings, clock)
    leads = lead_ids(db)
    for rep in (LI, SAM):
        tg.join(rep, codes[rep.handle])
        for name in ("shop", "far", "new"):
            tg.say(rep, f"/claim {leads[f'{rep.handle} {name}']}")
    return tg


@pytest.mark.parametrize("pair", PAIRS, ids=[p.code for p in PAIRS])
def test_each_check_passes_a_genuine_case_and_catches_its_spoof(company, clock, pair):
    chat = Chat(company, pair.rep, lead_ids(company.db), clock)
    chat.at(0, "08:00")
    pair.run(chat, False)
    genuine = chat.last()
    assert genuine.verdict == "verified" and pair.code not in reason_codes(genuine), genuine.reasons
    chat.later(hours=1)
    told = pair.run(chat, True)
    spoofed = chat.last()
    assert pair.told in told, told
    if pair.outcome == "refused":
        assert spoofed.status == "waiting" and spoofed.latitude is None and spoofed.id != genuine.id
        return
    assert pair.code in reason_codes(spoofed) and spoofed.verdict == VERDICT[pair.outcome], spoofed.reasons
    assert spoofed.counts == (pair.outcome == "noted")


def test_a_replayed_trail_is_caught_when_the_share_begins_away_from_it(company, clock):
    """The live location starts 100 m from last week's walk, then replays it: caught all the same."""
    chat = Chat(company, LI, lead_ids(company.db), clock)
    chat.at(0)
    chat.live(real_walk(), message_id=70)
    chat.at(7)
    told = chat.live([(*near(WEST_OF_SHOP, 270, 100), None), *replay_of(real_walk())[1:]], message_id=71)
    assert "实时位置重复了 7 天前轨迹中的 3 个点" in told
    assert "replayed_trail" in reason_codes(chat.last())


def test_every_check_a_shared_position_can_meet_has_a_pair():
    """A new reason code in the location checks or the spoof checks needs its row here."""
    codes = set()
    for module in (location_checks, spoof_checks):
        source = Path(module.__file__).read_text(encoding="utf-8")
        codes |= set(re.findall(r'Reason\("(\w+)"', source))
        codes |= {f"{base}{tail}" for base in re.findall(r'_how_long_ago\("(\w+)"', source) for tail in ("", "_recent")}
    assert len(codes) > 20 and {p.code for p in PAIRS} == codes
