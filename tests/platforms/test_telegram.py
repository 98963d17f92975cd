"""The Telegram adapter against a fake Bot API server, with the real python-telegram-bot code,
the real aiohttp server and the real router and database (SQLite and PostgreSQL)."""
import html
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select
from telegram import Update

from bot.adapters.telegram.front_end import TelegramFrontEnd
from bot.adapters.telegram.inbound import to_incoming
from bot.adapters.telegram.outbound import MESSAGE_LIMIT, limits, plan_messages, utf16_len
from bot.bootstrap import build_router, send_budget
from bot.config import load_settings
from bot.delivery import Dispatcher, PermanentFailure, RetryAfter
from bot.messages import Button, Reply
from bot.router import Router
from bot.services.core import identity
from db.base import utcnow
from db.models import InboundEvent, OutboxMessage
from db.session import Database
from tests.fakes.telegram_api import (
    FakeTelegramAPI,
    callback_update,
    live_edit_update,
    location_update,
    message,
    next_update_id,
    text_update,
)
from tests.platforms.telegram_harness import (
    SECRET,
    TOKEN,
    WebhookBot,
    running_webhook,
    telegram_settings,
)

LI, SAM, STRANGER = 555, 777, 999


def invitation_for(db: Database, handle: str) -> str:
    with db.uow() as uow:
        user = identity.find_user(uow, handle)
        assert user is not None
        code = identity.create_invitation(uow, user.id, utcnow(), 14)
        uow.commit()
    return code


def count_rows(db: Database, model: type) -> int:
    with db.uow() as uow:
        return uow.session.scalar(select(func.count()).select_from(model)) or 0


@pytest.fixture
async def api() -> AsyncIterator[FakeTelegramAPI]:
    fake = await FakeTelegramAPI(token=TOKEN).start()
    yield fake
    await fake.close()


@pytest.fixture
async def webhook_bot(db: Database, demo_org: Database, router: Router, api: FakeTelegramAPI
                      ) -> AsyncIterator[WebhookBot]:
    async with running_webhook(db, router, api) as bot:
        yield bot


async def link(bot: WebhookBot, db: Database, handle: str, chat_id: int) -> str:
    return await bot.say(f"/join {invitation_for(db, handle)}", chat_id=chat_id)


# ---------------------------------------------------------------- webhook, end to end


async def test_join_then_whoami_and_help_in_a_private_chat(webhook_bot, db):
    welcome = await link(webhook_bot, db, "li", LI)
    assert "欢迎" in welcome and "East Team" in welcome
    assert webhook_bot.api.called("sendMessage")[-1]["parse_mode"] == "HTML"
    whoami = await webhook_bot.say("/whoami")
    assert "<b>李雷 Li Lei</b>" in whoami and "<b>" in whoami and "销售" in whoami
    help_text = await webhook_bot.say("/help")
    assert "/whoami" in help_text and "/lang" in help_text


async def test_deep_link_start_code_links_the_user(webhook_bot, db):
    code = invitation_for(db, "sam")
    assert "Welcome" in await webhook_bot.say(f"/start {code}", chat_id=SAM, language_code="en")
    assert "Sam Carter" in await webhook_bot.say("/whoami", chat_id=SAM)


async def test_unlinked_person_gets_one_line_about_joining(webhook_bot):
    for text in ("/help", "/whoami", "/start"):
        answer = await webhook_bot.say(text, chat_id=STRANGER, language_code="en")
        assert "invitation code" in answer and "\n" not in answer


async def test_wrong_or_missing_secret_is_refused_and_nothing_is_written(webhook_bot, db):
    update = text_update("/help", chat_id=STRANGER, user_id=STRANGER)
    assert await webhook_bot.post(update, secret="wrong") == 403
    assert await webhook_bot.post(update, secret=None) == 403
    assert count_rows(db, InboundEvent) == 0
    assert webhook_bot.api.called("sendMessage") == []


async def test_bad_body_is_a_400_not_a_crash(webhook_bot, db):
    assert await webhook_bot.post("{not json") == 400
    assert await webhook_bot.post("[1, 2]") == 400
    assert await webhook_bot.post({"no": "update_id"}) == 400
    assert count_rows(db, InboundEvent) == 0
    assert "invitation code" in await webhook_bot.say("/help", chat_id=STRANGER, language_code="en")


