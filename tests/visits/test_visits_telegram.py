"""Visits through the Telegram adapter with real Update JSON (Bot API shape): static, venue,
forwarded, future-dated and live locations (edited_message sequence), and a group chat."""
import time

import pytest
from sqlalchemy import select
from telegram import Update

from bot.adapters.telegram.inbound import to_incoming
from bot.adapters.telegram.outbound import plan_messages
from bot.bootstrap import build_router
from db.models import VisitTrailPoint
from tests.fakes.telegram_api import location_update, message, next_update_id, text_update
from tests.platforms.telegram_harness import link_telegram
from tests.visits.test_visits import add_records, visits_of

WORKSPACE = "123"
LI_TG = 555


@pytest.fixture
def tg(db, settings, demo_org):
    add_records(db)
    link_telegram(db, "li", LI_TG, WORKSPACE)
    router = build_router(db, settings)

    def send(update: dict):
        incoming = to_incoming(Update.de_json(update, None), WORKSPACE, "fieldcrm_bot")
        assert incoming is not None
        return router.handle(incoming)

    return send


def texts(replies) -> str:
    return "\n".join(" ".join([r.title or "", r.text, *(f"{k}: {v}" for k, v in r.fields)]) for r in replies)


def live_edit(lat: float, lon: float, *, message_id: int, date: int, edit_date: int, accuracy: float = 8,
              heading: int | None = None) -> dict:
    point = {"latitude": lat, "longitude": lon, "live_period": 900, "horizontal_accuracy": accuracy}
    if heading is not None:
        point["heading"] = heading
    body = message(location=point, message_id=message_id, date=date, edit_date=edit_date)
    return {"update_id": next_update_id(), "edited_message": body}


def test_visit_asks_for_the_share_location_keyboard_and_a_location_pins_it(tg, db):
    [reply] = tg(text_update("/visit c1"))
    assert reply.request_location and "发送我的位置" in reply.text
    assert any(m.markup is not None and "request_location" in str(m.markup.to_dict())
               for m in plan_messages(reply, private=True, locale="zh"))
    assert "已核验" in texts(tg(location_update(30.243213, 120.150817, accuracy=15)))
    [visit] = visits_of(db, "li")
    assert (visit.source, visit.verdict, visit.accuracy_m) == ("static", "verified", 15)


def test_forwarded_location_is_refused_and_the_visit_keeps_waiting(tg, db):
    tg(text_update("/visit c1"))
    forwarded = location_update(30.243213, 120.150817, accuracy=10)
    forwarded["message"]["forward_origin"] = {"type": "user", "date": int(time.time()) - 600,
                                              "sender_user": {"id": 777, "is_bot": False, "first_name": "Zhang"}}
    assert "转发的位置是别人的位置" in texts(tg(forwarded))
    [visit] = visits_of(db, "li")
    assert visit.latitude is None and visit.status == "waiting"
    # His own position pins it, flagged for review: the refused attempt is kept (tests/visits/test_refused_positions.py)
    assert "已标记" in texts(tg(location_update(30.243213, 120.150817, accuracy=10)))


def test_location_forwarded_in_the_legacy_shape_is_refused_too(tg, db):
    tg(text_update("/visit c1"))
    forwarded = location_update(30.243213, 120.150817, accuracy=10)
    forwarded["message"]["forward_date"] = int(time.time()) - 600  # Bot API < 7.0: no forward_origin
    forwarded["message"]["forward_from"] = {"id": 777, "is_bot": False, "first_name": "Zhang"}
    assert "转发的位置是别人的位置" in texts(tg(forwarded))
    [visit] = visits_of(db, "li")
    assert visit.latitude is None and visit.status == "waiting"


def test_future_dated_location_is_refused(tg, db):
    tg(text_update("/visit c1"))
    assert "比现在晚" in texts(tg(location_update(30.243213, 120.150817, accuracy=10, date=int(time.time()) + 3600)))
    assert visits_of(db, "li")[0].latitude is None


def test_venue_counts_as_manual_and_is_flagged(tg, db):
    tg(text_update("/visit c1"))
    venue = {"update_id": next_update_id(), "message": message(
        venue={"location": {"latitude": 30.2432, "longitude": 120.1508}, "title": "West Lake Tea",
               "address": "1 Beishan Rd"},
        location={"latitude": 30.2432, "longitude": 120.1508})}
    assert "地图选点" in texts(tg(venue))
    [visit] = visits_of(db, "li")
    assert (visit.source, visit.verdict) == ("venue", "flagged")


