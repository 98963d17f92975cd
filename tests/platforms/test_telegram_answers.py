"""Telegram answers right where people type: pictures as photos, forwards in either shape, a
group's /visit answered in the private chat, plain text answered in private chats only.
Through the fake Bot API, with the real python-telegram-bot code, router and database."""
import pytest
from telegram import InputFile, Update
from telegram.error import BadRequest

from bot.adapters.telegram.inbound import to_incoming
from bot.messages import Reply
from tests.fakes.telegram_api import location_update, text_update
from tests.platforms.test_telegram import (  # noqa: F401 - fixtures
    LI,
    SAM,
    STRANGER,
    api,
    front_end,
    link,
    webhook_bot,
)
from tests.visits.test_visits import add_records, visits_of


def parse(data: dict) -> Update:
    update = Update.de_json(data, None)
    assert update is not None
    return update


# ---------------------------------------------------------------- forwarded locations


def test_a_location_forwarded_in_the_legacy_shape_is_marked_forwarded():
    # Bot API before 7.0 (and some self-hosted servers): forward_date/forward_from, no forward_origin.
    from_user = dict(forward_date=1_699_000_000, forward_from={"id": 1, "is_bot": False, "first_name": "X"})
    from_channel = dict(forward_date=1_699_000_000, forward_from_chat={"id": -100, "type": "channel", "title": "C"},
                        forward_from_message_id=5)
    hidden_sender = dict(forward_date=1_699_000_000, forward_sender_name="Someone")
    for legacy in (from_user, from_channel, hidden_sender):
        data = location_update(30.0, 120.0, chat_id=LI, user_id=LI, **legacy)
        assert "forward_origin" not in data["message"]
        incoming = to_incoming(parse(data), "123")
        assert incoming is not None and incoming.location is not None and incoming.location.forwarded


# ---------------------------------------------------------------- files


async def test_a_picture_is_sent_as_a_photo_decided_by_its_content(front_end, api):  # noqa: F811
    png = b"\x89PNG\r\n\x1a\n" + b"\0" * 100
    await front_end.sender.send("123", "555", Reply(text="Chart", file_name="team.png", file_bytes=png))
    (photo,) = api.called("sendPhoto")
    assert photo["chat_id"] == "555" and photo["photo_bytes"] == png
    jpeg = b"\xff\xd8\xff\xe0" + b"\0" * 100
    await front_end.sender.send("123", "555", Reply(text="Chart", file_name="chart", file_bytes=jpeg))
    assert api.called("sendPhoto")[-1]["photo_bytes"] == jpeg
    # named like a picture but not one: a document, which Telegram's sendPhoto would refuse
    await front_end.sender.send("123", "555", Reply(text="Oops", file_name="odd.png", file_bytes=b"a,b\n"))
    assert len(api.called("sendPhoto")) == 2 and api.called("sendDocument")[0]["document_name"] == "odd.png"
    assert api.texts("555") == ["Chart", "Chart", "Oops"]


async def test_the_fake_refuses_a_photo_that_is_not_a_picture(front_end):  # noqa: F811
    with pytest.raises(BadRequest, match="(?i)image_process_failed"):
        await front_end.bot.send_photo(555, InputFile(b"a,b\n", filename="x.png"))


async def test_team_chart_arrives_as_a_photo_and_an_export_as_a_document(webhook_bot, db):  # noqa: F811
    mei = 4242
    await link(webhook_bot, db, "mei", mei)
    assert "<b>" in await webhook_bot.say("/team", chat_id=mei)
    (photo,) = await webhook_bot.api.wait_for("sendPhoto")
    assert photo["chat_id"] == str(mei) and photo["photo_bytes"][:8] == b"\x89PNG\r\n\x1a\n"
    assert webhook_bot.api.called("sendDocument") == []
    await webhook_bot.say("/export leads --format csv", chat_id=mei)
    (document,) = await webhook_bot.api.wait_for("sendDocument")
    assert document["chat_id"] == str(mei) and document["document_name"].endswith(".csv")
    assert len(webhook_bot.api.called("sendPhoto")) == 1


# ---------------------------------------------------------------- plain words


async def test_an_unlinked_person_saying_hello_learns_how_to_join_in_his_language(webhook_bot):  # noqa: F811
    zh = await webhook_bot.say("你好", chat_id=STRANGER, language_code="zh")
    assert "邀请码" in zh and "/join" in zh and "\n" not in zh
    en = await webhook_bot.say("hello", chat_id=STRANGER + 1, language_code="en")
    assert "invitation code" in en and "/join" in en and "\n" not in en
    # the same line as for any command he may not run yet
    assert await webhook_bot.say("/whoami", chat_id=STRANGER, language_code="zh") == zh


