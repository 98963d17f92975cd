"""A company's first week on Telegram, through the real python-telegram-bot code (webhook mode)
against the fake Bot API.

The same company as on Slack, set up with the `fieldcrm` program only; its team group is in
Chinese. Three people join (a deep link, /join), then work a day in their private chats and in the
team group: a check-in asked for in the group and answered in the private chat, a claim with the
pool's button, a follow-up with apostrophes and an emoji, a lead's history asked for in the group
(answered privately: the group only learns so), a conversion, a visit, a deal won in the group
(privately answered too) and paid, the board at the group's 17:30, a review with buttons, the team chart as a photo
and an export as a document. Every text Telegram received, button labels and the command menu
included, is checked for the `/word` spelling.
"""
import html
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from bot.bootstrap import build_router
from bot.delivery import Dispatcher
from db.session import Database
from tests.fakes.telegram_api import (
    FakeTelegramAPI,
    callback_update,
    location_update,
    text_update,
)
from tests.platforms.first_week import (
    FIRST_LEAD,
    FOLLOW_NOTE,
    StoryClock,
    assert_commands_spelled_for,
    board_pushes,
    set_up_company,
)
from tests.platforms.telegram_harness import TOKEN, WebhookBot, running_webhook, telegram_settings

LI, SAM, MEI = 555, 777, 888  # user ids, which are also their private chats' ids
GROUP = -100200300  # East Team's group, bound in the org file
LANGUAGE = {LI: "zh", SAM: "en", MEI: "en"}  # their Telegram apps' languages


@dataclass(frozen=True)
class Sent:
    """One message the bot sent: where, the text as shown (HTML unescaped), its keyboard."""

    chat: int
    text: str
    markup: dict

    @property
    def buttons(self) -> dict[str, str]:
        """Inline button label -> callback data (or URL)."""
        return {b["text"]: b.get("callback_data") or b.get("url") for row in self.markup.get("inline_keyboard", [])
                for b in row}

    @property
    def asks_for_location(self) -> bool:
        return any(b.get("request_location") for row in self.markup.get("keyboard", []) for b in row)


@dataclass
class Week:
    db: Database
    codes: dict[str, str]
    bot: WebhookBot
    clock: StoryClock
    dispatcher: Dispatcher

    @property
    def api(self) -> FakeTelegramAPI:
        return self.bot.api

    def _sent(self, before: int) -> list[Sent]:
        return [Sent(int(c.params["chat_id"]), html.unescape(c.params.get("text", "")), c.params.get("reply_markup") or {})
                for c in self.api.calls[before:] if c.method == "sendMessage"]

    async def _post(self, update: dict) -> int:
        before = len(self.api.calls)
        assert await self.bot.post(update) == 200  # the webhook answers once the update is handled
        return before

    async def say(self, text: str, user: int, chat: int | None = None) -> list[Sent]:
        """`user` types `text` in his private chat, or in `chat` (the group); what the bot sent."""
        chat = chat or user
        update = text_update(text, chat_id=chat, user_id=user, chat_type="private" if chat > 0 else "supergroup",
                             language_code=LANGUAGE[user], date=int(self.clock.now.timestamp()))
        return self._sent(await self._post(update))

    async def one(self, text: str, user: int, chat: int | None = None) -> Sent:
        (sent,) = await self.say(text, user, chat)
        return sent

    async def share_location(self, user: int, accuracy: float, at: tuple[float, float] = (31.230418, 121.473701)
                             ) -> Sent:
        update = location_update(*at, accuracy=accuracy, chat_id=user, user_id=user,
                                 language_code=LANGUAGE[user], date=int(self.clock.now.timestamp()))
        (sent,) = self._sent(await self._post(update))
        return sent

    async def press(self, data: str, user: int) -> list[Sent]:
        """`user` presses an inline button in his private chat: the press is answered, then the command's answer."""
        update = callback_update(data, chat_id=user, user_id=user, language_code=LANGUAGE[user])
        before = await self._post(update)
        answered = [c.params for c in self.api.calls[before:] if c.method == "answerCallbackQuery"]
        assert [a["callback_query_id"] for a in answered] == [update["callback_query"]["id"]]
        return self._sent(before)

    async def dispatch(self) -> list[Sent]:
        before = len(self.api.calls)
        await self.dispatcher.deliver_due()
        return self._sent(before)

    def texts(self) -> list[str]:
        """Everything Telegram was given to show: messages, button labels, captions, the command menus."""
        shown = []
        for call in self.api.calls:
            params = call.params
            shown += [str(params.get(key) or "") for key in ("text", "caption")]
            markup = params.get("reply_markup") or {}
            shown += [b.get("text", "") for key in ("inline_keyboard", "keyboard") for row in markup.get(key, [])
                      for b in row]
            shown += [c["description"] for c in params.get("commands") or []]
        return [html.unescape(text) for text in shown]


