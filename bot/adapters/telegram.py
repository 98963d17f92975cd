"""The Telegram front end (python-telegram-bot): Telegram updates in, Telegram HTML out.

Translation only, in the manner of an opsdroid connector: an update becomes a neutral Incoming
(command, location, button press), the Router answers, and each Reply becomes one or more
HTML messages with inline keyboards. No business rule and no SQL lives here.

Polling when TELEGRAM_WEBHOOK_URL is empty; otherwise a webhook served by the shared aiohttp app
at POST /telegram/webhook, guarded by the secret-token header.
"""
import asyncio
import hmac
import logging
import re
import warnings
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import timedelta
from html import escape
from typing import Any

from aiohttp import web
from telegram import (
    BotCommand,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    KeyboardButton,
    MaybeInaccessibleMessage,
    Message,
    ReplyKeyboardMarkup,
    Update,
)
from telegram import Location as TgLocation
from telegram.constants import ChatType, ParseMode
from telegram.error import BadRequest, ChatMigrated, Forbidden, TelegramError
from telegram.error import RetryAfter as TgRetryAfter
from telegram.ext import Application, ApplicationBuilder, ContextTypes, TypeHandler

from bot.config import LOCALES, Settings
from bot.delivery import PermanentFailure, RetryAfter, SlidingWindow
from bot.handlers.registry import Access, CommandTable
from bot.i18n import command_info, label, pick_locale, render_text
from bot.messages import Button, Incoming, Location, Reply
from bot.router import Router, command_line

log = logging.getLogger(__name__)

PLATFORM = "telegram"
COMMAND_PREFIX = "/"
MESSAGE_LIMIT = 4096  # characters (UTF-16 code units) of one message
CALLBACK_DATA_LIMIT = 64  # bytes of an inline button's callback_data
MAX_COMMANDS = 100
COMMAND_NAME = re.compile(r"[a-z0-9_]{1,32}")
WEBHOOK_PATH = "/telegram/webhook"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
ALLOWED_UPDATES = ["message", "edited_message", "callback_query"]
# Telegram's words for a chat the bot can never post to again.
CHAT_GONE = (
    "chat not found",
    "bot was kicked",
    "bot was blocked",
    "user is deactivated",
    "group chat was upgraded",
    "not enough rights",
    "have no rights",
)
# A flood wait met in the middle of a multi-part reply is waited out here, up to this long,
# rather than resending the parts already delivered.
INLINE_WAIT_LIMIT_S = 60.0

ReplyMarkup = InlineKeyboardMarkup | ReplyKeyboardMarkup


# ---------------------------------------------------------------- inbound: Update -> Incoming


def bot_id(token: str) -> str:
    """The workspace of a Telegram identity: the bot's numeric id, the part of the token before ':'."""
    return token.split(":", 1)[0]


def to_incoming(update: Update, workspace: str, bot_username: str | None = None) -> Incoming | None:
    """Translate one update; None for anything the bot does not act on (plain chat, joins...)."""
    message = update.effective_message
    if message is not None and getattr(message, "chat", None) is None:
        return None  # malformed: Telegram always names the chat
    if update.callback_query is not None:
        return _from_button(update, workspace)
    if update.edited_message is not None:
        return _from_live_edit(update, workspace)
    if update.message is not None:
        return _from_message(update, update.message, workspace, bot_username)
    return None


def _base(update: Update, message: MaybeInaccessibleMessage, workspace: str, user: Any) -> dict[str, Any]:
    return dict(
        platform=PLATFORM,
        command_prefix=COMMAND_PREFIX,
        workspace=workspace,
        chat_id=str(message.chat.id),
        user_id=str(user.id),
        event_id=str(update.update_id),
        is_private=message.chat.type == ChatType.PRIVATE,
        display_name=user.full_name,
        language_hint=user.language_code,
    )


def _from_message(update: Update, message: Message, workspace: str, bot_username: str | None) -> Incoming | None:
    user = message.from_user
    if user is None or user.is_bot:
        return None
    base = _base(update, message, workspace, user)
    location = _location(message, edited=False)
    if location is not None:
        return Incoming(**base, sent_at=message.date, location=location)
    text = message.text or ""
    if not text.startswith("/") or not _addressed_to(text, bot_username):
        return None
    name, args = command_line(text)
    if not name:
        return None
    return Incoming(**base, sent_at=message.date, command=name, args=args)


def _from_live_edit(update: Update, workspace: str) -> Incoming | None:
    """Live-location updates arrive as edits of the original location message."""
    message = update.edited_message
    assert message is not None
    user = message.from_user
    if user is None or user.is_bot:
        return None
    location = _location(message, edited=True)
    if location is None:
        return None  # an edited command is not run a second time
    base = _base(update, message, workspace, user)
    return Incoming(**base, sent_at=message.edit_date or message.date, location=location)


