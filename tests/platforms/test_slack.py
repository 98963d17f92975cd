"""The Slack adapter end to end: signed HTTP requests through the real slack-bolt app, answers
checked on a fake Slack Web API, on SQLite and PostgreSQL."""
import asyncio
import json
import time
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import func, select

from bot.adapters.slack.blocks import (
    MAX_ACTIONS,
    MAX_BLOCKS,
    MAX_FIELDS,
    MAX_TEXT,
    to_blocks,
    unescape,
)
from bot.adapters.slack.front_end import SlackFrontEnd
from bot.adapters.slack.outbound import limits
from bot.bootstrap import build_router, send_budget, web_app
from bot.config import Settings, load_settings
from bot.delivery import Dispatcher, PermanentFailure, RetryAfter
from bot.messages import Button, Reply
from bot.services.core import identity, outbox
from db.base import utcnow
from db.models import Customer, InboundEvent, OutboxMessage, PlatformIdentity, TeamChannel
from db.session import Database
from tests.conftest import say
from tests.fakes.slack_api import TEAM_ID, Call, FakeSlackApi, block_texts
from tests.platforms.slack_harness import Slack, running_slack, slack_settings_for


@pytest.fixture
async def fake_slack() -> AsyncIterator[FakeSlackApi]:
    api = await FakeSlackApi().start()
    yield api
    await api.stop()


@pytest.fixture
def slack_settings(db: Database, fake_slack: FakeSlackApi) -> Settings:
    return slack_settings_for(db, fake_slack)


@pytest.fixture
async def slack(db: Database, demo_org: Database, slack_settings: Settings, fake_slack: FakeSlackApi
                ) -> AsyncIterator[Slack]:
    async with running_slack(db, slack_settings, fake_slack) as running:
        yield running


def link(db: Database, handle: str, slack_user: str) -> None:
    with db.uow() as uow:
        user = identity.find_user(uow, handle)
        assert user is not None
        uow.session.add(PlatformIdentity(platform="slack", workspace=TEAM_ID, platform_user_id=slack_user,
                                         dm_chat_id=f"D{slack_user}", user_id=user.id, linked_at=utcnow()))
        uow.commit()


def as_console(call: Call) -> str:
    """What the console would print for the same reply: header, fields, text, with "/crm " as "/"."""
    blocks = call.payload["blocks"]
    lines = []
    for block in blocks:
        if block["type"] == "header":
            lines.append(f"== {block['text']['text']} ==")
        for item in block.get("fields", []):
            name, value = item["text"].split("\n", 1)
            lines.append(f"{name.strip('*')}: {value}")
        if block["type"] == "section" and "text" in block:
            lines.append(block["text"]["text"])
    return unescape("\n".join(lines)).replace("/crm ", "/")


def inbound_count(db: Database) -> int:
    with db.uow() as uow:
        return uow.session.scalar(select(func.count()).select_from(InboundEvent)) or 0


# ---------------------------------------------------------------- slash commands


async def test_help_and_whoami_read_as_on_the_console(slack, db, console):
    link(db, "admin", "UADMIN")
    assert (await slack.command("help", "UADMIN", "DUADMIN")).status == 200
    await slack.answers(1)  # two commands in flight may answer in either order: one at a time
    assert (await slack.command("whoami", "UADMIN", "DUADMIN")).status == 200
    help_post, whoami_post = await slack.answers(2)
    assert help_post.method == whoami_post.method == "response_url"
    assert "/crm whoami" in help_post.text
    assert as_console(help_post) == say(console, "/help")
    assert as_console(whoami_post) == say(console, "/whoami")
    assert "Ada Admin" in whoami_post.text and "Slack (T0001): UADMIN, linked since" in whoami_post.text


async def test_slash_replies_in_a_channel_are_only_for_the_caller(slack, db):
    link(db, "sam", "USAM")
    await slack.command("whoami", "USAM", "C0SALES")
    (post,) = await slack.answers()
    assert post.payload["response_type"] == "ephemeral" and "Sam Carter" in post.text


