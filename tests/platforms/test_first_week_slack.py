"""A company's first week on Slack, through the real slack-bolt app against the fake Slack API.

The admin sets the company up with the `fieldcrm` program (org file with a pool and the team
channel's quiet hours and board time, leads from a CSV); then three people join and work a day: a
check-in, a claim from the pool, a follow-up typed with apostrophes and an emoji, a conversion, a
visit, a deal won and paid, the board at the channel's own 17:30, a review, the team chart and an
export. Commands are typed in each one's DM with the bot, in a DM between two people (where only
the one who typed may see the answer, and the bot cannot post), and in the team channel (slash
answers only for the caller; a mention answers for all). Every text Slack received is checked for
the `/crm word` spelling.
"""
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest

from bot.delivery import Dispatcher
from db.session import Database
from tests.fakes.slack_api import BOT_USER_ID, POSTING, Call, FakeSlackApi
from tests.platforms.first_week import (
    FIRST_LEAD,
    FOLLOW_NOTE,
    StoryClock,
    assert_commands_spelled_for,
    board_pushes,
    misspelled_commands,
    page_text,
    set_up_company,
)
from tests.platforms.slack_harness import Slack, running_slack, slack_settings_for

LI, SAM, MEI = "ULI", "USAM", "UMEI"  # li: a rep in Chinese; sam: a rep in English; mei: their manager
TEAM = "C0EAST"  # East Team's channel, bound in the org file
LI_SAM, MEI_LI = "D0LISAM", "D0MEILI"  # DMs between two people: the bot is in neither
ANSWERS = (*POSTING, "response_url", "files.completeUploadExternal")


def own_dm(user: str) -> str:
    return f"D{user}"  # what the fake's conversations.open answers


def is_private(call: Call) -> bool:
    """Seen by the one who typed or clicked only."""
    return call.method == "chat.postEphemeral" or call.payload.get("response_type") == "ephemeral"


def buttons(call: Call) -> dict[str, str]:
    """Label -> command line (or URL) of every button in a message."""
    return {e["text"]["text"]: e.get("value") or e.get("url") for b in call.payload.get("blocks") or []
            if b["type"] == "actions" for e in b["elements"]}


@dataclass
class Week:
    db: Database
    codes: dict[str, str]  # each person's invitation code, as `fieldcrm` printed it
    slack: Slack
    clock: StoryClock
    dispatcher: Dispatcher
    pages: list[str] = field(default_factory=list)  # every check-in page the reps opened

    @property
    def fake(self) -> FakeSlackApi:
        return self.slack.fake

    async def _new_answers(self, before: int) -> list[Call]:
        await self.slack.front.drain()
        return [c for c in self.fake.calls[before:] if c.method in ANSWERS]

    async def type(self, text: str, user: str, channel: str) -> list[Call]:
        """`/crm TEXT` typed by `user` in `channel`; what Slack got in answer."""
        before = len(self.fake.calls)
        assert (await self.slack.command(text, user, channel)).status == 200
        return await self._new_answers(before)

    async def one(self, text: str, user: str, channel: str) -> Call:
        (answer,) = await self.type(text, user, channel)
        return answer

    async def press(self, value: str, user: str, channel: str) -> list[Call]:
        before = len(self.fake.calls)
        assert (await self.slack.click(value, user, channel)).status == 200
        return await self._new_answers(before)

    async def mention(self, text: str, user: str, channel: str, event_id: str) -> list[Call]:
        before = len(self.fake.calls)
        event = {"type": "app_mention", "channel": channel, "user": user, "text": f"<@{BOT_USER_ID}> {text}",
                 "ts": f"{self.clock.now.timestamp():.6f}"}
        assert (await self.slack.event(event, event_id)).status == 200
        return await self._new_answers(before)

    async def dispatch(self) -> list[Call]:
        """The outbox dispatcher's round at the story's time: channel posts and direct messages."""
        before = len(self.fake.calls)
        await self.dispatcher.deliver_due()
        return [c for c in self.fake.calls[before:] if c.method in POSTING]

    async def open_page(self, answer: Call, **position: str) -> str:
        """Open the check-in page the answer links to, as the rep's phone does, and send a position."""
        (url,) = [u for label, u in buttons(answer).items() if u and "/checkin/" in u]
        path = "/checkin/" + url.split("/checkin/", 1)[1]
        async with self.slack.http.get(self.slack.base + path) as response:
            assert response.status == 200
            self.pages.append(await response.text())
        async with self.slack.http.post(self.slack.base + path, data=position) as response:
            assert response.status == 200
            self.pages.append(await response.text())
        return page_text(self.pages[-1])

    def texts(self) -> list[str]:
        """Everything anyone was shown: messages, ephemeral and response_url answers with their
        blocks and button labels, file comments, and the check-in pages."""
        shown = [c.text for c in self.fake.calls if c.method in (*POSTING, "response_url")]
        shown += [str(c.payload.get(k) or "") for c in self.fake.uploads() for k in ("initial_comment", "title")]
        return shown + [page_text(page) for page in self.pages]