async def test_the_same_update_delivered_twice_acts_once(webhook_bot, db):
    code = invitation_for(db, "li")
    update = text_update(f"/join {code}", chat_id=LI, user_id=LI)
    assert await webhook_bot.post(update) == 200
    assert await webhook_bot.post(update) == 200
    await webhook_bot.api.wait_for("sendMessage", 1)
    await webhook_bot.say("/whoami")  # a later update is answered: the retry was simply dropped
    texts = webhook_bot.api.texts()
    assert len(texts) == 2 and "欢迎" in texts[0]
    assert count_rows(db, InboundEvent) == 2


async def test_user_text_is_escaped_in_the_html(webhook_bot, db):
    await link(webhook_bot, db, "sam", SAM)
    answer = await webhook_bot.say("/<script>alert(1)&", chat_id=SAM)
    assert "<script>" not in answer
    assert "&lt;script&gt;alert(1)&amp;" in answer


async def test_group_commands_addressed_to_this_bot_only(webhook_bot, db):
    await link(webhook_bot, db, "sam", SAM)
    group = dict(chat_id=-1001, chat_type="supergroup", user_id=SAM)
    assert await webhook_bot.post(text_update("/whoami@otherbot", **group)) == 200
    assert await webhook_bot.post(text_update("/whoami@FieldCRM_bot", **group)) == 200
    sent = await webhook_bot.api.wait_for("sendMessage", 3)
    # /whoami names him: answered in his private chat, the group told so
    assert sent[-2]["chat_id"] == str(SAM) and "Sam Carter" in sent[-2]["text"]
    assert sent[-1]["chat_id"] == "-1001" and "Sam Carter" not in sent[-1]["text"]
    assert len(webhook_bot.api.called("sendMessage")) == 3  # /join answer + one whoami + the group line


async def test_plain_text_in_a_group_is_ignored(webhook_bot, db):
    # In a private chat plain words are answered now (test_telegram_answers.py); in a group never.
    group = dict(chat_id=-1001, chat_type="supergroup", user_id=STRANGER)
    assert await webhook_bot.post(text_update("hello there", **group)) == 200
    await webhook_bot.say("/help", chat_id=STRANGER)  # answered after the chatter was dropped
    assert [p["chat_id"] for p in webhook_bot.api.called("sendMessage")] == [str(STRANGER)]


async def test_a_shared_location_reaches_the_location_handler(webhook_bot, db):
    await link(webhook_bot, db, "sam", SAM)
    before = len(webhook_bot.api.texts())
    update = location_update(31.23, 121.47, accuracy=12.0, chat_id=SAM, user_id=SAM)
    assert await webhook_bot.post(update) == 200
    sent = await webhook_bot.api.wait_for("sendMessage", before + 1)
    assert "nothing is waiting for a location" in sent[-1]["text"]


async def test_a_button_press_is_answered_and_routed(webhook_bot, db):
    await link(webhook_bot, db, "sam", SAM)
    before = len(webhook_bot.api.texts())
    assert await webhook_bot.post(callback_update("whoami", chat_id=SAM, user_id=SAM)) == 200
    answered = await webhook_bot.api.wait_for("answerCallbackQuery")
    assert answered[0]["callback_query_id"].startswith("cq")
    sent = await webhook_bot.api.wait_for("sendMessage", before + 1)
    assert "Sam Carter" in sent[-1]["text"]


async def test_a_press_is_answered_even_when_nothing_can_run(webhook_bot):
    assert await webhook_bot.post(callback_update("whoami", chat_id=STRANGER, user_id=STRANGER, language_code="en")) == 200
    await webhook_bot.api.wait_for("answerCallbackQuery")
    assert "invitation code" in (await webhook_bot.api.wait_for("sendMessage"))[0]["text"]


