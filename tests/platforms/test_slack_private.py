"""On Slack, a personal answer to a mention of the bot in a channel is seen by the mentioner alone
(issue #13): ephemeral in the channel, its file in his own DM with the bot; a group-safe one is
posted for all. The same declared rule as Telegram's (bot.messages.for_caller_only)."""
import time

from db.session import Database
from tests.fakes.slack_api import FakeSlackApi
from tests.platforms.slack_harness import running_slack, slack_settings_for
from tests.platforms.test_slack import fake_slack, link  # noqa: F401 - the fixture

LEAD = ("上海星河贸易有限公司", "陈静", "138 0013 8001")  # the demo pool's lead #1


def mention(text: str) -> dict:
    return {"type": "app_mention", "channel": "C0SALES", "user": "UMEI", "text": f"<@UBOT> {text}",
            "ts": f"{time.time():.6f}"}


async def test_a_personal_answer_to_a_mention_in_a_channel_is_not_posted_there(
        db: Database, demo_org: Database, fake_slack: FakeSlackApi):  # noqa: F811
    fake_slack.bot_channels = {"C0SALES"}
    async with running_slack(db, slack_settings_for(db, fake_slack), fake_slack) as slack:
        link(db, "mei", "UMEI")
        for n, text in enumerate(("lead 1", "team", "export leads", "whoami")):
            await slack.event(mention(text), f"EvPriv{n}")
            await slack.front.drain()
        await slack.event(mention("help"), "EvPrivHelp")
        await slack.front.drain()
        posts = slack.fake.posts()
    *personal, help_post = posts
    assert [(p.method, p.payload["channel"], p.payload["user"]) for p in personal] == [
        ("chat.postEphemeral", "C0SALES", "UMEI")] * 4
    assert LEAD[0] in personal[0].text and "Mei" in personal[3].text
    in_channel = [p for p in posts if p.method == "chat.postMessage"]
    assert in_channel == [help_post] and "/crm whoami" in help_post.text
    assert not any(word in help_post.text for word in LEAD)
    # the chart and the export: in her own DM with the bot, never in the channel
    assert [(u.payload["channel_id"], u.payload["filename"].rsplit(".", 1)[-1]) for u in fake_slack.uploads()] == [
        ("DUMEI", "png"), ("DUMEI", "xlsx")]
    assert not [c for c in fake_slack.calls if c.method.startswith("refused:")]