async def test_a_linked_user_saying_hello_is_pointed_to_help(webhook_bot, db):  # noqa: F811
    await link(webhook_bot, db, "sam", SAM)
    hint = await webhook_bot.say("hi, what now?", chat_id=SAM, language_code="en")
    assert "/help" in hint and "\n" not in hint
    await link(webhook_bot, db, "li", LI)
    assert "/help" in await webhook_bot.say("你好", chat_id=LI, language_code="zh")
    assert "发送" in webhook_bot.api.texts(LI)[-1]  # Li's language, Chinese


async def test_chatter_in_a_group_gets_no_answer_from_anyone(webhook_bot, db):  # noqa: F811
    await link(webhook_bot, db, "sam", SAM)
    before = len(webhook_bot.api.called("sendMessage"))
    for who in (SAM, STRANGER):
        update = text_update("hello all", chat_id=-1001, chat_type="supergroup", user_id=who, language_code="en")
        assert await webhook_bot.post(update) == 200
    await webhook_bot.say("/whoami", chat_id=SAM)  # answered: the chatter before it was dropped
    sent = webhook_bot.api.called("sendMessage")[before:]
    assert [p["chat_id"] for p in sent] == [str(SAM)] and "Sam Carter" in sent[0]["text"]


# ---------------------------------------------------------------- location asked in a group

GROUP = -1001
CHAT_LINK = "https://t.me/fieldcrm_bot"  # the bot's user name comes from getMe


def keyboards(sent: list[dict]) -> list[dict]:
    return [p["reply_markup"] for p in sent if "keyboard" in (p.get("reply_markup") or {})]


async def in_group(bot, text: str, user_id: int = LI) -> list[dict]:
    before = len(bot.api.called("sendMessage"))
    update = text_update(text, chat_id=GROUP, chat_type="supergroup", user_id=user_id)
    assert await bot.post(update) == 200
    return (await bot.api.wait_for("sendMessage", before + 1))[before:]


def split(sent: list[dict], user_id: int) -> tuple[list[dict], list[dict]]:
    """What went to the group, what went to the user's private chat; nothing else."""
    group = [p for p in sent if p["chat_id"] == str(GROUP)]
    private = [p for p in sent if p["chat_id"] == str(user_id)]
    assert len(group) + len(private) == len(sent)
    return group, private


async def test_visit_in_a_group_is_asked_for_in_the_private_chat(webhook_bot, db):  # noqa: F811
    # A visit names its customer: typed in the group, it goes on in the private chat, keyboard and all.
    add_records(db)
    await link(webhook_bot, db, "li", LI)
    group, private = split(await in_group(webhook_bot, "/visit c1"), LI)
    [line] = group
    assert keyboards(group) == [] and "私聊" in line["text"] and CHAT_LINK in line["text"]
    assert "West Lake" not in line["text"] and "发送我的位置" not in line["text"]
    [visit] = visits_of(db, "li")
    assert private[0]["text"].startswith("<b>开始拜访:West Lake Tea</b>\n") and f"#{visit.id}" in private[0]["text"]
    [keyboard] = keyboards(private)
    assert keyboard["keyboard"][0][0] == {"text": "发送我的位置", "request_location": True}
    before = len(webhook_bot.api.called("sendMessage"))
    assert await webhook_bot.post(location_update(30.243213, 120.150817, accuracy=10, chat_id=LI, user_id=LI)) == 200
    assert "已核验" in (await webhook_bot.api.wait_for("sendMessage", before + 1))[-1]["text"]
    assert visits_of(db, "li")[0].verdict == "verified"


async def test_checkin_in_a_group_too_and_the_link_when_nothing_waits(webhook_bot, db):  # noqa: F811
    await link(webhook_bot, db, "sam", SAM)
    group, private = split(await in_group(webhook_bot, "/checkin", user_id=SAM), SAM)
    assert keyboards(group) == [] and CHAT_LINK in group[0]["text"] and "below" not in group[0]["text"]
    assert private[0]["text"].startswith("<b>Check-in</b>\n") and keyboards(private)
    before = len(webhook_bot.api.texts())
    assert await webhook_bot.post(location_update(30.0, 120.0, accuracy=10, chat_id=SAM, user_id=SAM)) == 200
    assert "Checked in" in (await webhook_bot.api.wait_for("sendMessage", before + 1))[-1]["text"]
    # the older link of a group's location request (?start=share_location) still works
    assert "nothing is waiting" in await webhook_bot.say("/start share_location", chat_id=SAM)
    stranger = await webhook_bot.say("/start share_location", chat_id=STRANGER, language_code="en")
    assert "invitation code" in stranger


async def test_setloc_in_a_group_continues_in_the_private_chat_too(webhook_bot, db):  # noqa: F811
    add_records(db)
    await link(webhook_bot, db, "li", LI)
    group, private = split(await in_group(webhook_bot, "/setloc Shanghai Foods"), LI)
    assert keyboards(group) == [] and CHAT_LINK in group[0]["text"] and "Shanghai Foods" not in group[0]["text"]
    assert "Shanghai Foods" in private[0]["text"] and keyboards(private)
