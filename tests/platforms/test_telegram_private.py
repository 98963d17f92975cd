"""Personal answers asked for in a Telegram group go to the asker's private chat (issue #13).

Through the real python-telegram-bot code (webhook mode) against the fake Bot API, on the first
week's company: mei, the manager, types /lead, /customer, /export and /team in the team group, and
presses a button there. The group gets one line, never a name, a phone, a file or a picture; her
private chat gets the answers. When she never opened that chat, the group line says to open it.
"""
import re

from tests.fakes.telegram_api import callback_update
from tests.platforms.first_week import FIRST_LEAD
from tests.platforms.test_first_week_telegram import (  # noqa: F401 - the fixture
    GROUP,
    LI,
    MEI,
    SAM,
    Week,
    week,
)

CHAT_LINK = "https://t.me/fieldcrm_bot"
# What the lead's answers carry that a group must never see: its company, contact and phone.
PERSONAL = (FIRST_LEAD, "陈静", "138", "0013", "8001")


async def set_up(story: Week) -> tuple[str, str]:
    """Everyone joined, li claimed and converted the first lead: its lead and customer ids."""
    await story.one(f"/start {story.codes['li']}", LI)
    await story.one(f"/join {story.codes['sam']}", SAM)
    await story.one(f"/join {story.codes['mei']}", MEI)
    (lead,) = re.findall(rf"#(\d+) {FIRST_LEAD}", (await story.one("/pool", LI)).text)
    await story.press(f"claim {lead}", LI)
    converted = await story.one(f"/convert {lead} --contact 陈静", LI)
    (customer,) = re.findall(r"新客户 #(\d+)", converted.text)
    return lead, customer


def group_calls(story: Week, since: int) -> list[dict]:
    """Every send* call to the group since `since`: messages, photos, documents."""
    return [c.params for c in story.api.calls[since:]
            if c.method.startswith("send") and str(c.params.get("chat_id")) == str(GROUP)]


def assert_only_the_line(story: Week, since: int, *, opened: bool) -> None:
    """The group got exactly one text line, saying where the answer went, and nothing personal."""
    (line,) = group_calls(story, since)
    assert set(line) >= {"chat_id", "text"} and "photo_bytes" not in line and "document_bytes" not in line
    assert CHAT_LINK in line["text"] and not any(word in line["text"] for word in PERSONAL)
    assert ("sent the answer to our private chat" in line["text"]) is opened
    assert ("open" in line["text"].lower() and "Start" in line["text"]) is not opened


async def test_a_managers_personal_answers_asked_in_the_group_go_to_her_private_chat(week: Week):  # noqa: F811
    lead, customer = await set_up(week)

    since = len(week.api.calls)
    answer, _line = await week.say(f"/lead {lead}", MEI, GROUP)
    assert answer.chat == MEI and FIRST_LEAD in answer.text and "138" in answer.text
    assert_only_the_line(week, since, opened=True)

    since = len(week.api.calls)
    answer, _line = await week.say(f"/customer {customer}", MEI, GROUP)
    assert answer.chat == MEI and FIRST_LEAD in answer.text
    assert_only_the_line(week, since, opened=True)

    since = len(week.api.calls)
    answer, _line = await week.say("/export leads", MEI, GROUP)
    assert answer.chat == MEI and "Export of leads" in answer.text
    (document,) = week.api.called("sendDocument")
    assert int(document["chat_id"]) == MEI and document["document_name"].endswith(".xlsx")
    assert_only_the_line(week, since, opened=True)

    since = len(week.api.calls)
    answer, _line = await week.say("/team", MEI, GROUP)
    assert answer.chat == MEI and "Won this month" in answer.text
    (photo,) = week.api.called("sendPhoto")
    assert int(photo["chat_id"]) == MEI and photo["photo_bytes"].startswith(b"\x89PNG")
    assert_only_the_line(week, since, opened=True)


async def test_a_button_pressed_in_the_group_is_answered_privately(week: Week):  # noqa: F811
    lead, _customer = await set_up(week)
    since = len(week.api.calls)
    update = callback_update(f"lead {lead}", chat_id=GROUP, chat_type="supergroup", user_id=MEI,
                             language_code="en")
    assert await week.bot.post(update) == 200
    (answered,) = [c.params for c in week.api.calls[since:] if c.method == "answerCallbackQuery"]
    assert answered["callback_query_id"] == update["callback_query"]["id"]
    (answer,) = [c.params for c in week.api.calls[since:]
                 if c.method == "sendMessage" and int(c.params["chat_id"]) == MEI]
    assert FIRST_LEAD in answer["text"]
    assert_only_the_line(week, since, opened=True)


async def test_when_she_never_opened_the_private_chat_the_group_is_told_to_open_it(week: Week):  # noqa: F811
    lead, customer = await set_up(week)
    week.api.never_started.add(MEI)  # as if she had blocked the bot, or never pressed Start
    before = len(week.api.delivered(MEI))
    for command in (f"/lead {lead}", f"/customer {customer}", "/export leads", "/team"):
        since = len(week.api.calls)
        tried = await week.say(command, MEI, GROUP)  # the refused try in her chat, then the line
        assert [sent.chat for sent in tried] == [MEI, GROUP]
        assert_only_the_line(week, since, opened=False)
    assert week.api.called("sendDocument") == [] and week.api.called("sendPhoto") == []
    assert len(week.api.delivered(MEI)) == before  # nothing reached her either


async def test_group_safe_commands_are_still_answered_in_the_group(week: Week):  # noqa: F811
    await set_up(week)
    (board,) = await week.say("/rank", MEI, GROUP)
    assert board.chat == GROUP and "won amount" in board.text
    help_ = await week.say("/help", MEI, GROUP)  # a manager's help is long: it may come in parts
    assert {sent.chat for sent in help_} == {GROUP} and "/lead" in "".join(sent.text for sent in help_)
    (channel,) = await week.say("/channel", MEI, GROUP)
    assert channel.chat == GROUP