def _from_button(update: Update, workspace: str) -> Incoming | None:
    query = update.callback_query
    assert query is not None
    if query.message is None or not query.data or query.from_user is None:
        return None
    base = _base(update, query.message, workspace, query.from_user)
    return Incoming(**base, button=query.data)


def _addressed_to(text: str, bot_username: str | None) -> bool:
    """`/cmd@otherbot` in a group is meant for another bot."""
    _, _, target = text.split(maxsplit=1)[0].partition("@")
    return not target or not bot_username or target.lower() == bot_username.lower()


def _location(message: Message, edited: bool) -> Location | None:
    point: TgLocation | None
    if message.venue is not None:
        point, source = message.venue.location, "venue"
    elif message.location is not None:
        point = message.location
        live = edited or bool(_seconds(point, "live_period"))
        source = "live" if live else "static"
    else:
        return None
    live_period = _seconds(point, "live_period")
    return Location(
        latitude=point.latitude,
        longitude=point.longitude,
        accuracy_m=point.horizontal_accuracy,
        source=source,
        taken_at=(message.edit_date if edited else None) or message.date,
        forwarded=message.forward_origin is not None,
        live_period_s=int(live_period) if live_period is not None else None,
        message_id=str(message.message_id),
        edited=edited,
    )


def _seconds(obj: object, attribute: str) -> float | None:
    """A PTB time period (int or timedelta depending on version and PTB_TIMEDELTA) in seconds."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PTB 22 warns that the int form is deprecated
        value = getattr(obj, attribute, None)
    if value is None:
        return None
    if isinstance(value, timedelta):
        return value.total_seconds()
    return float(value)


# ---------------------------------------------------------------- outbound: Reply -> messages


@dataclass(frozen=True)
class Outgoing:
    """One sendMessage: HTML text and its keyboard."""

    html: str
    markup: ReplyMarkup | None = None


def utf16_len(text: str) -> int:
    """Telegram counts message length in UTF-16 code units (an emoji counts 2)."""
    return len(text.encode("utf-16-le")) // 2


def html_lines(reply: Reply) -> list[str]:
    """Each line is self-contained HTML (tags open and close on it), so lines split safely."""
    lines = []
    if reply.title:
        lines.append(f"<b>{escape(reply.title)}</b>")
    lines.extend(f"<b>{escape(name)}</b>: {escape(value)}" for name, value in reply.fields)
    if reply.text:
        lines.extend(escape(line) for line in reply.text.split("\n"))
    return lines


def render_html(reply: Reply, limit: int = MESSAGE_LIMIT) -> list[str]:
    """The reply as HTML message texts of at most `limit` characters, split on line boundaries."""
    chunks: list[str] = []
    current: list[str] = []
    size = 0
    for line in html_lines(reply):
        for piece in _fit_line(line, limit):
            extra = utf16_len(piece) + (1 if current else 0)
            if current and size + extra > limit:
                chunks.append("\n".join(current))
                current, size = [], 0
                extra = utf16_len(piece)
            current.append(piece)
            size += extra
    if current:
        chunks.append("\n".join(current))
    return [chunk for chunk in chunks if chunk.strip()]  # Telegram refuses an empty message


def _fit_line(line: str, limit: int) -> list[str]:
    """A line longer than a whole message is cut (bold dropped) without breaking an entity."""
    if utf16_len(line) <= limit:
        return [line]
    rest = re.sub(r"</?b>", "", line)
    pieces = []
    while utf16_len(rest) > limit:
        cut = _safe_cut(rest, limit)
        pieces.append(rest[:cut])
        rest = rest[cut:].lstrip(" ")
    if rest:
        pieces.append(rest)
    return pieces


def _safe_cut(text: str, limit: int) -> int:
    cut = limit
    while utf16_len(text[:cut]) > limit:
        cut -= 1
    amp = text.rfind("&", max(0, cut - 8), cut)
    if amp != -1 and ";" not in text[amp:cut]:
        cut = amp  # never split "&amp;" and friends
    space = text.rfind(" ", 0, cut)
    return space if space > cut // 2 else max(cut, 1)


def inline_keyboard(buttons: list[Button]) -> InlineKeyboardMarkup | None:
    rows = []
    for button in buttons:
        if button.url:
            rows.append([InlineKeyboardButton(button.label, url=button.url)])
            continue
        size = len(button.payload.encode())
        if not 1 <= size <= CALLBACK_DATA_LIMIT:
            log.error(
                "telegram: button %r dropped: callback data is %d bytes, Telegram allows 1-%d: %r",
                button.label, size, CALLBACK_DATA_LIMIT, button.payload,
            )
            continue
        rows.append([InlineKeyboardButton(button.label, callback_data=button.payload)])
    return InlineKeyboardMarkup(rows) if rows else None


def location_keyboard(locale: str) -> ReplyKeyboardMarkup:
    button = KeyboardButton(label("share_location", locale), request_location=True)
    return ReplyKeyboardMarkup([[button]], one_time_keyboard=True, resize_keyboard=True)


def plan_messages(reply: Reply, private: bool, locale: str) -> list[Outgoing]:
    """The sendMessage calls for one reply. A request for location is a reply keyboard, which
    Telegram allows in private chats only; a message carries one keyboard, so an inline keyboard
    and a location request need two messages."""
    messages = [Outgoing(chunk) for chunk in render_html(reply)]
    inline = inline_keyboard(reply.buttons)
    if inline is not None:
        if not messages:
            messages.append(Outgoing(escape(render_text("telegram/choose", locale))))
        messages[-1] = replace(messages[-1], markup=inline)
    if reply.request_location and private:
        keyboard = location_keyboard(locale)
        if messages and messages[-1].markup is None:
            messages[-1] = replace(messages[-1], markup=keyboard)
        else:
            prompt = escape(render_text("telegram/share_location", locale))
            messages.append(Outgoing(prompt, keyboard))
    return messages


def retry_seconds(exc: TgRetryAfter) -> float:
    return _seconds(exc, "retry_after") or 1.0


def chat_ref(chat_id: str) -> int | str:
    """Numeric chat ids go as numbers; '@channelname' stays a string."""
    return int(chat_id) if chat_id.lstrip("-").isdigit() else chat_id


async def _flood_safe(call: Callable[[], Awaitable[object]], patient: bool) -> None:
    """Send; when patient, wait out a short flood limit instead of giving up."""
    for _ in range(3):
        try:
            await call()
            return
        except TgRetryAfter as exc:
            seconds = retry_seconds(exc)
            if not patient or seconds > INLINE_WAIT_LIMIT_S:
                raise
            log.info("telegram: flood limit, waiting %ss", seconds)
            await asyncio.sleep(seconds)
    await call()


async def deliver(bot: Any, chat_id: str, reply: Reply, private: bool, locale: str, patient: bool) -> None:
    """Send one reply: its messages in order, then its file. Raises PTB's errors."""
    target = chat_ref(chat_id)
    for index, out in enumerate(plan_messages(reply, private, locale)):
        await _flood_safe(
            lambda out=out: bot.send_message(target, out.html, parse_mode=ParseMode.HTML, reply_markup=out.markup),
            patient=patient or index > 0,
        )
    if reply.file_bytes is not None:
        document = InputFile(reply.file_bytes, filename=reply.file_name or "file")
        await _flood_safe(lambda: bot.send_document(target, document), patient=True)


