"""A redelivered update whose effect committed but whose answer never left gets that answer, once;
one whose answer was sent gets nothing. Through the real front ends against the fake platform APIs,
on SQLite and PostgreSQL.

The crash between the commit and the send is played two ways: the platform refusing the first send
(the front end then never confirms the answer, as a process killed there would not), and a process
that ran the command and died before sending (a router of its own, with no front end)."""
from datetime import timedelta

from sqlalchemy import func, select
from telegram import Update

from bot import router as router_module
from bot.adapters.telegram.inbound import to_incoming
from bot.bootstrap import build_router
from bot.config import load_settings
from db.models import Deal, InboundEvent, OutboxMessage
from tests.deals.test_deals import add_customer
from tests.fakes.telegram_api import BOT_USER, text_update
from tests.platforms.test_slack import (  # noqa: F401 - fixtures
    dm,
    fake_slack,
    slack,
    slack_settings,
)
from tests.platforms.test_slack import link as link_slack
from tests.platforms.test_telegram import LI, api, link, webhook_bot  # noqa: F401 - fixtures

WON = "赢单"
ALREADY_WON = "已经赢单"


def count(db, model, *where) -> int:
    with db.uow() as uow:
        return uow.session.scalar(select(func.count()).select_from(model).where(*where)) or 0


def restart_took_a_while(db) -> None:
    """The claims were made a minute ago: a restarted process no longer waits for the dead one."""
    with db.uow() as uow:
        for event in uow.session.scalars(select(InboundEvent)):
            event.received_at -= timedelta(minutes=1)
        uow.commit()


def won_once(db) -> bool:
    return count(db, Deal, Deal.won_at.is_not(None)) == 1 and count(db, OutboxMessage, OutboxMessage.kind == "win") == 1


async def li_with_a_deal(bot, db) -> None:
    await link(bot, db, "li", LI)
    add_customer(db, "li", "Shanghai Steel")
    assert "#1" in await bot.say("/newdeal steel 50000 Big order")


# ---------------------------------------------------------------- Telegram


async def test_a_win_whose_answer_failed_is_answered_once_on_redelivery(webhook_bot, db):  # noqa: F811
    await li_with_a_deal(webhook_bot, db)
    telegram, win = webhook_bot.api, text_update("/win 1", chat_id=LI, user_id=LI)
    before = len(telegram.delivered())
    telegram.fail_next("sendMessage", status=500)
    assert await webhook_bot.post(win) == 200
    assert telegram.delivered()[before:] == [] and won_once(db)  # won, but Li was never told
    assert await webhook_bot.post(win) == 200  # Telegram delivers the update again
    [answer] = telegram.delivered()[before:]
    assert WON in answer and ALREADY_WON not in answer and "50,000.00" in answer
    assert await webhook_bot.post(win) == 200  # and again: the answer reached him, nothing more
    assert len(telegram.delivered()) == before + 1
    assert won_once(db)


async def test_after_a_crash_between_commit_and_send_the_redelivery_answers(webhook_bot, db):  # noqa: F811
    await li_with_a_deal(webhook_bot, db)
    telegram, win = webhook_bot.api, text_update("/win 1", chat_id=LI, user_id=LI)
    front = webhook_bot.front_end
    crashed = build_router(db, front.settings)  # the process that committed the win, then died
    incoming = to_incoming(Update.de_json(win, None), front.workspace, BOT_USER["username"])
    assert incoming is not None and WON in crashed.handle(incoming)[0].title
    before = len(telegram.delivered())
    assert await webhook_bot.post(win) == 200  # at once: the first process might still be sending
    assert len(telegram.delivered()) == before
    restart_took_a_while(db)
    assert await webhook_bot.post(win) == 200  # the restarted process gets the update again
    [answer] = telegram.delivered()[before:]
    assert WON in answer and ALREADY_WON not in answer
    assert await webhook_bot.post(win) == 200
    assert len(telegram.delivered()) == before + 1 and won_once(db)