async def test_pool_admin_and_channel_setup_from_a_slack_channel(slack, db):
    """`/crm pool admin …` reaches the two-word command; /crm channel answers (errors too) are for the
    whole channel, unlike other slash replies there."""
    link(db, "admin", "UADMIN")
    await slack.command("pool admin rules demo pool daily_claim_limit=9", "UADMIN", "C0SALES")
    (rules,) = await slack.answers()
    assert "daily_claim_limit: 20 → 9" in rules.text and rules.payload["response_type"] == "ephemeral"
    await slack.command("channel link Mars", "UADMIN", "C0SALES")
    refused = (await slack.answers(2))[-1]
    assert "Mars" in refused.text and refused.payload["response_type"] == "in_channel"
    await slack.command("channel link East Team", "UADMIN", "C0SALES")
    linked = (await slack.answers(3))[-1]
    assert "East Team" in linked.text and linked.payload["response_type"] == "in_channel"
    assert "/crm channel set" in linked.text
    with db.uow() as uow:
        channel = uow.session.scalar(select(TeamChannel).where(TeamChannel.chat_id == "C0SALES"))
        assert channel is not None and (channel.platform, channel.workspace) == ("slack", TEAM_ID)


async def test_answers_still_posting_at_shutdown_are_posted(slack, db):
    link(db, "sam", "USAM")
    slack.fake.hook_delay = 1.0  # still posting when the bot is told to stop
    for _ in range(5):
        assert (await slack.command("whoami", "USAM", "C0SALES")).status == 200
    await slack.front.stop()
    await slack.front.router.aclose()
    assert len(slack.fake.posts("response_url")) == 5


async def test_unlinked_person_gets_one_line_on_how_to_join(slack):
    await slack.command("whoami", "USTRANGER", "DUSTRANGER")
    (post,) = await slack.answers()
    assert len(post.payload["blocks"]) == 1
    assert "invitation code" in post.text and "/crm join CODE" in post.text
    assert "whoami" not in post.text


async def test_join_in_a_dm_links_the_slack_user(slack, db):
    with db.uow() as uow:
        li = identity.find_user(uow, "li")
        code = identity.create_invitation(uow, li.id, utcnow(), 14)
        uow.commit()
    await slack.command(f"join {code}", "UNEWLI", "D0SHARED")
    (welcome,) = await slack.answers()
    assert "欢迎" in welcome.text and "East Team" in welcome.text
    with db.uow() as uow:
        linked = uow.session.scalar(select(PlatformIdentity).where(PlatformIdentity.platform_user_id == "UNEWLI"))
        assert linked is not None and linked.workspace == TEAM_ID
        # Later direct messages go to the bot's own DM with him, opened through conversations.open.
        assert linked.dm_chat_id == "DUNEWLI"
    await slack.command("whoami", "UNEWLI", "D0SHARED")
    posts = await slack.answers(2)
    assert "李雷 Li Lei" in posts[1].text


async def test_join_in_a_public_channel_is_refused(slack, db):
    await slack.command("join ABCD2345", "UNEW", "C0SALES")
    (post,) = await slack.answers()
    assert "direct message" in post.text and post.payload["response_type"] == "ephemeral"
    with db.uow() as uow:
        assert uow.session.scalar(select(PlatformIdentity).where(PlatformIdentity.platform == "slack")) is None


# ---------------------------------------------------------------- request verification


async def test_forged_signature_is_refused_and_nothing_happens(slack, db):
    response = await slack.command("help", "UADMIN", "DUADMIN", secret="not-the-secret")
    assert response.status == 401
    await slack.front.drain()
    assert inbound_count(db) == 0 and slack.fake.posts() == []


async def test_stale_timestamp_is_refused(slack, db):
    response = await slack.command("help", "UADMIN", "DUADMIN", ts=int(time.time()) - 6 * 60)
    assert response.status == 401
    await slack.front.drain()
    assert inbound_count(db) == 0 and slack.fake.posts() == []


async def test_url_verification_challenge(slack):
    body = json.dumps({"token": "legacy", "challenge": "c-123", "type": "url_verification"})
    response = await slack.post(body, "application/json")
    assert response.status == 200
    async with slack.http.post(slack.url, data=body, headers={"Content-Type": "application/json"}) as unsigned:
        assert unsigned.status == 401


# ---------------------------------------------------------------- events and buttons


def dm(text: str, user: str = "UADMIN", **extra) -> dict:
    return {"type": "message", "channel": f"D{user}", "channel_type": "im", "user": user, "text": text,
            "ts": f"{time.time():.6f}", **extra}


