"""Dwell from live locations: arrival and departure read off a live trail (the pure function, with
jitter at the fence and a trail that never comes), then a genuine visit and a check-in-and-leave
(断点打卡) through the Telegram adapter with real Update JSON, and a unit that turns the check off."""
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from telegram import Update

from bot.adapters.console import ConsoleAdapter
from bot.adapters.telegram.inbound import to_incoming
from bot.bootstrap import build_router
from bot.i18n import render_text
from bot.services.visits import dwell
from bot.services.visits import location_checks as v
from bot.services.visits.spoof_checks import Place, TrailPoint
from bot.services.visits.thresholds import thresholds_for
from db.models import OrgUnit
from tests.conftest import say
from tests.core.test_org_file_settings import EAST, load
from tests.fakes.telegram_api import location_update, message, next_update_id, text_update
from tests.platforms.telegram_harness import link_telegram
from tests.visits import fieldday
from tests.visits.test_spoof_checks import review_item
from tests.visits.test_visits import NEAR_WEST_LAKE, WEST_LAKE, add_records, visits_of

NOW = datetime(2026, 5, 6, 2, 0, tzinfo=UTC)
LIMITS = v.Thresholds()  # a 500 m geofence, 10 minutes
SHOP = Place(31.2304161, 121.4737012, "customer")


def at(bearing: float, metres: float, minute: float, accuracy: float = 12.0) -> TrailPoint:
    lat, lon = fieldday.toward((SHOP.latitude, SHOP.longitude), bearing, metres)
    return TrailPoint(round(lat, 6), round(lon, 6), NOW + timedelta(minutes=minute), None, accuracy)


def drive_in_stay_and_leave(stay_minutes: float) -> list[TrailPoint]:
    """From 2 km out to the door, a stay, then away again."""
    come = [at(200, metres, minute) for metres, minute in ((2000, 0), (1200, 2), (450, 4), (30, 5))]
    stay = [at(40 * i, 8 + i, 5 + minute) for i, minute in enumerate(range(1, int(stay_minutes) + 1, 5))]
    end = 5 + stay_minutes
    go = [at(20, 20, end), at(20, 900, end + 2), at(20, 2500, end + 4)]
    return come + stay + go


def test_arrival_and_departure_come_from_the_trail():
    stay = dwell.dwell_of(drive_in_stay_and_leave(40), SHOP, LIMITS.geofence_m)
    assert stay is not None and stay.left
    assert (stay.arrived_at, stay.departed_at) == (NOW + timedelta(minutes=4), NOW + timedelta(minutes=45))
    assert stay.minutes == 41 and dwell.check_dwell(stay, LIMITS) == []


def test_leaving_within_minutes_of_arriving_is_flagged():
    stay = dwell.dwell_of(drive_in_stay_and_leave(3), SHOP, LIMITS.geofence_m)
    assert stay is not None and stay.left and stay.minutes == 4
    [reason] = dwell.check_dwell(stay, LIMITS)
    assert (reason.code, reason.severity, reason.params) == (
        "left_early", v.FLAG, {"minutes": 4, "limit_min": 10, "place": "customer"})
    assert dwell.check_dwell(stay, v.Thresholds(min_dwell_minutes=0)) == []  # the unit turned it off
    assert dwell.check_dwell(stay, v.Thresholds(min_dwell_minutes=3)) == []


def test_a_trail_still_at_the_place_is_not_flagged():
    trail = drive_in_stay_and_leave(3)[:-2]  # sharing stopped at the door, or goes on there
    stay = dwell.dwell_of(trail, SHOP, LIMITS.geofence_m)
    assert stay is not None and not stay.left and stay.departed_at == trail[-1].taken_at
    assert dwell.check_dwell(stay, LIMITS) == []


def test_jitter_at_the_edge_of_the_geofence_neither_arrives_nor_leaves():
    # Parked at 480 m: the phone wanders across the fence, never beyond its own accuracy.
    edge = [at(90, metres, minute, accuracy=45) for minute, metres in enumerate((480, 530, 470, 540, 490, 520))]
    stay = dwell.dwell_of(edge, SHOP, LIMITS.geofence_m)
    assert stay is not None and not stay.left and dwell.check_dwell(stay, LIMITS) == []
    # A step out to the car and back in is still a stay.
    back = [at(0, 10, 0), at(0, 15, 2), at(0, 700, 3), at(0, 12, 5), at(0, 9, 30)]
    stay = dwell.dwell_of(back, SHOP, LIMITS.geofence_m)
    assert stay is not None and not stay.left and stay.minutes == 30


