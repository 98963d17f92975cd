"""A refused position (forwarded, or dated in the future) leaves a trace the manager sees: through the
Telegram adapter with real Update JSON the rep is told it was refused, the visit keeps waiting with
the attempt kept on it, the manager's review shows it (en and zh, on the rep's clock), and a genuine
position pinned later keeps it and is flagged. With nothing waiting, nothing is written."""
import time
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select
from telegram import Update

from bot.adapters.console import ConsoleAdapter
from bot.adapters.telegram.inbound import to_incoming
from bot.bootstrap import build_router
from bot.errors import UserError
from bot.router import LAST_OUTCOME
from bot.services.visits import shared_location
from bot.services.visits.location_checks import Fix
from bot.services.visits.refusals import Refused
from db.base import utcnow
from db.models import AuditEntry, Visit
from tests.conftest import say
from tests.fakes.telegram_api import location_update, text_update
from tests.platforms.telegram_harness import link_telegram
from tests.visits.test_visits import user_id, visits_of
from tests.visits.test_visits_telegram import LI_TG, WORKSPACE, texts

TEA = (30.243213, 120.150817)


@pytest.fixture
def tg(db, settings, records):
    """Li on Telegram (he reads Chinese): an update in, the bot's replies out."""
    link_telegram(db, "li", LI_TG, WORKSPACE)
    router = build_router(db, settings)
    return lambda update: router.handle(to_incoming(Update.de_json(update, None), WORKSPACE, "fieldcrm_bot"))


def forwarded(lat: float = TEA[0], lon: float = TEA[1]) -> dict:
    update = location_update(lat, lon, accuracy=10)
    update["message"]["forward_origin"] = {"type": "user", "date": int(time.time()) - 600,
                                           "sender_user": {"id": 777, "is_bot": False, "first_name": "Zhang"}}
    return update


def future_dated() -> dict:
    return location_update(*TEA, accuracy=10, date=int(time.time()) + 3600)


def review(db, settings, locale: str) -> str:
    mei = ConsoleAdapter(build_router(db, settings), "mei")
    say(mei, f"/lang {locale}")
    return say(mei, "/review")


def local_time(reason: dict, key: str = "at") -> str:
    return datetime.fromisoformat(reason[key]).strftime("%H:%M")


def visit_audits(db) -> int:
    with db.uow() as uow:
        return uow.session.scalar(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.record_type == "visit", AuditEntry.action == "update")) or 0


def test_a_forwarded_position_is_kept_on_the_waiting_visit_and_shown_in_review(tg, db, settings):
    tg(text_update("/visit c1"))
    audits = visit_audits(db)
    [refusal] = tg(forwarded())
    assert "转发的位置是别人的位置" in texts([refusal])
    assert refusal.refused and LAST_OUTCOME.get() == "refused"  # a form shows it as one; /metrics counts it so
    [visit] = visits_of(db, "li")
    assert (visit.status, visit.latitude, visit.verdict) == ("waiting", None, "unverified")
    [trace] = visit.reasons
    assert (trace["code"], trace["severity"], trace["count"]) == ("refused_forwarded", "flag", 1)
    assert datetime.fromisoformat(trace["at"]).utcoffset() == timedelta(hours=8)  # Li's clock, Asia/Shanghai
    assert visit_audits(db) == audits + 1
    at = local_time(trace)

    english = review(db, settings, "en")
    assert "Still waiting for a location, after a position was refused:" in english
    assert f"#{visit.id} 李雷 Li Lei, visit @ West Lake Tea: a forwarded position (someone else's) was refused at {at}" \
        in english
    assert f"{at} 发来的转发位置(别人的位置)已被拒绝" in review(db, settings, "zh")
    listed = texts(tg(text_update("/visits")))  # the rep's own list says it too
    assert "等待位置" in listed and f"{at} 发来的转发位置(别人的位置)已被拒绝" in listed
    mei = ConsoleAdapter(build_router(db, settings), "mei")
    say(mei, "/lang en")
    assert f"a forwarded position (someone else's) was refused at {at}" in say(mei, "/visits --rep li")

    pinned = texts(tg(location_update(*TEA, accuracy=10)))  # his own position, at last
    assert "已标记" in pinned and f"{at} 发来的转发位置" in pinned
    [visit] = visits_of(db, "li")
    assert (visit.status, visit.verdict, visit.counts) == ("open", "flagged", False)
    assert [r["code"] for r in visit.reasons] == ["refused_forwarded"]
    english = review(db, settings, "en")
    assert "Visits to review: 1" in english and f"/review approve {visit.id}" in english
    assert f"Why: a forwarded position (someone else's) was refused at {at}" in english
    assert "Still waiting for a location" not in english