@pytest.fixture
async def week(pg_db: Database, tmp_path, monkeypatch, capsys) -> AsyncIterator[Week]:
    codes = set_up_company(pg_db, tmp_path, monkeypatch, capsys)
    fake = await FakeSlackApi(bot_channels={TEAM}).start()
    clock = StoryClock()
    settings = slack_settings_for(pg_db, fake, PUBLIC_BASE_URL="https://crm.example.com")
    try:
        async with running_slack(pg_db, settings, fake, clock) as slack:
            yield Week(pg_db, codes, slack, clock, Dispatcher(pg_db, {"slack": slack.front.sender}, clock=clock))
    finally:
        await fake.stop()


async def test_the_first_week_on_slack(week: Week):
    codes = week.codes

    # ---- everyone joins in his own DM with the bot; the team channel welcomes the team's reps
    (li_joined,) = await week.type(f"join {codes['li']}", LI, own_dm(LI))
    assert li_joined.method == "response_url" and not is_private(li_joined)
    assert "欢迎,李雷" in li_joined.text and "/crm help" in li_joined.text
    assert "Welcome, Sam Carter" in (await week.one(f"join {codes['sam']}", SAM, own_dm(SAM))).text
    assert "Welcome, Mei Wang" in (await week.one(f"join {codes['mei']}", MEI, own_dm(MEI))).text
    welcomes = await week.dispatch()
    assert [(w.payload["channel"], w.payload["text"]) for w in welcomes] == [
        (TEAM, "李雷 joined East Team on fieldcrm. Welcome!"), (TEAM, "Sam Carter joined East Team on fieldcrm. Welcome!")]

    # ---- 09:05 check-ins. li in his DM, from far too vague a position: flagged
    li_checkin = await week.one("checkin", LI, own_dm(LI))
    assert not is_private(li_checkin) and "签到" in li_checkin.text and "打开签到页面" in buttons(li_checkin)
    page = await week.open_page(li_checkin, latitude="31.22987345", longitude="121.47612078", accuracy="900")
    assert "已签到:09:05" in page and "已标记" in page
    # sam types it in his DM with li: the link reaches sam alone, li never sees it
    sam_checkin = await week.one("checkin", SAM, LI_SAM)
    assert sam_checkin.method == "response_url" and is_private(sam_checkin) and "Open check-in page" in buttons(sam_checkin)
    page = await week.open_page(sam_checkin, latitude="31.21955312", longitude="121.44412207", accuracy="900")
    assert "Checked in at 09:05" in page and "flagged" in page

    # ---- li looks at the pool in the team channel and claims with the button: only li sees either
    pool = await week.one("pool", LI, TEAM)
    assert is_private(pool) and "公海「East pool」" in pool.text
    (lead,) = set(re.findall(rf"#(\d+) {FIRST_LEAD}", pool.text))  # the text, and again in the blocks
    assert buttons(pool)[f"领取 #{lead}"] == f"claim {lead}"
    (claimed,) = await week.press(f"claim {lead}", LI, TEAM)
    assert is_private(claimed) and f"线索 #{lead} {FIRST_LEAD} 已归你负责" in claimed.text

    # ---- the follow-up is kept as typed: apostrophe, curly apostrophe, emoji
    assert "跟进中" in (await week.one(f"follow {lead} {FOLLOW_NOTE}", LI, own_dm(LI))).text
    history = await week.one(f"lead {lead}", LI, own_dm(LI))
    assert f"跟进记录 · 李雷 · 待处理 → 跟进中 · {FOLLOW_NOTE}" in history.text
    converted = await week.one(f"convert {lead} --contact 陈静", LI, own_dm(LI))
    assert "陈静" in converted.text and f"新客户 #1 {FIRST_LEAD}" in converted.text

    # ---- a visit at the new customer, pinned from the check-in page, then ended
    week.clock.at("09:40")
    visit = await week.one("visit 星河", LI, own_dm(LI))
    assert f"开始拜访:{FIRST_LEAD}" in visit.text
    page = await week.open_page(visit, latitude="31.23041873", longitude="121.47370149", accuracy="15")
    assert f"位置已记录:{FIRST_LEAD}" in page, page
    week.clock.at("10:10")
    ended = await week.one("visit end 签了样品单", LI, own_dm(LI))
    # the customer's first visit: its place is not confirmed until a second visit agrees
    assert "时长" in ended.text and "30 分钟" in ended.text and "地点待确认" in ended.text, page

    # ---- a deal, won in the DM with sam (only li sees the answer), announced in the team channel
    created = await week.one("newdeal 星河 50000 首单", LI, own_dm(LI))
    (deal,) = set(re.findall(r"商机 #(\d+)", created.text))
    assert f"/crm win {deal}" in created.text
    won = await week.one(f"win {deal}", LI, LI_SAM)
    assert is_private(won) and "赢单" in won.text and "50,000.00 CNY" in won.text
    assert await week.dispatch() == []  # the post waits its merge window (10:10 is outside quiet hours)
    week.clock.advance(60)
    (gong,) = await week.dispatch()
    assert gong.payload["channel"] == TEAM and gong.method == "chat.postMessage"
    assert f"李雷 won 50,000.00 CNY from {FIRST_LEAD}!" in gong.text
    paid = await week.one(f"paid {deal} 20000", LI, own_dm(LI))
    assert f"已为商机 #{deal} 登记回款 20,000.00 CNY" in paid.text

    # ---- the day's board at the channel's 17:30, not the default 18:00
    assert board_pushes(week.db, week.clock) == ["17:30"]
    (board,) = await week.dispatch()
    assert board.payload["channel"] == TEAM
    assert "East Team leaderboard · won amount · today" in board.text and "1. 李雷 — 50,000.00" in board.text

    # ---- the manager reviews: approves li's check-in with the button, rejects sam's with a reason
    queue = await week.type("review", MEI, own_dm(MEI))
    # li's check-in (poor accuracy), li's visit at a place not yet confirmed, sam's visit
    assert all(not is_private(q) for q in queue) and "Visits to review: 3" in queue[0].text
    li_item = next(q for q in queue if "李雷" in q.text and "accuracy 900 m is worse than 200 m" in q.text)
    approve = buttons(li_item)["Approve"]
    (li_checkin_id,) = re.findall(r"review approve (\d+)", approve)
    sam_item = next(q for q in queue if "Sam Carter" in q.text)
    (sam_visit,) = re.findall(r"review reject (\d+)", buttons(sam_item)["Reject"])
    (approved,) = await week.press(approve, MEI, own_dm(MEI))
    assert f"Check-in #{li_checkin_id} of 李雷 approved: it now counts. 李雷 is told." in approved.text
    rejected = await week.one(f"review reject {sam_visit} you weren't at the office ’ 🙁", MEI, TEAM)
    assert is_private(rejected) and "rejected" in rejected.text
    told = {c.payload["channel"]: c.text for c in await week.dispatch()}
    assert set(told) == {own_dm(LI), own_dm(SAM)}
    assert f"你的签到 #{li_checkin_id} 已被主管批准,计入统计。" in told[own_dm(LI)]
    assert f"Your check-in #{sam_visit} was rejected by your manager" in told[own_dm(SAM)] and "you weren't at the office ’ 🙁" in told[own_dm(SAM)]

    # ---- the team chart from a DM with li, the leads export from the channel: both only for mei
    team = await week.type("team", MEI, MEI_LI)
    assert [c.method for c in team] == ["response_url", "files.completeUploadExternal"]
    assert is_private(team[0]) and "Team Acme Trading" in team[0].text and "Won this month" in team[0].text
    assert team[1].payload["channel_id"] == own_dm(MEI) and team[1].payload["content"].startswith(b"\x89PNG")
    export = await week.type("export leads", MEI, TEAM)
    assert [c.method for c in export] == ["response_url", "files.completeUploadExternal"]
    assert is_private(export[0]) and "Export of leads" in export[0].text
    assert export[1].payload["channel_id"] == own_dm(MEI) and export[1].payload["filename"].endswith(".xlsx")

    # ---- sam asks for help in the channel (only he sees it) and mentions the bot (all see it)
    help_text = await week.one("help", SAM, TEAM)
    assert is_private(help_text) and "/crm visit" in help_text.text
    (rank,) = await week.mention("rank", SAM, TEAM, "EvRank1")
    assert rank.method == "chat.postMessage" and rank.payload["channel"] == TEAM and "李雷" in rank.text

    # ---- a win at 22:30 waits for the end of the channel's quiet hours (22:00-08:00)
    week.clock.at("22:30")
    late = await week.one("newdeal 星河 8000 追加", LI, own_dm(LI))
    (late_deal,) = set(re.findall(r"商机 #(\d+)", late.text))
    assert "赢单" in (await week.one(f"win {late_deal}", LI, own_dm(LI))).text
    week.clock.advance(9 * 3600 + 29 * 60)
    assert week.clock.local() == "07:59" and await week.dispatch() == []
    week.clock.advance(120)
    (morning_gong,) = await week.dispatch()
    assert morning_gong.payload["channel"] == TEAM and f"李雷 won 8,000.00 CNY from {FIRST_LEAD}!" in morning_gong.text

    # ---- where things went: nothing was ever posted into a DM between two people, the bot never
    # tried to post where it is not, and the team channel saw only the welcomes, the two gongs,
    # the board and the mention's answer
    assert not [c for c in week.fake.calls if c.method.startswith("refused:")]
    assert not [c for c in week.fake.calls if c.payload.get("channel") in (LI_SAM, MEI_LI)
                or c.payload.get("channel_id") in (LI_SAM, MEI_LI)]
    in_team = [c.text.split("\n")[0] for c in week.fake.calls if c.method == "chat.postMessage"
               and c.payload["channel"] == TEAM]
    assert len(in_team) == 6 and not [u for u in week.fake.uploads() if u.payload["channel_id"] == TEAM]
    assert_commands_spelled_for("slack", week.texts())


def test_the_spelling_check_finds_what_it_must():
    """The check itself: a bare command on Slack and /crm on Telegram are caught, links are not."""
    assert misspelled_commands(["Send /visit end when done", "(/拜访)"], "slack") == [
        "bare /visit in: 'Send /visit end when done'", "bare /拜访 in: '(/拜访)'"]
    assert misspelled_commands(["Send /crm visit end, see https://x.example/checkin/abc"], "slack") == []
    assert misspelled_commands(["2026/12/03 a/b /unknownword"], "slack") == []
    assert misspelled_commands(["Send /crm visit end"], "telegram") == ["/crm in: 'Send /crm visit end'"]
    assert misspelled_commands(["Send /visit end; t.me/fieldcrm_bot?start=share_location"], "telegram") == []