async def test_start_registers_the_webhook_and_the_menu_in_each_language(webhook_bot):
    (hook,) = webhook_bot.api.called("setWebhook")
    assert hook["url"] == "https://bot.example.com/telegram/webhook" and hook["secret_token"] == SECRET
    menus = {p.get("language_code", ""): p["commands"] for p in webhook_bot.api.called("setMyCommands")}
    assert set(menus) == {"", "en", "zh"}
    for commands in menus.values():
        names = [c["command"] for c in commands]
        assert "join" in names and "whoami" in names and "start" not in names and "location" not in names
        assert len(commands) <= 100
        for command in commands:
            assert command["command"].isascii() and command["command"] == command["command"].lower()
            assert 1 <= len(command["command"]) <= 32 and 1 <= len(command["description"]) <= 256
    assert any("绑定" in c["description"] for c in menus["zh"])


# ---------------------------------------------------------------- polling


async def test_polling_mode_answers_and_stops_cleanly(db, demo_org, router, api):
    front_end = TelegramFrontEnd(telegram_settings(db, api, webhook=False), router, send_budget(router.db))
    api.queue_update(text_update("/help", chat_id=STRANGER, user_id=STRANGER, language_code="en"))
    await front_end.start()
    try:
        sent = await api.wait_for("sendMessage")
        assert "invitation code" in sent[0]["text"]
        api.queue_update(text_update("/whoami", chat_id=STRANGER, user_id=STRANGER, language_code="zh"))
        sent = await api.wait_for("sendMessage", 2)
        assert "邀请码" in sent[1]["text"]
    finally:
        await front_end.stop()
    assert api.called("deleteWebhook") and not api.called("setWebhook")
    assert not front_end.application.running
    assert count_rows(db, InboundEvent) == 2


# ---------------------------------------------------------------- translation


def parse(data: dict) -> Update:
    update = Update.de_json(data, None)
    assert update is not None
    return update


def test_a_location_message_becomes_a_static_location():
    data = location_update(31.2304, 121.4737, accuracy=8.5, update_id=41, chat_id=LI, user_id=LI, date=1_700_000_000)
    incoming = to_incoming(parse(data), "123")
    assert incoming is not None and incoming.location is not None
    loc = incoming.location
    assert (loc.latitude, loc.longitude, loc.accuracy_m) == (31.2304, 121.4737, 8.5)
    assert loc.source == "static" and not loc.forwarded and loc.live_period_s is None
    assert loc.taken_at == datetime.fromtimestamp(1_700_000_000, UTC) == incoming.sent_at
    assert (incoming.event_id, incoming.chat_id, incoming.user_id, incoming.workspace) == ("41", "555", "555", "123")
    assert incoming.is_private and incoming.language_hint == "zh" and incoming.platform == "telegram"


def test_a_forwarded_location_is_marked_forwarded():
    origin = {"type": "user", "date": 1_699_000_000, "sender_user": {"id": 1, "is_bot": False, "first_name": "X"}}
    data = location_update(30.0, 120.0, chat_id=LI, user_id=LI, forward_origin=origin)
    incoming = to_incoming(parse(data), "123")
    assert incoming is not None and incoming.location is not None and incoming.location.forwarded


def test_a_venue_is_a_venue():
    data = {"update_id": next_update_id(), "message": message(
        chat_id=LI, user_id=LI,
        location={"latitude": 30.0, "longitude": 120.0},
        venue={"location": {"latitude": 30.0, "longitude": 120.0}, "title": "Acme HQ", "address": "1 Road"},
    )}
    incoming = to_incoming(parse(data), "123")
    assert incoming is not None and incoming.location is not None and incoming.location.source == "venue"


def test_a_live_location_and_its_updates_share_the_message_id():
    start = location_update(30.0, 120.0, live_period=900, update_id=50, message_id=9, chat_id=LI, user_id=LI,
                            date=1_700_000_000)
    moves = [
        live_edit_update(30.0 + i / 1000, 120.0, accuracy=5.0, message_id=9, date=1_700_000_000,
                         edit_date=1_700_000_000 + 60 * i, update_id=50 + i, chat_id=LI, user_id=LI)
        for i in (1, 2)
    ]
    incomings = [to_incoming(parse(d), "123") for d in [start, *moves]]
    assert all(i is not None and i.location is not None for i in incomings)
    locations = [i.location for i in incomings]  # type: ignore[union-attr]
    assert [loc.source for loc in locations] == ["live"] * 3  # type: ignore[union-attr]
    assert {loc.message_id for loc in locations} == {"9"}  # type: ignore[union-attr]
    assert locations[0].live_period_s == 900  # type: ignore[union-attr]
    assert [i.event_id for i in incomings] == ["50", "51", "52"]  # type: ignore[union-attr]
    assert incomings[2].sent_at == locations[2].taken_at == datetime.fromtimestamp(1_700_000_120, UTC)  # type: ignore


