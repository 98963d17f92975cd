"""The Telegram front end: the PTB application (polling, or a webhook on the shared aiohttp app
guarded by the secret-token header), the command menu at start, and the answers to each update.
"""
import asyncio
import hmac
import logging
from typing import Any

from aiohttp import web
from telegram import Update
from telegram.error import InvalidToken, NetworkError, RetryAfter, TelegramError
from telegram.ext import Application, ApplicationBuilder, ContextTypes, TypeHandler

from bot.adapters.front_end import answer
from bot.adapters.telegram import edge
from bot.adapters.telegram.answers import send_answers
from bot.adapters.telegram.inbound import bot_id, fetch_attachment, to_incoming
from bot.adapters.telegram.menu import (
    RELINKING_COMMANDS,
    bot_commands,
    mini_app_url,
    set_menu_buttons,
    set_own_menus,
)
from bot.adapters.telegram.mini_app import MiniAppGate
from bot.adapters.telegram.outbound import Courier, TelegramSender
from bot.adapters.telegram.words import COMMAND_PREFIX, LOCATION_ASK, PLATFORM
from bot.budget import Budget
from bot.config import LOCALES, Settings
from bot.messages import Incoming, Reply
from bot.router import Router
from bot.startup import StartupError, Unreachable, reason, until_reachable

log = logging.getLogger(__name__)

WEBHOOK_PATH = "/telegram/webhook"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
ALLOWED_UPDATES = ["message", "edited_message", "callback_query"]
READ_TIMEOUT_S = 30.0


def build_application(settings: Settings, webhook: bool) -> Application:
    token = settings.TELEGRAM_BOT_TOKEN
    assert token, "TelegramFrontEnd needs TELEGRAM_BOT_TOKEN"
    base_url = settings.TELEGRAM_API_BASE_URL.rstrip("/")
    builder = (
        ApplicationBuilder()
        .token(token)
        .base_url(base_url)
        .base_file_url(_file_url(base_url))
        .concurrent_updates(True)
        # A slow Telegram is waited for rather than given up on after PTB's 5 s: a send whose answer
        # never came may have landed, and sending it again is how a post arrives twice.
        .read_timeout(READ_TIMEOUT_S)
        .media_write_timeout(READ_TIMEOUT_S)
    )
    if webhook:
        builder = builder.updater(None)
    return builder.build()


def _file_url(base_url: str) -> str:
    """https://api.telegram.org/bot -> https://api.telegram.org/file/bot (also for a local server)."""
    root, _, last = base_url.rpartition("/")
    return f"{root}/file/{last}"