def test_a_trail_that_never_comes_has_no_dwell():
    passing = [at(0, metres, minute) for minute, metres in enumerate((3000, 2200, 1400, 900, 1500))]
    assert dwell.dwell_of(passing, SHOP, LIMITS.geofence_m) is None
    assert dwell.check_dwell(None, LIMITS) == []
    assert dwell.dwell_of([], SHOP, LIMITS.geofence_m) is None


def test_without_a_trusted_place_the_trail_is_measured_from_where_it_stayed_and_never_flagged():
    # The way there sends an update a minute; the stay, one every ten minutes.
    approach = [at(0, metres, minute) for minute, metres in enumerate((2600, 2200, 1800, 1400, 1000, 600))]
    stay_there = [at(0, 5 * (i % 2), 6 + 10 * i) for i in range(5)]
    trail = [*approach, *stay_there, at(0, 1500, 48)]
    stay = dwell.dwell_of(trail, None, LIMITS.geofence_m)
    assert stay is not None and stay.left and (stay.minutes, stay.place) == (40, dwell.PINNED)
    short = dwell.dwell_of([*approach, *stay_there[:1], at(0, 1500, 8)], None, LIMITS.geofence_m)
    assert short is not None and short.left and short.minutes < LIMITS.min_dwell_minutes
    assert dwell.check_dwell(short, LIMITS) == []  # no trusted place: shown, never flagged


def test_the_reason_reads_in_both_languages():
    reasons = [r.to_json() for r in dwell.check_dwell(dwell.dwell_of(drive_in_stay_and_leave(3), SHOP, 500), LIMITS)]
    en = render_text("review/item", "en", item=review_item(reasons))
    zh = render_text("review/item", "zh", item=review_item(reasons))
    assert "left the customer's saved location 4 min after arriving (a visit lasts 10 min at least)" in en
    assert "到达客户保存的位置后 4 分钟就离开了(拜访至少应停留 10 分钟)" in zh


# ---------------------------------------------------------------- through Telegram

LI_TG = 555
AWAY = fieldday.toward(WEST_LAKE, 10, 1800)  # driving off


@pytest.fixture
def tg(db, settings, demo_org, clock):
    """Li's Telegram chat on a clock that follows the messages' dates."""
    add_records(db)
    link_telegram(db, "li", LI_TG)
    router = build_router(db, settings, clock=clock)

    def send(update: dict, minute: float):
        clock.now = NOW + timedelta(minutes=minute, seconds=2)
        incoming = to_incoming(Update.de_json(update, None), "123", "fieldcrm_bot")
        assert incoming is not None
        return "\n".join(" ".join([r.title or "", r.text, *(f"{k}: {v}" for k, v in r.fields)])
                         for r in router.handle(incoming))

    return send


def stamp(minute: float) -> int:
    return int((NOW + timedelta(minutes=minute)).timestamp())


def share(tg, minute: float, point: tuple[float, float], first: bool = False) -> str:
    """The live location's first message (at minute 1), or one of its edits."""
    body = {"latitude": round(point[0], 6), "longitude": round(point[1], 6), "live_period": 3600,
            "horizontal_accuracy": 9 + minute % 4}
    if first:
        return tg(location_update(body["latitude"], body["longitude"], accuracy=body["horizontal_accuracy"],
                                  live_period=3600, message_id=70, date=stamp(minute)), minute)
    edited = message(location=body, message_id=70, date=stamp(1), edit_date=stamp(minute))
    return tg({"update_id": next_update_id(), "edited_message": edited}, minute)


def at_the_door(minute: float) -> tuple[float, float]:
    return fieldday.toward(NEAR_WEST_LAKE, 50 * minute, 3 + minute % 5)  # a phone in a pocket wanders