def test_commands_and_what_is_ignored():
    group = to_incoming(parse(text_update("/Join@fieldcrm_bot ab12 cd", chat_id=-5, chat_type="group")), "123",
                        "fieldcrm_bot")
    assert group is not None and (group.command, group.args, group.is_private) == ("join", "ab12 cd", False)
    start = to_incoming(parse(text_update("/start CODE42")), "123")
    assert start is not None and (start.command, start.args) == ("start", "CODE42")
    assert to_incoming(parse(text_update("just chatting", chat_type="group", chat_id=-5)), "123") is None
    chat = to_incoming(parse(text_update("just chatting")), "123")  # private: words, not a command
    assert chat is not None and (chat.command, chat.text) == ("", "just chatting")
    assert to_incoming(parse(text_update("/help@otherbot", chat_type="group", chat_id=-5)), "123", "fieldcrm_bot") is None
    edited_text = {"update_id": next_update_id(), "edited_message": message("/join X", edit_date=1_700_000_100)}
    assert to_incoming(parse(edited_text), "123") is None  # an edited command is not run again


def test_a_button_press_becomes_its_payload():
    incoming = to_incoming(parse(callback_update("claim 42", update_id=77)), "123")
    assert incoming is not None and incoming.button == "claim 42" and incoming.event_id == "77"


# ---------------------------------------------------------------- rendering


def test_long_replies_split_on_line_boundaries_within_the_limit():
    lines = [f"line {i} " + "x" * 90 + " <&>" for i in range(120)]
    messages = plan_messages(Reply(text="\n".join(lines), title="Report"), True, "en")
    assert len(messages) >= 3
    assert all(utf16_len(m.html) <= MESSAGE_LIMIT for m in messages)
    assert messages[0].html.startswith("<b>Report</b>\n")
    rejoined = "\n".join(m.html for m in messages).split("\n")[1:]
    assert rejoined == [html.escape(line) for line in lines]
    one_huge_line = plan_messages(Reply(text="&" * 5000), True, "en")
    assert all(utf16_len(m.html) <= MESSAGE_LIMIT for m in one_huge_line)
    assert "".join(m.html for m in one_huge_line) == "&amp;" * 5000


def test_buttons_fields_and_the_location_keyboard():
    reply = Reply(text="Pick one", fields=[("Amount", "5 < 6")], buttons=[
        Button("Claim", "claim 42"), Button("Site", "", url="https://example.com"),
    ], request_location=True)
    private = plan_messages(reply, True, "zh")
    assert "<b>Amount</b>: 5 &lt; 6" in private[0].html
    keyboard = private[0].markup.to_dict()["inline_keyboard"]  # type: ignore[union-attr]
    assert [row[0].get("callback_data") or row[0]["url"] for row in keyboard] == ["claim 42", "https://example.com"]
    share = private[1].markup.to_dict()  # type: ignore[union-attr]
    assert share["keyboard"][0][0] == {"text": "发送我的位置", "request_location": True}
    assert share["one_time_keyboard"] is True
    group = plan_messages(reply, False, "zh")
    assert len(group) == 1 and "keyboard" not in group[0].markup.to_dict()  # type: ignore[union-attr]


def test_an_oversized_button_payload_is_dropped_loudly(caplog):
    reply = Reply(text="Go", buttons=[Button("Too long", "x" * 65), Button("Fine", "ok")])
    with caplog.at_level(logging.ERROR, logger="bot.adapters.telegram"):
        (out,) = plan_messages(reply, True, "en")
    assert [row[0]["text"] for row in out.markup.to_dict()["inline_keyboard"]] == ["Fine"]  # type: ignore
    assert "64" in caplog.text and "Too long" in caplog.text