class TelegramFrontEnd:
    command_prefix = COMMAND_PREFIX
    location_ask = LOCATION_ASK
    platform = PLATFORM

    def __init__(self, settings: Settings, router: Router, budget: Budget):
        self.settings = settings
        self.router = router
        self.workspace = bot_id(settings.TELEGRAM_BOT_TOKEN or "")
        self.webhook_url = settings.TELEGRAM_WEBHOOK_URL or None
        self.application = build_application(settings, webhook=self.webhook_url is not None)
        self.application.add_handler(TypeHandler(Update, self._on_update))
        self.application.add_error_handler(self._on_error)
        self.courier = Courier(self.application.bot, budget, self.workspace)
        self.sender = TelegramSender(self.courier, self._initialize, settings.DEFAULT_LOCALE)
        self._init_lock = asyncio.Lock()
        self._started = False
        self.mini_app_url = mini_app_url(settings.PUBLIC_BASE_URL)
        if self.mini_app_url is None:
            log.warning("telegram: no Mini App menu button: PUBLIC_BASE_URL %s is not https, which Telegram requires",
                        settings.PUBLIC_BASE_URL)

    def mini_app(self) -> MiniAppGate:
        """What the Mini App's pages (bot.web.miniapp) need of Telegram."""
        return MiniAppGate(self.router, self.settings.TELEGRAM_BOT_TOKEN or "", self.workspace, self._send)

    @property
    def bot(self) -> Any:
        return self.application.bot

    async def _initialize(self) -> None:
        async with self._init_lock:
            await self.application.initialize()  # idempotent: getMe once

    async def _connect(self) -> None:
        """getMe: Unreachable while Telegram does not answer, StartupError when it refuses the token."""
        try:
            await self._initialize()
        except InvalidToken as exc:
            raise StartupError(f"telegram refused the bot token ({reason(exc)})") from None
        except (NetworkError, RetryAfter) as exc:  # TimedOut is a NetworkError
            url = self.settings.TELEGRAM_API_BASE_URL
            raise Unreachable(f"telegram API {url} unreachable ({reason(exc)})") from None

    def add_routes(self, app: web.Application) -> None:
        if self.webhook_url:
            app.router.add_post(WEBHOOK_PATH, self._webhook)

    async def start(self) -> None:
        await until_reachable(self._connect)
        await self._set_commands()
        await self.application.start()
        if self.webhook_url:
            await self.bot.set_webhook(
                self.webhook_url, secret_token=self.settings.TELEGRAM_WEBHOOK_SECRET, allowed_updates=ALLOWED_UPDATES
            )
            log.info("telegram: webhook mode, @%s at %s", self.bot.username, self.webhook_url)
        else:
            assert self.application.updater is not None
            await self.application.updater.start_polling(allowed_updates=ALLOWED_UPDATES)
            log.info("telegram: polling as @%s", self.bot.username)
        self._started = True

    async def stop(self) -> None:
        self._started = False
        updater = self.application.updater
        if updater is not None and updater.running:
            await updater.stop()
        if self.application.running:
            await self.application.stop()
        await self.application.shutdown()
        await self.router.marked()

    async def _set_commands(self) -> None:
        try:
            await self.bot.set_my_commands(bot_commands(self.router.commands, self.settings.DEFAULT_LOCALE))
            for locale in LOCALES:
                await self.bot.set_my_commands(bot_commands(self.router.commands, locale), language_code=locale)
            await set_own_menus(self.bot, self.router.commands, self.router.db, self.workspace)
        except TelegramError as exc:  # a missing menu is no reason to stay offline
            log.warning("telegram: setMyCommands failed: %s", exc)

    async def _webhook(self, request: web.Request) -> web.Response:
        """Secret token first (403), then the body: not an update at all is a 400; an update of
        the wrong shape is ignored with one log line and a 200, or Telegram would send it again."""
        if not self._secret_matches(request.headers.get(SECRET_HEADER, "")):
            log.warning("telegram: webhook call with a wrong or missing secret token from %s", request.remote)
            return web.Response(status=403)
        if not self._started:
            return web.Response(status=503)  # Telegram retries
        try:
            data = edge.read_update(await request.read())
        except edge.Unreadable as exc:
            log.info("telegram: unreadable webhook body: %s", exc)
            return web.Response(status=400, text="unreadable_body")
        update = self._parse_update(data)
        if update is not None:
            await self.application.process_update(update)
        return web.Response(text="ok")

    def _secret_matches(self, given: str) -> bool:
        secret = self.settings.TELEGRAM_WEBHOOK_SECRET or ""
        try:
            given_bytes = given.encode("utf-8", "surrogateescape")  # aiohttp's decoding of raw bytes
        except UnicodeEncodeError:
            return False
        return bool(secret) and hmac.compare_digest(given_bytes, secret.encode())

    def _parse_update(self, data: dict) -> Update | None:
        """The update, or None (logged once, one line) when its shape is wrong."""
        problem = edge.shape_problem(data)
        if problem is None:
            try:
                return Update.de_json(data, self.bot)
            except Exception as exc:  # a field PTB reads and edge does not check
                problem = repr(exc)
        log.warning("telegram: update %s ignored, wrong shape: %s", data.get("update_id"), problem)
        return None

    async def _on_update(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        if self.webhook_url is None and not _well_shaped(update):  # polled: not checked at the edge
            return
        query = update.callback_query
        if query is not None:
            try:  # every press is answered (stops the spinner), whatever happens next
                await query.answer()
            except TelegramError as exc:
                log.warning("telegram: answerCallbackQuery failed: %s", exc)
        incoming = to_incoming(update, self.workspace, self.bot.username)
        if incoming is None:
            return
        if incoming.attachment is not None:
            incoming = await fetch_attachment(self.bot, update, incoming, self.settings.PHOTO_MAX_BYTES)
        if not incoming.is_private and incoming.command:
            log.info("telegram: /%s in group chat %s", incoming.command, incoming.chat_id)
        await answer(self.router, incoming, lambda replies: self._send(incoming, replies))
        if incoming.is_private and incoming.command in RELINKING_COMMANDS:  # a manager's own menu, in his language
            await set_own_menus(self.bot, self.router.commands, self.router.db, self.workspace, incoming.user_id)
            if self.mini_app_url is not None:  # the Mini App's button, labelled in his language
                await set_menu_buttons(self.bot, self.router.db, self.workspace, self.mini_app_url, incoming.user_id)

    async def _send(self, incoming: Incoming, replies: list[Reply]) -> bool:
        """Every reply is tried, where it may be seen (bot.adapters.telegram.answers); True when all
        of them left."""
        return await send_answers(self.courier, incoming, replies, self.settings.DEFAULT_LOCALE)

    async def _on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Must not fail itself: PTB would log that failure with a traceback of its own."""
        update_id = update.update_id if isinstance(update, Update) else "?"
        if isinstance(context.error, TelegramError):  # the platform's answer, not a bug: one line
            log.warning("telegram: update %s failed: %r", update_id, context.error)
        else:
            log.error("telegram: update %s failed", update_id, exc_info=context.error)


def _well_shaped(update: Update) -> bool:
    try:
        problem = edge.shape_problem(update.to_dict())
    except Exception as exc:
        problem = repr(exc)
    if problem is not None:
        log.warning("telegram: update %s ignored, wrong shape: %s", update.update_id, problem)
    return problem is None