def test_live_location_that_moves_stays_verified(tg, db):
    tg(text_update("/visit c1"))
    start = int(time.time()) - 120
    first = location_update(30.243168, 120.150746, accuracy=8, live_period=900, message_id=40, date=start)
    assert "已核验" in texts(tg(first))
    for step in range(1, 4):
        assert tg(live_edit(30.243168 + step * 0.00002, 120.150746, message_id=40, date=start, edit_date=start + step * 30,
                            heading=2 + step)) == []
    [visit] = visits_of(db, "li")
    assert (visit.source, visit.verdict, visit.counts) == ("live", "verified", True)
    with db.uow() as uow:  # the course the phone reported is kept for the heading check
        headings = uow.session.scalars(select(VisitTrailPoint.heading).order_by(VisitTrailPoint.id)).all()
    assert headings == [None, 3, 4, 5]


def test_live_location_that_never_moves_is_flagged_once_it_shows(tg, db):
    tg(text_update("/visit c1"))
    start = int(time.time()) - 120
    tg(location_update(30.243168, 120.150746, accuracy=8, live_period=900, message_id=41, date=start))
    assert tg(live_edit(30.243168, 120.150746, message_id=41, date=start, edit_date=start + 30)) == []
    changed = tg(live_edit(30.243168, 120.150746, message_id=41, date=start, edit_date=start + 60))
    assert "已标记" in texts(changed)  # told once, when the verdict changes
    assert "原因:实时位置从未移动(3 次更新)。" in texts(changed) and "主管会审核" in texts(changed)
    assert tg(live_edit(30.243168, 120.150746, message_id=41, date=start, edit_date=start + 90)) == []
    [visit] = visits_of(db, "li")
    assert visit.verdict == "flagged" and not visit.counts and "live_not_moving" in [r["code"] for r in visit.reasons]


def test_a_verdict_change_says_why_and_that_a_manager_will_look_in_english(tg, db):
    tg(text_update("/lang en"))
    tg(text_update("/visit c1"))
    start = int(time.time()) - 120
    tg(location_update(30.243168, 120.150746, accuracy=8, live_period=900, message_id=42, date=start))
    tg(live_edit(30.243168, 120.150746, message_id=42, date=start, edit_date=start + 30))
    changed = texts(tg(live_edit(30.243168, 120.150746, message_id=42, date=start, edit_date=start + 60)))
    assert "changed the verdict of visit #1: flagged" in changed
    assert "Why: live location never moved (3 updates)." in changed and "A manager will review it" in changed


def test_location_in_a_group_is_refused(tg, db):
    tg(text_update("/visit c1"))
    group = location_update(30.243213, 120.150817, accuracy=10, chat_id=-100, chat_type="group")
    assert "私聊" in texts(tg(group))
    assert visits_of(db, "li")[0].latitude is None


def test_live_updates_nothing_follows_stay_quiet_but_a_first_share_is_answered(tg, db):
    start = int(time.time()) - 60
    first = location_update(30.243168, 120.150746, accuracy=8, live_period=900, message_id=50, date=start)
    assert "没有需要定位的操作" in texts(tg(first))
    assert tg(live_edit(30.243168, 120.150746, message_id=50, date=start, edit_date=start + 30)) == []
    assert visits_of(db, "li") == []


def test_typing_location_on_telegram_asks_for_the_share_button_never_for_coordinates(tg, db):
    tg(text_update("/visit c1"))
    for typed in ("/location", "/location 30.2432 120.1508"):
        [reply] = tg(text_update(typed))
        assert reply.request_location and "发送我的位置" in reply.text
        assert "LAT" not in reply.text and "纬度" not in reply.text
    assert visits_of(db, "li")[0].latitude is None  # nothing pinned from typed numbers
    [reply] = tg(text_update("/visit end"))
    [reply] = tg(text_update("/location"))
    assert not reply.request_location and "纬度" not in reply.text  # nothing waits: said so, nothing to type


def test_a_first_visit_to_a_customer_without_a_place_is_held_in_chinese(tg, db):
    """Shanghai Foods has no place: the first good position becomes a place not yet confirmed, and
    the visit waits for it (never flagged as far away)."""
    tg(text_update("/visit c2"))
    out = texts(tg(location_update(31.230417, 121.473702, accuracy=12)))
    assert "核验: 地点待确认" in out and "已将此位置暂存为 Shanghai Foods 的待确认地点" in out
    assert "地点确认或主管批准后,这次拜访才计入统计" in out
    [visit] = visits_of(db, "li")
    assert (visit.verdict, visit.counts, [r["code"] for r in visit.reasons]) == (
        "unconfirmed", False, ["place_unconfirmed"])