@pytest.fixture
async def week(pg_db: Database, tmp_path, monkeypatch, capsys) -> AsyncIterator[Week]:
    codes = set_up_company(pg_db, tmp_path, monkeypatch, capsys)
    api = await FakeTelegramAPI(token=TOKEN).start()
    clock = StoryClock()
    router = build_router(pg_db, telegram_settings(pg_db, api, webhook=True), clock=clock)
    try:
        async with running_webhook(pg_db, router, api) as bot:
            yield Week(pg_db, codes, bot, clock, Dispatcher(pg_db, {"telegram": bot.front_end.sender}, clock=clock))
    finally:
        await api.close()


async def test_the_first_week_on_telegram(week: Week):
    codes = week.codes

    # ---- li opens his deep link, sam and mei send /join in their private chats; the group welcomes
    # the team's reps in its own language
    li_joined = await week.one(f"/start {codes['li']}", LI)
    assert li_joined.chat == LI and "欢迎,李雷" in li_joined.text and "/help" in li_joined.text
    assert "Welcome, Sam Carter" in (await week.one(f"/join {codes['sam']}", SAM)).text
    assert "Welcome, Mei Wang" in (await week.one(f"/join {codes['mei']}", MEI)).text
    assert [(w.chat, w.text) for w in await week.dispatch()] == [
        (GROUP, "李雷 已加入 fieldcrm「East Team」。欢迎!"), (GROUP, "Sam Carter 已加入 fieldcrm「East Team」。欢迎!")]

    # ---- 09:05: li types /checkin in the group: the location button comes in his private chat, the
    # group gets one line with the link to it
    asked, told = await week.say("/checkin", LI, GROUP)
    assert asked.chat == LI and asked.asks_for_location and "发送我的位置" in asked.text
    assert told.chat == GROUP and "私聊" in told.text and "https://t.me/fieldcrm_bot" in told.text
    assert not told.asks_for_location
    pinned = await week.share_location(LI, accuracy=900, at=(31.229873, 121.476121))
    assert pinned.chat == LI and "已签到:09:05" in pinned.text and "已标记" in pinned.text
    sam_asked = await week.one("/checkin", SAM)
    assert sam_asked.asks_for_location and "Share my location" in sam_asked.text
    assert "flagged" in (await week.share_location(SAM, accuracy=900, at=(31.219553, 121.444122))).text

    # ---- li claims from the pool with its button, follows up as typed, converts
    pool = await week.one("/pool", LI)
    assert "公海「East pool」" in pool.text
    (lead,) = re.findall(rf"#(\d+) {FIRST_LEAD}", pool.text)
    assert pool.buttons[f"领取 #{lead}"] == f"claim {lead}"
    (claimed,) = await week.press(f"claim {lead}", LI)
    assert claimed.chat == LI and f"线索 #{lead} {FIRST_LEAD} 已归你负责" in claimed.text
    assert "跟进中" in (await week.one(f"/follow {lead} {FOLLOW_NOTE}", LI)).text
    # Asked in the group, the lead (a name, a phone) is shown in li's private chat; the group learns so.
    history, told = await week.say(f"/lead {lead}", LI, GROUP)
    assert history.chat == LI and f"跟进记录 · 李雷 · 待处理 → 跟进中 · {FOLLOW_NOTE}" in history.text
    assert told.chat == GROUP and FIRST_LEAD not in told.text and "138" not in told.text
    converted = await week.one(f"/convert {lead} --contact 陈静", LI)
    assert "陈静" in converted.text and f"新客户 #1 {FIRST_LEAD}" in converted.text

    # ---- a visit at the new customer
    week.clock.at("09:40")
    visit = await week.one("/visit 星河", LI)
    assert f"开始拜访:{FIRST_LEAD}" in visit.text and visit.asks_for_location
    located = await week.share_location(LI, accuracy=15)
    # the customer's first visit: its place is not confirmed until a second visit agrees
    assert f"位置已记录:{FIRST_LEAD}" in located.text and "地点待确认" in located.text and "/visit end" in located.text
    week.clock.at("10:10")
    ended = await week.one("/visit end 签了样品单", LI)
    assert "30 分钟" in ended.text and "地点待确认" in ended.text

    # ---- a deal, won in the group (answered privately: an amount), announced in the group after its
    # merge window
    created = await week.one("/newdeal 星河 50000 首单", LI)
    (deal,) = re.findall(r"商机 #(\d+)", created.text)
    assert f"/win {deal}" in created.text
    won, told = await week.say(f"/win {deal}", LI, GROUP)
    assert won.chat == LI and "赢单" in won.text and "50,000.00 CNY" in won.text
    assert told.chat == GROUP and "50,000" not in told.text
    assert await week.dispatch() == []  # 10:10 is outside the group's quiet hours: only the merge window
    week.clock.advance(60)
    (gong,) = await week.dispatch()
    assert gong.chat == GROUP and f"李雷 拿下 {FIRST_LEAD} 50,000.00 CNY" in gong.text
    paid = await week.one(f"/paid {deal} 20000", LI)
    assert f"已为商机 #{deal} 登记回款 20,000.00 CNY" in paid.text

    # ---- the day's board at the group's 17:30, in Chinese
    assert board_pushes(week.db, week.clock) == ["17:30"]
    (board,) = await week.dispatch()
    assert board.chat == GROUP and "East Team 排行榜 · 赢单金额 · 今日" in board.text
    assert "1. 李雷 — 50,000.00" in board.text

    # ---- mei reviews in her private chat: approves li's check-in with the button, rejects sam's
    # with a reason; each rep is told in his own language
    queue = await week.say("/review", MEI)
    # li's check-in (poor accuracy), li's visit at a place not yet confirmed, sam's visit
    assert all(q.chat == MEI for q in queue) and "Visits to review: 3" in queue[0].text
    li_item = next(q for q in queue if "李雷" in q.text and "accuracy 900 m is worse than 200 m" in q.text)
    assert set(li_item.buttons) == {"Approve", "Reject"}
    sam_item = next(q for q in queue if "Sam Carter" in q.text)
    (sam_visit,) = re.findall(r"review reject (\d+)", sam_item.buttons["Reject"])
    (li_checkin_id,) = re.findall(r"review approve (\d+)", li_item.buttons["Approve"])
    (approved,) = await week.press(li_item.buttons["Approve"], MEI)
    assert approved.chat == MEI and f"Check-in #{li_checkin_id} of 李雷 approved: it now counts" in approved.text
    assert "rejected" in (await week.one(f"/review reject {sam_visit} you weren't at the office ’ 🙁", MEI)).text
    told = {t.chat: t.text for t in await week.dispatch()}
    assert set(told) == {LI, SAM}
    assert told[LI] == f"你的签到 #{li_checkin_id} 已被主管批准,计入统计。"
    assert f"Your check-in #{sam_visit} was rejected by your manager" in told[SAM] and "you weren't at the office ’ 🙁" in told[SAM]

    # ---- the team chart arrives as a photo, the leads export as a document, in mei's chat
    assert "Won this month" in (await week.one("/team", MEI)).text
    (photo,) = week.api.called("sendPhoto")
    assert int(photo["chat_id"]) == MEI and photo["photo_bytes"].startswith(b"\x89PNG")
    assert "Export of leads" in (await week.one("/export leads", MEI)).text
    (document,) = week.api.called("sendDocument")
    assert int(document["chat_id"]) == MEI and document["document_name"].endswith(".xlsx")

    # ---- a win at 22:30 waits for the end of the group's quiet hours (22:00-08:00)
    week.clock.at("22:30")
    (late_deal,) = re.findall(r"商机 #(\d+)", (await week.one("/newdeal 星河 8000 追加", LI)).text)
    assert "赢单" in (await week.one(f"/win {late_deal}", LI)).text
    week.clock.advance(9 * 3600 + 29 * 60)
    assert week.clock.local() == "07:59" and await week.dispatch() == []
    week.clock.advance(120)
    (morning_gong,) = await week.dispatch()
    assert morning_gong.chat == GROUP and f"李雷 拿下 {FIRST_LEAD} 8,000.00 CNY" in morning_gong.text

    # ---- where things went: the group never got a location keyboard, a photo or a file; the bot
    # spoke in it only for the welcomes, the two gongs, the board and one line per personal answer
    # asked for there
    group_posts = [c.params for c in week.api.calls if c.method.startswith("send") and int(c.params["chat_id"]) == GROUP]
    assert all("keyboard" not in (p.get("reply_markup") or {}) for p in group_posts)
    assert len(group_posts) == 8 and all("text" in p for p in group_posts)
    assert_commands_spelled_for("telegram", week.texts())