def reply_locale(reply: Reply, hint: str | None, default: str) -> str:
    """Button labels follow the reply's language when the Reply carries it, else the user's client."""
    return pick_locale(getattr(reply, "locale", None), hint, default)


# ---------------------------------------------------------------- outbox sender


# Slots count from Telegram's answer (bot.delivery.SlidingWindow.settle), so jitter cannot squeeze
# posts together at its end; the windows keep a 5 % margin under the published limits besides.
MARGIN = 1.05


class TelegramSender:
    """Delivers outbox posts (team groups, direct messages) within Telegram's rate limits."""

    platform = PLATFORM
    command_prefix = COMMAND_PREFIX

    def __init__(self, bot: Any, ready: Callable[[], Awaitable[None]], default_locale: str):
        self.bot = bot
        self.ready = ready
        self.default_locale = default_locale
        self.global_window = SlidingWindow(30, 1.0 * MARGIN)
        self.chat_windows: dict[str, SlidingWindow] = {}

    def limits_for(self, chat_id: str) -> list[SlidingWindow]:
        window = self.chat_windows.get(chat_id)
        if window is None:
            group = chat_id.startswith("-")
            window = SlidingWindow(20, 60.0 * MARGIN) if group else SlidingWindow(1, 1.0 * MARGIN)
            self.chat_windows[chat_id] = window
        return [self.global_window, window]

    async def send(self, workspace: str, chat_id: str, reply: Reply) -> None:
        await self.ready()
        locale = reply_locale(reply, None, self.default_locale)
        try:
            await deliver(self.bot, chat_id, reply, not chat_id.startswith("-"), locale, patient=False)
        except TgRetryAfter as exc:
            raise RetryAfter(retry_seconds(exc)) from exc
        except Forbidden as exc:
            raise PermanentFailure(f"telegram chat {chat_id}: {exc.message}") from exc
        except ChatMigrated as exc:
            raise PermanentFailure(f"telegram chat {chat_id} became supergroup {exc.new_chat_id}") from exc
        except BadRequest as exc:
            if any(words in exc.message.lower() for words in CHAT_GONE):
                raise PermanentFailure(f"telegram chat {chat_id}: {exc.message}") from exc
            raise