async def test_a_confirmed_answer_is_not_sent_again(webhook_bot, db):  # noqa: F811
    await li_with_a_deal(webhook_bot, db)
    telegram, win = webhook_bot.api, text_update("/win 1", chat_id=LI, user_id=LI)
    before = len(telegram.delivered())
    assert await webhook_bot.post(win) == 200
    assert await webhook_bot.post(win) == 200
    assert len(telegram.delivered()) == before + 1 and won_once(db)
    await webhook_bot.front_end.router.marked()
    with db.uow() as uow:
        assert uow.session.scalar(select(func.count()).select_from(InboundEvent)
                                  .where(InboundEvent.answered_at.is_(None))) == 0


async def test_a_refusal_whose_answer_failed_is_told_on_redelivery(webhook_bot, db):  # noqa: F811
    await link(webhook_bot, db, "li", LI)
    telegram, win = webhook_bot.api, text_update("/win 999", chat_id=LI, user_id=LI)
    before = len(telegram.delivered())
    telegram.fail_next("sendMessage", status=500)
    assert await webhook_bot.post(win) == 200
    assert await webhook_bot.post(win) == 200
    assert await webhook_bot.post(win) == 200
    [answer] = telegram.delivered()[before:]
    assert "999" in answer


async def test_a_file_too_big_to_keep_is_asked_for_again(webhook_bot, db, monkeypatch):  # noqa: F811
    monkeypatch.setattr(router_module, "KEPT_FILE_LIMIT", 10)
    await link(webhook_bot, db, "admin", 4242)
    telegram = webhook_bot.api
    export = text_update("/export deals --format csv", chat_id=4242, user_id=4242)
    before = len(telegram.delivered())
    telegram.fail_next("sendMessage", status=500)
    assert await webhook_bot.post(export) == 200
    assert telegram.called("sendDocument") == []
    assert await webhook_bot.post(export) == 200
    answer, again = telegram.delivered()[before:]
    assert "/export deals" in again and ".csv" in again
    assert telegram.called("sendDocument") == []  # the file itself was not kept


async def test_a_small_file_is_kept_and_sent_again(webhook_bot, db):  # noqa: F811
    await link(webhook_bot, db, "admin", 4242)
    telegram = webhook_bot.api
    export = text_update("/export deals --format csv", chat_id=4242, user_id=4242)
    before = len(telegram.delivered())
    telegram.fail_next("sendMessage", status=500)
    assert await webhook_bot.post(export) == 200
    assert await webhook_bot.post(export) == 200
    assert len(telegram.delivered()[before:]) == 1
    [document] = telegram.called("sendDocument")
    assert document["document_name"].endswith(".csv")


# ---------------------------------------------------------------- Slack


async def test_slack_a_dm_whose_answer_failed_is_answered_once_on_redelivery(slack, db):  # noqa: F811
    link_slack(db, "admin", "UADMIN")
    slack.fake.fail_next(status=500)
    await slack.event(dm("whoami"), "Ev0100")
    await slack.front.drain()
    [failed] = slack.fake.posts()
    retry = {"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_error"}
    await slack.event(dm("whoami"), "Ev0100", headers=retry)
    await slack.front.drain()
    await slack.event(dm("whoami"), "Ev0100", headers={**retry, "X-Slack-Retry-Num": "2"})
    await slack.front.drain()
    posts = slack.fake.posts()
    assert len(posts) == 2 and posts[1].text == failed.text and "Ada Admin" in posts[1].text


def test_a_process_that_never_confirms_repeats_an_answer_once(db, demo_org):
    """The bound: a crash before the confirmation repeats the answer to the next redelivery, once."""
    from bot.messages import Incoming
    from tests.core.test_inbound import incoming

    settings = load_settings(env_file=None, DATABASE_URL=db.url, SECRET_KEY="test-secret")
    first = build_router(db, settings).handle(incoming("whoami", event_id="ev-9"))
    restart_took_a_while(db)
    restarted = build_router(db, settings)
    event: Incoming = incoming("whoami", event_id="ev-9")
    assert restarted.handle(event) == first
    restarted.sent(event, delivered=True)
    assert restarted.handle(event) == [] and build_router(db, settings).handle(event) == []