async def test_retried_dm_event_acts_once(slack, db):
    link(db, "admin", "UADMIN")
    first = await slack.event(dm("whoami"), "Ev0001")
    retry = await slack.event(dm("whoami"), "Ev0001", headers={"X-Slack-Retry-Num": "1",
                                                                 "X-Slack-Retry-Reason": "http_timeout"})
    assert first.status == retry.status == 200
    posts = await slack.answers()
    assert len(posts) == 1 and posts[0].method == "chat.postMessage"
    assert posts[0].payload["channel"] == "DUADMIN" and "Ada Admin" in posts[0].text
    assert inbound_count(db) == 1


async def test_dm_with_slash_and_bot_messages_and_edits(slack, db):
    link(db, "admin", "UADMIN")
    await slack.event(dm("/whoami"), "Ev0002")
    await slack.event(dm("/crm whoami"), "Ev0008")
    await slack.event(dm("whoami", bot_id="BBOT"), "Ev0003")
    await slack.event(dm("whoami", subtype="message_changed"), "Ev0004")
    posts = await slack.answers(2)
    assert len(posts) == 2 and all("Ada Admin" in p.text for p in posts)


async def test_app_mention_in_a_thread_answers_in_the_thread(slack, db):
    link(db, "admin", "UADMIN")
    event = {"type": "app_mention", "channel": "C0SALES", "user": "UADMIN", "text": "<@UBOT> help",
             "ts": "1700000100.000200", "thread_ts": "1700000000.000100"}
    await slack.event(event, "Ev0005")
    (post,) = await slack.answers()
    assert post.method == "chat.postMessage" and post.payload["channel"] == "C0SALES"
    assert post.payload["thread_ts"] == "1700000000.000100"
    assert "Commands you can use" in post.text


async def test_button_click_runs_its_command(slack, db):
    link(db, "admin", "UADMIN")
    assert (await slack.click("whoami", "UADMIN", "DUADMIN")).status == 200
    (post,) = await slack.answers()
    # Answered through the press's own response_url, for all to see in the bot's own DM with him.
    assert post.method == "response_url" and post.payload["response_type"] == "in_channel"
    assert "Ada Admin" in post.text


async def test_in_a_dm_between_two_people_only_the_caller_sees_the_answer(slack, db):
    """D0SHARED is Sam's DM with a colleague (the bot's own DM with Sam is DUSAM): the check-in link
    and a pressed button's answer must reach Sam alone, and nothing is posted into that DM."""
    link(db, "sam", "USAM")
    await slack.command("checkin", "USAM", "D0SHARED")
    (link_post,) = await slack.answers()
    assert link_post.method == "response_url" and link_post.payload["response_type"] == "ephemeral"
    assert "/checkin/" in json.dumps(link_post.payload)
    await slack.click("whoami", "USAM", "D0SHARED")
    _, press = await slack.answers(2)
    assert press.method == "response_url" and press.payload["response_type"] == "ephemeral"
    assert "Sam Carter" in press.text
    assert not [c for c in slack.fake.posts() if c.payload.get("channel") == "D0SHARED"]


async def test_user_text_cannot_ping_the_channel_or_plant_links(slack, db):
    link(db, "admin", "UADMIN")
    await slack.event(dm("<!channel> please"), "Ev0006")
    await slack.answers(1)  # answered in order: one message at a time
    await slack.event(dm("&lt;https://evil.example|x&gt; now"), "Ev0007")
    posts = await slack.answers(2)
    raw = json.dumps([p.payload for p in posts])
    assert "<!channel>" not in raw and "<https://evil" not in raw
    assert "&lt;!channel&gt;" in posts[0].text and "&lt;https://evil.example|x&gt;" in posts[1].text


# ---------------------------------------------------------------- Block Kit


def test_blocks_escape_everything_a_user_could_have_typed():
    reply = Reply(text="hi <!here> & <https://evil|x>", title="<@U1> title",
                  fields=[("a<b", "<!channel>")], buttons=[Button("Claim", "claim 42", style="primary")])
    blocks = to_blocks(reply, "en")
    texts = " ".join(block_texts(blocks))
    assert "&lt;!here&gt; &amp; &lt;https://evil|x&gt;" in texts
    assert "*a&lt;b*\n&lt;!channel&gt;" in texts
    assert [b["type"] for b in blocks] == ["header", "section", "section", "actions"]