# ---------------------------------------------------------------- commands menu


def bot_commands(table: CommandTable, locale: str) -> list[BotCommand]:
    """The command menu: what every member may use, plus /join, with summaries in `locale`."""
    names = [c.name for c in table.visible_to(Access.MEMBER)]
    if table.lookup("join") is not None and "join" not in names:
        names.append("join")
    commands = []
    for name in names:
        if not COMMAND_NAME.fullmatch(name):
            log.warning("telegram: command %r left out of the menu: names are 1-32 of a-z 0-9 _", name)
            continue
        summary = (command_info(locale, name)["summary"] or name).strip()[:256]
        commands.append(BotCommand(name, summary))
    return commands[:MAX_COMMANDS]


# ---------------------------------------------------------------- front end


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
    asks_location_by_page = False  # a private chat shares a location natively
    platform = PLATFORM

    def __init__(self, settings: Settings, router: Router):
        self.settings = settings
        self.router = router
        self.workspace = bot_id(settings.TELEGRAM_BOT_TOKEN or "")
        self.webhook_url = settings.TELEGRAM_WEBHOOK_URL or None
        self.application = build_application(settings, webhook=self.webhook_url is not None)
        self.application.add_handler(TypeHandler(Update, self._on_update))
        self.application.add_error_handler(self._on_error)
        self.sender = TelegramSender(self.application.bot, self._initialize, settings.DEFAULT_LOCALE)
        self._init_lock = asyncio.Lock()
        self._started = False

    @property
    def bot(self) -> Any:
        return self.application.bot

    async def _initialize(self) -> None:
        async with self._init_lock:
            await self.application.initialize()  # idempotent: getMe once

    def add_routes(self, app: web.Application) -> None:
        if self.webhook_url:
            app.router.add_post(WEBHOOK_PATH, self._webhook)

    async def start(self) -> None:
        await self._initialize()
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

    async def _set_commands(self) -> None:
        try:
            await self.bot.set_my_commands(bot_commands(self.router.commands, self.settings.DEFAULT_LOCALE))
            for locale in LOCALES:
                await self.bot.set_my_commands(bot_commands(self.router.commands, locale), language_code=locale)
        except TelegramError as exc:  # a missing menu is no reason to stay offline
            log.warning("telegram: setMyCommands failed: %s", exc)

    async def _webhook(self, request: web.Request) -> web.Response:
        secret = self.settings.TELEGRAM_WEBHOOK_SECRET or ""
        given = request.headers.get(SECRET_HEADER, "")
        if not secret or not hmac.compare_digest(given.encode(), secret.encode()):
            log.warning("telegram: webhook call with a wrong or missing secret token from %s", request.remote)
            return web.Response(status=403)
        if not self._started:
            return web.Response(status=503)  # Telegram retries
        update = await self._parse_update(request)
        if update is None:
            return web.Response(status=400)
        await self.application.process_update(update)
        return web.Response(text="ok")

    async def _parse_update(self, request: web.Request) -> Update | None:
        try:
            data = await request.json()
            return Update.de_json(data, self.bot) if isinstance(data, dict) else None
        except Exception as exc:  # malformed body: 400, never a traceback
            log.info("telegram: unreadable webhook body: %r", exc)
            return None

    async def _on_update(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        if query is not None:
            try:  # every press is answered (stops the spinner), whatever happens next
                await query.answer()
            except TelegramError as exc:
                log.warning("telegram: answerCallbackQuery failed: %s", exc)
        incoming = to_incoming(update, self.workspace, self.bot.username)
        if incoming is None:
            return
        if not incoming.is_private and incoming.command:
            log.info("telegram: /%s in group chat %s", incoming.command, incoming.chat_id)
        replies = await self.router.handle_async(incoming)
        await self._answer(incoming, replies)

    async def _answer(self, incoming: Incoming, replies: list[Reply]) -> None:
        for reply in replies:
            locale = reply_locale(reply, incoming.language_hint, self.settings.DEFAULT_LOCALE)
            try:
                await deliver(self.bot, incoming.chat_id, reply, incoming.is_private, locale, patient=True)
            except TelegramError as exc:
                log.warning("telegram: could not answer in chat %s: %s", incoming.chat_id, exc)

    async def _on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        update_id = getattr(update, "update_id", "?")
        log.error("telegram: update %s failed", update_id, exc_info=context.error)
