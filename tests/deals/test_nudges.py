"""Private nudges: no counted visit by 11:00 on a working day, behind pace; off switch; manager digest."""
from datetime import UTC, date, datetime
from decimal import Decimal

from sqlalchemy import select

from bot.services.deals import nudges
from db.models import OutboxMessage, User, Visit
from db.models.target import Target
from tests.conftest import posted, say

# Thursday 2026-11-26 in Asia/Shanghai (UTC+8)
AT_1030 = datetime(2026, 11, 26, 2, 30, tzinfo=UTC)
AT_1105 = datetime(2026, 11, 26, 3, 5, tzinfo=UTC)
AT_1205 = datetime(2026, 11, 26, 4, 5, tzinfo=UTC)


def run(db, now):
    with db.uow() as uow:
        result = nudges.run_due(uow, now)
        uow.commit()
    return result


def dms(db):
    with db.uow() as uow:
        return {(m.chat_id, posted(m).text + str(posted(m).fields)) for m in uow.session.scalars(
            select(OutboxMessage).where(OutboxMessage.kind == "direct"))}


def test_no_visit_by_eleven_nudges_privately_once_and_digest_lists_them(console, db):
    say(console, "/as zhang")
    say(console, "/nudges off")
    with db.uow() as uow:
        li = uow.session.scalar(select(User).where(User.handle == "li"))
        sam = uow.session.scalar(select(User).where(User.handle == "sam"))
        uow.session.add(Visit(user_id=sam.id, started_at=datetime(2026, 11, 26, 1, 0, tzinfo=UTC), counts=True))
        uow.session.add(Visit(user_id=li.id, started_at=datetime(2026, 11, 26, 1, 0, tzinfo=UTC), counts=False))
        uow.session.add(Target(subject_type="user", subject_id=sam.id, period="month",
                               period_start=date(2026, 11, 1), metric="won_amount", value=Decimal(100000)))
        uow.commit()
    assert run(db, AT_1030).nudged == 0
    assert run(db, AT_1105).nudged == 2  # li: no counted visit; sam: behind pace
    assert run(db, AT_1105).nudged == 0
    sent = dms(db)
    assert {chat for chat, _ in sent} == {"@li", "@sam"}
    assert any("今天还没有有效拜访" in text for chat, text in sent if chat == "@li")
    assert any("month target" in text for chat, text in sent if chat == "@sam")
    assert not any(chat == "#sales" for chat, _ in sent)  # never public
    assert run(db, AT_1205).digests == 1
    digest = [text for chat, text in dms(db) if chat == "@mei"]
    assert len(digest) == 1 and "李雷 Li Lei" in digest[0] and "Sam Carter" in digest[0]
    assert "张伟" not in digest[0]
    assert "赢单金额 进度落后" in digest[0] and "won_amount" not in digest[0]


def test_weekend_gets_no_nudge(demo_org, db):
    assert run(db, datetime(2026, 11, 28, 4, 0, tzinfo=UTC)).nudged == 0


def test_off_switch_usage(console):
    say(console, "/as li")
    assert "提醒已开启" in say(console, "/nudges on")
    assert "用法" in say(console, "/nudges maybe") or "on, off" in say(console, "/nudges maybe")