def test_blocks_stay_within_slack_limits():
    reply = Reply(text="\n".join(f"line <{i}> " * 30 for i in range(400)), title="T" * 300,
                  fields=[(f"k{i}", "v") for i in range(23)],
                  buttons=[Button(f"b{i}", f"claim {i}") for i in range(30)])
    blocks = to_blocks(reply, "en")
    assert len(blocks) <= MAX_BLOCKS
    assert all(len(b["text"]["text"]) <= MAX_TEXT for b in blocks if b["type"] == "section" and "text" in b)
    assert [len(b["fields"]) for b in blocks if "fields" in b] == [MAX_FIELDS, MAX_FIELDS, 3]
    assert [len(b["elements"]) for b in blocks if b["type"] == "actions"] == [MAX_ACTIONS, 5]
    assert len(blocks[0]["text"]["text"]) <= 150


def test_long_escaped_values_are_cut_between_entities():
    (section,) = to_blocks(Reply(text="", fields=[("Note", "a&" * 1000)]), "en")
    value = section["fields"][0]["text"]
    assert len(value) <= 2000 and value.endswith(("a", "&amp;"))


def test_check_in_request_becomes_a_link_button():
    reply = Reply(text="Where are you?", request_location=True, checkin_url="https://bot.example/c/abc")
    (element,) = to_blocks(reply, "en")[-1]["elements"]
    assert element["url"] == "https://bot.example/c/abc" and element["text"]["text"] == "Open check-in page"


# ---------------------------------------------------------------- outbox delivery


async def test_sender_posts_blocks_with_fallback_text(slack):
    reply = Reply(text="Big win <3", title="Deal won", fields=[("Amount", "1,000.00")],
                  buttons=[Button("Cheer", "cheer 7", style="primary"), Button("Open", "", url="https://x.example")])
    await slack.front.sender.send(TEAM_ID, "C0SALES", reply)
    (post,) = slack.fake.posts("chat.postMessage")
    assert post.payload["channel"] == "C0SALES"
    assert post.payload["text"] == "Deal won\nAmount: 1,000.00\nBig win &lt;3"
    header, fields, text, actions = post.payload["blocks"]
    assert header["text"]["text"] == "Deal won" and text["text"]["text"] == "Big win &lt;3"
    cheer, link_button = actions["elements"]
    assert (cheer["value"], cheer["style"]) == ("cheer 7", "primary") and link_button["url"] == "https://x.example"


async def test_sender_turns_slack_refusals_into_dispatcher_signals(slack):
    sender = slack.front.sender
    workspace, channel = limits(TEAM_ID, "C1")
    assert workspace.shared and (channel.count, channel.period) == (3, 1.0) and channel.key != limits(TEAM_ID, "C2")[1].key
    slack.fake.fail_next(1, status=429, retry_after=3)
    with pytest.raises(RetryAfter) as caught:
        await sender.send(TEAM_ID, "C1", Reply(text="hi"))
    assert caught.value.seconds == 3
    slack.fake.error_next("channel_not_found")
    with pytest.raises(PermanentFailure):
        await sender.send(TEAM_ID, "CGONE", Reply(text="hi"))


async def test_dispatcher_delivers_after_a_rate_limit(slack, db):
    with db.uow() as uow:
        uow.session.add(OutboxMessage(platform="slack", workspace=TEAM_ID, chat_id="C0SALES",
                                      payload=Reply(text="Team win!", title="Win").to_json()))
        uow.commit()
    slack.fake.fail_next(1, status=429, retry_after=1)
    dispatcher = Dispatcher(db, {"slack": slack.front.sender})
    assert await dispatcher.deliver_due() == 1
    with db.uow() as uow:
        row = uow.session.scalar(select(OutboxMessage))
        assert row.status == "sent"
    posts = slack.fake.posts("chat.postMessage")
    assert len(posts) == 2 and "Team win!" in posts[-1].text