# ---------------------------------------------------------------- outbox sender


@pytest.fixture
async def front_end(db, router, api) -> AsyncIterator[TelegramFrontEnd]:
    front = TelegramFrontEnd(telegram_settings(db, api, webhook=True), router, send_budget(router.db))
    yield front
    await front.application.shutdown()


async def test_sender_maps_telegram_errors(front_end, api):
    sender = front_end.sender
    api.fail_next("sendMessage", status=429, retry_after=7)
    with pytest.raises(RetryAfter) as raised:
        await sender.send("123", "-100200", Reply(text="Big win"))
    assert raised.value.seconds == 7
    api.fail_next("sendMessage", status=403, description="Forbidden: bot was kicked from the group chat")
    with pytest.raises(PermanentFailure):
        await sender.send("123", "-100200", Reply(text="Big win"))
    api.fail_next("sendMessage", status=400, description="Bad Request: chat not found")
    with pytest.raises(PermanentFailure):
        await sender.send("123", "-100200", Reply(text="Big win"))
    await sender.send("123", "-100200", Reply(text="a" * 3000 + "\n" + "b" * 3000))
    parts = api.texts("-100200")[-2:]
    assert parts == ["a" * 3000, "b" * 3000]


async def test_a_file_is_sent_as_a_document_after_its_text(front_end, api):
    await front_end.sender.send("123", "555", Reply(text="Export ready", file_name="leads.csv", file_bytes=b"a,b\n1,2\n"))
    assert api.texts("555") == ["Export ready"]
    (document,) = api.called("sendDocument")
    assert document["document_name"] == "leads.csv" and document["document_bytes"] == b"a,b\n1,2\n"
    assert api.called("sendPhoto") == []


def test_each_send_takes_the_bots_overall_and_its_chats_limit():
    group, dm = limits("123", "-100200"), limits("123", "555")
    # Telegram's limits, never faster than published; the overall one shared by every chat.
    assert group[0] == dm[0] and group[0].shared and group[0].count == 30 and 1.0 <= group[0].period <= 1.1
    assert group[1].count == 20 and 60.0 <= group[1].period <= 66.0 and group[1].key != dm[1].key
    assert dm[1].count == 3 and 1.0 <= dm[1].period <= 1.1
    assert limits("456", "-100200")[0].key != group[0].key  # one budget per bot account


async def test_dispatcher_delivers_a_telegram_post_after_a_429(db, front_end, api):
    with db.uow() as uow:
        uow.session.add(OutboxMessage(platform="telegram", workspace="123", chat_id="-100200",
                                      payload=Reply(text="Sam won <Acme>", title="Deal!").to_json()))
        uow.commit()
    api.fail_next("sendMessage", status=429, retry_after=1)
    dispatcher = Dispatcher(db, {"telegram": front_end.sender})
    assert await dispatcher.deliver_due() == 1
    with db.uow() as uow:
        row = uow.session.scalars(select(OutboxMessage)).one()
        assert row.status == "sent"
    sent = api.called("sendMessage")
    assert len(sent) == 2 and sent[-1]["text"] == "<b>Deal!</b>\nSam won &lt;Acme&gt;"


async def test_a_press_is_answered_and_explained_when_the_database_is_down(api, tmp_path):
    broken = Database(f"sqlite:///{tmp_path / 'missing-dir' / 'crm.sqlite3'}")
    settings = load_settings(env_file=None, DATABASE_URL=broken.url, TELEGRAM_BOT_TOKEN=TOKEN,
                             TELEGRAM_API_BASE_URL=api.base_url)
    front_end = TelegramFrontEnd(settings, build_router(broken, settings), send_budget(broken))
    await front_end.start()
    try:
        update = Update.de_json(callback_update("whoami", chat_id=SAM, user_id=SAM, language_code="en"),
                                front_end.application.bot)
        await front_end.application.process_update(update)
        assert api.called("answerCallbackQuery")
        (sent,) = await api.wait_for("sendMessage")
        assert "try again" in sent["text"] and "Traceback" not in sent["text"]
    finally:
        await front_end.stop()
        broken.dispose()
