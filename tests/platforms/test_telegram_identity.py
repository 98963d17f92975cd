"""Identities an admin manages, seen through the real Telegram front end: an unlinked account is a
stranger again, an old code is revoked by a new one, and a linked account cannot take someone
else's code."""
from sqlalchemy import select

from bot.services.core import identity
from db.base import utcnow
from db.models import PlatformIdentity
from tests.platforms import test_telegram
from tests.platforms.test_telegram import LI, invitation_for, link

# The real front end on a fake Bot API, as test_telegram builds it.
api = test_telegram.api
webhook_bot = test_telegram.webhook_bot


def unlink(db, handle: str, platform: str) -> None:
    with db.uow() as uow:
        user = identity.find_user(uow, handle)
        assert identity.unlink(uow, user.id, platform, utcnow())
        uow.commit()


async def test_unlinked_telegram_account_is_a_stranger_until_it_joins_with_the_newest_code(webhook_bot, db):  # noqa: F811 (the fixture)
    assert "欢迎" in await link(webhook_bot, db, "li", LI)
    whoami = await webhook_bot.say("/whoami")
    assert "Telegram" in whoami and "Li" in whoami and "起绑定" in whoami
    unlink(db, "li", "telegram")
    answer = await webhook_bot.say("/whoami", language_code="en")
    assert "invitation code" in answer and "李雷" not in answer
    old, new = invitation_for(db, "li"), invitation_for(db, "li")
    assert "取代" in await webhook_bot.say(f"/join {old}")
    assert "欢迎" in await webhook_bot.say(f"/join {new}")
    with db.uow() as uow:
        rows = uow.session.scalars(select(PlatformIdentity).where(PlatformIdentity.platform == "telegram")).all()
    assert len(rows) == 2 and sum(row.unlinked_at is not None for row in rows) == 1


async def test_telegram_account_linked_to_li_cannot_take_sams_code(webhook_bot, db):  # noqa: F811 (the fixture)
    await link(webhook_bot, db, "li", LI)
    sams = invitation_for(db, "sam")
    refusal = await webhook_bot.say(f"/join {sams}")
    assert "已经绑定给 李雷 Li Lei" in refusal and "没有做任何更改" in refusal
    assert "李雷 Li Lei" in await webhook_bot.say("/whoami")
    assert "Welcome" in await webhook_bot.say(f"/join {sams}", chat_id=777, language_code="en")
