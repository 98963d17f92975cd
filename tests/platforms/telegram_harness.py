"""Driving the real python-telegram-bot code: the front end in webhook mode on a live HTTP server,
talking to a FakeTelegramAPI, and a client that posts updates to the webhook as Telegram does."""
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import aiohttp

from bot.adapters.telegram.front_end import WEBHOOK_PATH, TelegramFrontEnd
from bot.bootstrap import send_budget, web_app
from bot.config import Settings, load_settings
from bot.router import Router
from bot.services.core import identity
from bot.web.server import start_server
from db.base import utcnow
from db.models import PlatformIdentity
from db.session import Database
from tests.fakes.telegram_api import FakeTelegramAPI, text_update

SECRET = "s3cret-token"
TOKEN = "123:ABC"
WORKSPACE = TOKEN.split(":")[0]  # the bot's id: the workspace a Telegram identity is linked in


def link_telegram(db: Database, handle: str, telegram_id: int, workspace: str = WORKSPACE) -> None:
    """The person `handle` linked to this Telegram account, his private chat open (as /join leaves it)."""
    with db.uow() as uow:
        user = identity.find_user(uow, handle)
        assert user is not None, handle
        uow.session.add(PlatformIdentity(platform="telegram", workspace=workspace, platform_user_id=str(telegram_id),
                                         dm_chat_id=str(telegram_id), user_id=user.id, linked_at=utcnow()))
        uow.commit()
LI = 555


def telegram_settings(db: Database, api: FakeTelegramAPI, webhook: bool, **overrides: object) -> Settings:
    return load_settings(
        env_file=None,
        DATABASE_URL=db.url,
        SECRET_KEY="test-secret",
        TELEGRAM_BOT_TOKEN=TOKEN,
        TELEGRAM_API_BASE_URL=api.base_url,
        TELEGRAM_WEBHOOK_URL="https://bot.example.com/telegram/webhook" if webhook else "",
        TELEGRAM_WEBHOOK_SECRET=SECRET if webhook else None,
        **overrides,
    )


@dataclass
class WebhookBot:
    front_end: TelegramFrontEnd
    api: FakeTelegramAPI
    url: str
    session: aiohttp.ClientSession

    async def post(self, update: dict | str, secret: str | None = SECRET) -> int:
        headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret is not None else {}
        body = {"data": update} if isinstance(update, str) else {"json": update}
        async with self.session.post(self.url, headers=headers, **body) as response:
            return response.status

    async def say(self, text: str, chat_id: int = LI, **kwargs: object) -> str:
        """Send one text as user `chat_id` in his private chat; the bot's answer, as sent."""
        before = len(self.api.texts())
        assert await self.post(text_update(text, chat_id=chat_id, user_id=chat_id, **kwargs)) == 200
        sent = await self.api.wait_for("sendMessage", before + 1)
        return "\n".join(p["text"] for p in sent[before:])


@asynccontextmanager
async def running_webhook(db: Database, router: Router, api: FakeTelegramAPI, **overrides: object
                          ) -> AsyncIterator[WebhookBot]:
    """The Telegram front end in webhook mode on a live HTTP server, started as `fieldcrm run` does
    (`overrides`: settings, PUBLIC_BASE_URL...)."""
    settings = telegram_settings(db, api, webhook=True, **overrides)
    front_end = TelegramFrontEnd(settings, router, send_budget(router.db))
    app = web_app(db, settings, [front_end], clock=router.clock)
    runner, port = await start_server(app)
    await front_end.start()
    try:
        async with aiohttp.ClientSession() as session:
            yield WebhookBot(front_end, api, f"http://127.0.0.1:{port}{WEBHOOK_PATH}", session)
    finally:
        await front_end.stop()
        await runner.cleanup()
