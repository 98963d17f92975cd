"""Manager review: the queue of his subtree, approve/reject once with who and when, counts kept
right, the rep told; and the daily digest at the manager's local time."""
import threading
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from bot.bootstrap import build_router
from bot.jobs.visits import manager_digests
from bot.messages import Incoming
from db.models import OutboxMessage, Visit
from tests.conftest import posted, say
from tests.visits.test_visits import add_records, clocked_console, user_id, visits_of


@pytest.fixture
def flagged(db, settings, demo_org, clock):
    """Li: one verified visit, one flagged (no accuracy); Sam: one flagged."""
    add_records(db)
    li = clocked_console(db, settings, clock)
    say(li, "/visit c1")
    say(li, "/location 30.2432 120.1508 10")
    say(li, "/visit end")
    say(li, "/visit c2")
    say(li, "/location 30.2432 120.1508")
    say(li, "/visit end")
    sam = clocked_console(db, settings, clock, "sam")
    say(sam, "/visit c3")
    say(sam, "/location 30.2432 120.1508 3000")
    return db


def test_queue_shows_flagged_visits_with_reasons_and_buttons(flagged, db, settings, clock):
    mei = clocked_console(db, settings, clock, "mei")
    say(mei, "/lang en")
    out = say(mei, "/review")
    assert "Visits to review: 2" in out
    assert "no accuracy given" in out and "accuracy 3,000 m is worse than 200 m" in out
    assert "[Approve] /review approve 2" in out and "[Reject] /review reject 2" in out
    assert "#1 " not in out  # the verified one is not in the queue


def test_approve_counts_reject_does_not_and_both_are_recorded(flagged, db, settings, clock):
    mei = clocked_console(db, settings, clock, "mei")
    say(mei, "/lang en")
    assert "approved: it now counts" in say(mei, "/review approve 2")
    assert "rejected: it does not count" in say(mei, "/review reject 3 not at the customer")
    assert "already approved by 王梅 Wang Mei" in say(mei, "/review reject 2")
    assert "only flagged, unverified or place-not-confirmed" in say(mei, "/review approve 1")
    with db.uow() as uow:
        visits = {v.id: v for v in uow.session.scalars(select(Visit))}
        dms = [posted(m).text for m in uow.session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "direct"))]
    assert (visits[2].review_status, visits[2].counts, visits[2].reviewed_by_id) == ("approved", True, user_id(db, "mei"))
    assert (visits[3].review_status, visits[3].counts, visits[3].review_note) == ("rejected", False, "not at the customer")
    assert visits[2].reviewed_at == clock.now and visits[1].counts
    assert any("已被主管批准" in t for t in dms) and any("rejected by your manager" in t for t in dms)
    assert "Visits to review: 0" in say(mei, "/review")


def test_a_reviewed_check_in_is_called_a_check_in(flagged, db, settings, clock):
    """Li's check-in from a vague position is reviewed: he is told about his check-in, not a visit."""
    li = clocked_console(db, settings, clock)
    say(li, "/checkin")
    say(li, "/location 30.2432 120.1508 900")
    (checkin,) = [v.id for v in visits_of(db, "li") if v.kind == "checkin"]
    mei = clocked_console(db, settings, clock, "mei")
    say(mei, "/lang en")
    assert f"Check-in #{checkin} of 李雷 Li Lei approved: it now counts" in say(mei, f"/review approve {checkin}")
    with db.uow() as uow:
        (told,) = [posted(m).text for m in uow.session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "direct"))]
    assert told == f"你的签到 #{checkin} 已被主管批准,计入统计。"


def test_reps_cannot_review_and_managers_only_their_subtree(flagged, db, settings, clock):
    li = clocked_console(db, settings, clock)
    say(li, "/lang en")
    assert "cannot use /review" in say(li, "/review approve 3")
    with db.uow() as uow:
        from db.models import User

        uow.session.get(User, user_id(db, "mei")).data_scope = "unit"  # Mei now sees only the company unit itself
        uow.commit()
    mei = clocked_console(db, settings, clock, "mei")
    say(mei, "/lang en")
    assert "Visits to review: 0" in say(mei, "/review")
    assert "no visit #3 in your team" in say(mei, "/review approve 3")
    assert not visits_of(db, "sam")[0].counts


def test_two_managers_deciding_at_once_decide_once(pg_db, clock):
    from bot.config import load_settings
    from bot.services.core import demo
    from db.models import User

    with pg_db.uow() as uow:
        demo.load_demo(uow, clock.now)
        uow.commit()
    add_records(pg_db)
    settings = load_settings(env_file=None, DATABASE_URL=pg_db.url, SECRET_KEY="k")
    sam = clocked_console(pg_db, settings, clock, "sam")
    say(sam, "/visit c3")
    say(sam, "/location 30.2432 120.1508")
    with pg_db.uow() as uow:
        uow.session.get(User, user_id(pg_db, "admin")).locale = "zh"
        uow.commit()
    router = build_router(pg_db, settings, clock=clock)
    barrier = threading.Barrier(2)
    answers = []

    def press(handle: str, action: str) -> None:
        barrier.wait()
        answers.extend(r.text for r in router.handle(Incoming(
            platform="console", workspace="local", chat_id=f"@{handle}", user_id=handle, button=f"review {action} 1")))

    threads = [threading.Thread(target=press, args=a) for a in (("mei", "approve"), ("admin", "reject"))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum("已由" in a for a in answers) == 1
    [visit] = visits_of(pg_db, "sam")
    assert visit.counts == (visit.review_status == "approved")


def test_daily_digest_at_the_managers_local_time_once(flagged, db, settings):
    manager_digests(db, datetime(2026, 5, 6, 10, 0, tzinfo=UTC), settings)  # 18:00 Shanghai: too early
    with db.uow() as uow:
        assert uow.session.scalar(select(OutboxMessage.id).where(OutboxMessage.kind == "direct")) is None
    for minute in (35, 40):  # 18:35 and 18:40: sent once
        manager_digests(db, datetime(2026, 5, 6, 10, minute, tzinfo=UTC), settings)
    with db.uow() as uow:
        [digest] = uow.session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "direct")).all()
    text = posted(digest).text
    assert digest.chat_id == "@mei" and "2026-05-06 拜访日报:共 3 次" in (posted(digest).title or "")
    assert "李雷 Li Lei:拜访 2 次,计入 1 次,标记 1 次,未签到(无精度 ×1)" in text
    assert "Sam Carter:拜访 1 次,计入 0 次,标记 1 次" in text and "有 2 次拜访等待你审核" in text


def test_review_lines_speak_the_managers_language_not_codes(flagged, db, settings, clock):
    mei = clocked_console(db, settings, clock, "mei")
    zh = say(mei, "/review")
    assert "(拜访,控制台输入)" in zh and "没有精度信息" in zh
    for code in ("visit", "live", "static", "typed", "venue", "none", "flagged"):
        assert code not in zh
    assert "的状态为 已核验" in say(mei, "/review approve 1")
    say(mei, "/lang en")
    en = say(mei, "/review")
    assert "(visit, typed in the console)" in en and "typed," not in en