def test_a_rep_who_stays_forty_minutes_is_verified_with_his_time_on_site(tg, db):
    tg(text_update("/visit c1", date=stamp(0)), 0)
    assert "已核验" in share(tg, 1, at_the_door(1), first=True)
    for minute in range(6, 42, 5):
        assert share(tg, minute, at_the_door(minute)) == ""  # nothing changes: stay quiet
    ended = tg(text_update("/visit end", date=stamp(42)), 42)
    assert "时长: 40 分钟" in ended and "到达与离开: 10:01–10:41(依据你的实时位置)" in ended
    assert share(tg, 44, fieldday.toward(WEST_LAKE, 10, 700)) == ""  # he drives off: still verified
    assert share(tg, 46, AWAY) == ""
    [visit] = visits_of(db, "li")
    assert (visit.verdict, visit.counts, visit.reasons) == ("verified", True, [])
    assert (visit.arrived_at_place, visit.left_place_at) == (NOW + timedelta(minutes=1), NOW + timedelta(minutes=41))
    listed = tg(text_update("/visits", date=stamp(50)), 50)
    assert "已核验" in listed and "现场 10:01–10:41(40 分钟,实时位置)" in listed


def test_a_rep_who_checks_in_and_leaves_after_three_minutes_is_flagged_in_his_language(tg, db, settings):
    tg(text_update("/visit c1", date=stamp(0)), 0)
    assert "已核验" in share(tg, 1, at_the_door(1), first=True)
    assert share(tg, 2, at_the_door(2)) == "" and share(tg, 4, at_the_door(4)) == ""
    changed = share(tg, 6, AWAY)
    assert "已标记" in changed and "到达客户保存的位置后 3 分钟就离开了(拜访至少应停留 10 分钟)" in changed
    assert "主管会审核" in changed
    ended = tg(text_update("/visit end", date=stamp(30)), 30)
    assert "时长: 3 分钟" in ended and "10:01–10:04" in ended and "已标记" in ended
    [visit] = visits_of(db, "li")
    assert (visit.verdict, visit.counts, [r["code"] for r in visit.reasons]) == ("flagged", False, ["left_early"])
    review = say(ConsoleAdapter(build_router(db, settings), "mei"), "/review")  # his manager reads Chinese
    assert "现场: 10:01–10:04,3 分钟(实时位置)" in review and "3 分钟就离开了" in review


def test_a_live_location_shared_on_the_way_is_far_until_the_trail_reaches_the_customer(tg, db):
    tg(text_update("/visit c1", date=stamp(0)), 0)
    first = share(tg, 1, fieldday.toward(NEAR_WEST_LAKE, 200, 1500), first=True)  # still in the car
    assert "已标记" in first
    assert share(tg, 3, fieldday.toward(NEAR_WEST_LAKE, 200, 700)) == ""
    arrived = share(tg, 5, at_the_door(5))
    assert "已核验" in arrived  # the trail reached the customer: the first update's distance no longer counts
    [visit] = visits_of(db, "li")
    assert (visit.verdict, visit.counts, visit.reasons) == ("verified", True, [])
    assert visit.distance_m is not None and visit.distance_m < 100


def test_a_unit_threshold_of_zero_turns_the_check_off(tg, db, settings):
    admin = ConsoleAdapter(build_router(db, settings), "admin")
    assert "min_dwell_minutes: 10 → 0" in say(admin, "/unit set East Team min_dwell_minutes=0")
    assert "min_dwell_minutes = 0" in say(admin, "/unit East Team")
    tg(text_update("/visit c1", date=stamp(0)), 0)
    share(tg, 1, at_the_door(1), first=True)
    share(tg, 3, at_the_door(3))
    assert share(tg, 5, AWAY) == ""  # left after 2 minutes, and nobody asked
    [visit] = visits_of(db, "li")
    assert (visit.verdict, visit.counts) == ("verified", True)
    assert visit.left_place_at == NOW + timedelta(minutes=3)  # the time on site is still kept


def test_the_org_file_sets_the_minutes_per_unit(demo_org, db):
    load(db, EAST + "    visits: {min_dwell_minutes: 25}\n")
    with db.uow() as uow:
        east = uow.session.scalar(select(OrgUnit.id).where(OrgUnit.name == "East Team"))
        assert thresholds_for(uow, east).min_dwell_minutes == 25
