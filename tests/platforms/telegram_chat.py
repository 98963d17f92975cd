"""People's private chats with the bot through the real python-telegram-bot webhook against the fake
Bot API, on PostgreSQL, on a clock the test moves in Shanghai time: what they say and press, a
scheduled job fired by two processes at once, and what the dispatcher then delivers to them."""
import html
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from bot.bootstrap import build_router
from bot.config import Settings
from bot.delivery import Dispatcher
from db.session import Database
from tests.fakes.telegram_api import FakeTelegramAPI, callback_update, text_update
from tests.platforms.telegram_harness import (
    TOKEN,
    WebhookBot,
    link_telegram,
    running_webhook,
    telegram_settings,
)

LI = 555  # li's Telegram id: Chinese, Asia/Shanghai in the demo org

Buttons = dict[str, str]  # label → callback data


@dataclass
class ShanghaiClock:
    now: datetime

    def __call__(self) -> datetime:
        return self.now

    def at(self, local: str) -> None:
        """Set the clock to a Shanghai date-time, '2026-12-08 15:00'."""
        self.now = datetime.fromisoformat(local + "+08:00").astimezone(UTC)


@dataclass
class Chat:
    db: Database
    bot: WebhookBot
    clock: ShanghaiClock
    settings: Settings
    dispatcher: Dispatcher
    records: dict[str, int] = field(default_factory=dict)

    def _sent(self, before: int) -> list[dict]:
        return [c.params for c in self.bot.api.calls[before:] if c.method == "sendMessage"]

    @staticmethod
    def _buttons(sent: list[dict]) -> Buttons:
        return {b["text"]: b["callback_data"] for p in sent
                for row in (p.get("reply_markup") or {}).get("inline_keyboard", []) for b in row}

    async def say_with_buttons(self, text: str, who: int = LI) -> tuple[str, Buttons]:
        before = len(self.bot.api.calls)
        assert await self.bot.post(text_update(text, chat_id=who, user_id=who, date=int(self.clock.now.timestamp()))) == 200
        sent = self._sent(before)
        return "\n".join(html.unescape(p["text"]) for p in sent), self._buttons(sent)

    async def say(self, text: str, who: int = LI) -> str:
        return (await self.say_with_buttons(text, who))[0]

    async def press(self, data: str, who: int = LI) -> str:
        before = len(self.bot.api.calls)
        assert await self.bot.post(callback_update(data, chat_id=who, user_id=who)) == 200
        return "\n".join(html.unescape(p["text"]) for p in self._sent(before))

    def run_job_in_two_processes(self, job: Callable[[Database, datetime, Settings], object], every: timedelta) -> None:
        """Two processes fire `job` at once, each on its own connection pool: this slot and the one
        before it (`every` earlier), as a late process would."""
        slots = [self.clock.now, self.clock.now - every]
        barrier = threading.Barrier(len(slots))

        def process(slot: datetime) -> None:
            database = Database(self.db.url)
            barrier.wait()
            job(database, slot, self.settings)
            database.dispose()

        threads = [threading.Thread(target=process, args=(slot,)) for slot in slots]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    async def delivered_with_buttons(self, who: int = LI) -> list[tuple[str, Buttons]]:
        """Run the dispatcher; what it sent to `who`."""
        before = len(self.bot.api.calls)
        await self.dispatcher.deliver_due()
        return [(html.unescape(p["text"]), self._buttons([p])) for p in self._sent(before)
                if str(p["chat_id"]) == str(who)]

    async def delivered(self, who: int = LI) -> list[str]:
        return [text for text, _buttons in await self.delivered_with_buttons(who)]


@asynccontextmanager
async def running_chat(db: Database, clock: ShanghaiClock, people: dict[int, str]) -> AsyncIterator[Chat]:
    """The bot on a webhook, with these Telegram ids linked to these handles (DMs open)."""
    for telegram_id, handle in people.items():
        link_telegram(db, handle, telegram_id)
    api = await FakeTelegramAPI(token=TOKEN).start()
    settings = telegram_settings(db, api, webhook=True)
    try:
        async with running_webhook(db, build_router(db, settings, clock=clock), api) as bot:
            yield Chat(db, bot, clock, settings, Dispatcher(db, {"telegram": bot.front_end.sender}, clock=clock))
    finally:
        await api.close()