def test_future_dated_positions_are_counted_in_one_reason_and_read_in_review_when_none_comes(tg, db, settings):
    tg(text_update("/visit c1"))
    assert "比现在晚 60 分钟" in texts(tg(future_dated()))
    assert "比现在晚 60 分钟" in texts(tg(future_dated()))
    assert "转发的位置" in texts(tg(forwarded()))
    [visit] = visits_of(db, "li")
    assert visit.status == "waiting" and visit.latitude is None
    future, forward = visit.reasons
    assert (future["code"], future["count"], future["minutes"]) == ("refused_future", 2, 60)
    assert (forward["code"], forward["count"]) == ("refused_forwarded", 1)

    tg(text_update("/visit end"))
    english = review(db, settings, "en")
    assert "Visits to review: 1" in english
    assert (f"positions dated in the future were refused 2 times, first at {local_time(future, 'first_at')}, "
            f"last at {local_time(future)}; a forwarded position (someone else's) was refused at "
            f"{local_time(forward)}; no location was shared") in english
    assert f"时间在未来的位置被拒绝 2 次,首次 {local_time(future, 'first_at')}" in review(db, settings, "zh")


def test_a_redelivered_refused_update_is_not_counted_again(tg, db):
    tg(text_update("/visit c1"))
    update = future_dated()
    first = texts(tg(update))
    again = tg(update)  # Telegram delivers it again: the kept answer at most, nothing done twice
    assert again == [] or texts(again) == first
    [visit] = visits_of(db, "li")
    assert visit.reasons[0]["count"] == 1


def test_a_check_in_waiting_keeps_the_refused_attempt_and_is_flagged_when_pinned(tg, db):
    tg(text_update("/checkin"))
    tg(forwarded())
    [checkin] = visits_of(db, "li")
    assert (checkin.kind, checkin.status, [r["code"] for r in checkin.reasons]) == ("checkin", "waiting",
                                                                                     ["refused_forwarded"])
    tg(location_update(*TEA, accuracy=10))
    [checkin] = visits_of(db, "li")
    assert checkin.verdict == "flagged" and "refused_forwarded" in [r["code"] for r in checkin.reasons]


def test_with_nothing_waiting_a_refused_position_writes_nothing(tg, db):
    audits = visit_audits(db)
    assert "转发的位置是别人的位置" in texts(tg(forwarded()))
    assert "比现在晚" in texts(tg(future_dated()))
    assert visits_of(db, "li") == [] and visit_audits(db) == audits
    tg(text_update("/visit c1"))
    tg(location_update(*TEA, accuracy=10))
    [visit] = visits_of(db, "li")
    assert visit.verdict == "verified"
    assert "转发的位置是别人的位置" in texts(tg(forwarded()))  # the visit no longer waits: nothing kept
    assert visits_of(db, "li")[0].reasons == visit.reasons


def _link_fix(now: datetime, **changes) -> Fix:
    return Fix(*TEA, 10.0, "web", taken_at=now + timedelta(minutes=30), arrived_at=now, **changes)


def test_the_check_in_link_keeps_a_refused_position_on_the_visit_it_names(db, settings, demo_org, records):
    """The page itself posts no time and cannot forward: its position is never refused this way, so
    the service the page calls is driven with a future-dated position."""
    say(ConsoleAdapter(build_router(db, settings), "li"), "/visit c1")
    [visit] = visits_of(db, "li")
    li = user_id(db, "li")
    with db.uow() as uow:
        refused = shared_location.pin_from_link(uow, li, visit.id, _link_fix(utcnow()))
        uow.commit()
    assert refused == Refused("visits/refused_future", {"minutes": 30}, visit.id)
    [visit] = visits_of(db, "li")
    assert visit.status == "waiting" and [r["code"] for r in visit.reasons] == ["refused_future"]

    say(ConsoleAdapter(build_router(db, settings), "li"), "/visit end")
    with db.uow() as uow, pytest.raises(UserError) as error:  # the visit no longer waits: a plain refusal
        shared_location.pin_from_link(uow, li, visit.id, _link_fix(utcnow()))
    assert error.value.template == "visits/refused_future"
    with db.uow() as uow:
        assert uow.session.get(Visit, visit.id).reasons[0]["count"] == 1