async def test_direct_messages_and_the_check_in_page_spell_commands_the_slack_way(slack, db):
    """A post is rendered for the platform it goes to: a nudge DM to a Slack user, and the check-in
    page a Slack rep opens, say "/crm visit" and "/crm nudges off", never a bare "/visit"."""
    link(db, "sam", "USAM")
    with db.uow() as uow:
        sam = identity.find_user(uow, "sam")
        assert outbox.queue_direct(uow, sam.id, "nudges/no_visit", {"name": sam.name}, now=utcnow())
        uow.commit()
    await Dispatcher(db, {"slack": slack.front.sender}).deliver_due()
    (dm,) = slack.fake.posts("chat.postMessage")
    assert dm.payload["channel"] == "DUSAM"
    assert "/crm visit CUSTOMER" in dm.text and "/crm nudges off" in dm.text and " /visit" not in dm.text

    with db.uow() as uow:
        diner = Customer(name="Sam's Diner", name_key="samsdiner", owner_id=sam.id, latitude=31.2304,
                         longitude=121.4737, location_source="import")
        uow.session.add(diner)
        uow.commit()
    await slack.command(f"visit c{diner.id}", "USAM", "DUSAM")
    answer = (await slack.answers(2))[-1]
    page = next(e["url"] for b in answer.payload["blocks"] if b["type"] == "actions" for e in b["elements"]
                if e.get("url"))
    path = "/checkin/" + page.split("/checkin/", 1)[1]
    base = slack.url.removesuffix("/slack/events")
    async with slack.http.post(base + path, data={"latitude": "31.2306", "longitude": "121.4739",
                                                   "accuracy": "12"}) as response:
        result = await response.text()
    assert response.status == 200 and "/crm visit end" in result
    assert "/visit end" not in result.replace("/crm visit end", "")


# ---------------------------------------------------------------- Socket Mode


async def test_socket_mode_acks_envelopes_and_dedupes_on_event_id(db, demo_org, fake_slack):
    settings = load_settings(
        env_file=None, DATABASE_URL=db.url, SECRET_KEY="test-secret", SLACK_BOT_TOKEN="xoxb-test",
        SLACK_APP_TOKEN="xapp-test", SLACK_API_URL=fake_slack.api_url,
    )
    link(db, "admin", "UADMIN")
    router = build_router(db, settings)
    front = SlackFrontEnd(settings, router, send_budget(router.db))
    app = web_app(db, settings, [front])
    assert not any(r.resource and r.resource.canonical == "/slack/events" for r in app.router.routes())
    await front.start()
    try:
        body = {"team_id": TEAM_ID, "api_app_id": "A0001", "type": "event_callback", "event_id": "EvSock1",
                "event": dm("whoami")}
        for attempt, envelope_id in enumerate(("env-1", "env-2")):  # Slack redelivers: same event id
            await fake_slack.push_envelope({"envelope_id": envelope_id, "type": "events_api", "payload": body,
                                            "accepts_response_payload": False, "retry_attempt": attempt})
        posts = await fake_slack.wait_for_posts(1)
        for _ in range(100):
            if len(fake_slack.socket_acks) >= 2:
                break
            await asyncio.sleep(0.02)
    finally:
        await front.stop()
    assert [a["envelope_id"] for a in fake_slack.socket_acks] == ["env-1", "env-2"]
    assert len(fake_slack.posts()) == 1 and "Ada Admin" in posts[0].text


async def test_a_file_answering_a_private_reply_goes_to_the_callers_own_dm(db, demo_org, fake_slack):
    """Slack has no private file: the chart of `/crm team` typed in a channel or in a DM between two
    people answers privately, so it lands in the caller's own DM with the bot, never where everyone
    (or the colleague) would see it."""
    fake_slack.bot_channels = {"C0SALES"}
    async with running_slack(db, slack_settings_for(db, fake_slack), fake_slack) as slack:
        link(db, "mei", "UMEI")
        for channel in ("C0SALES", "D0MEILI"):
            await slack.command("team", "UMEI", channel)
            await slack.front.drain()
        answers = slack.fake.posts()
    assert [(a.method, a.payload["response_type"]) for a in answers] == [("response_url", "ephemeral")] * 2
    assert [(u.payload["channel_id"], u.payload["filename"]) for u in fake_slack.uploads()] == [
        ("DUMEI", "team.png"), ("DUMEI", "team.png")]
    assert fake_slack.uploads()[0].payload["content"].startswith(b"\x89PNG")
    assert not [c for c in fake_slack.calls if c.method.startswith("refused:")]
