"""Reply -> Telegram messages: HTML within the length limit, inline keyboards, the share-location
keyboard; `deliver` sends them in order (a picture as a photo, any other file as a document)
through the `Courier`, which keeps every call within the bot's shared budget (`limits`), and
`TelegramSender` delivers outbox posts.
"""
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from html import escape
from typing import Any

from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    KeyboardButton,
    ReplyKeyboardMarkup,
)
from telegram.constants import ParseMode
from telegram.error import BadRequest, ChatMigrated, Forbidden, TimedOut
from telegram.error import RetryAfter as TgRetryAfter

from bot.adapters.telegram.inbound import period_seconds
from bot.adapters.telegram.words import COMMAND_PREFIX, PLATFORM
from bot.budget import Budget, Limit
from bot.delivery import MaybeSent, PermanentFailure, RetryAfter
from bot.handlers.registry import SHARE_LOCATION_COMMAND
from bot.i18n import label, pick_locale, render_text
from bot.messages import Button, Reply

log = logging.getLogger(__name__)

MESSAGE_LIMIT = 4096  # characters (UTF-16 code units) of one message
CALLBACK_DATA_LIMIT = 64  # bytes of an inline button's callback_data
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
# Pictures Telegram shows inline (sendPhoto); any other file is a document to download.
PHOTO_SIGNATURES = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff")  # PNG, JPEG
PHOTO_LIMIT = 10 * 1024 * 1024  # bytes; a bigger picture still goes, as a document

ReplyMarkup = InlineKeyboardMarkup | ReplyKeyboardMarkup


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


def private_chat_link(bot_username: str | None) -> str | None:
    """The deep link opening the private chat with the bot, which then asks for the location again."""
    return f"https://t.me/{bot_username}?start={SHARE_LOCATION_COMMAND}" if bot_username else None


def plan_messages(reply: Reply, private: bool, locale: str, bot_username: str | None = None) -> list[Outgoing]:
    """The sendMessage calls for one reply. A request for location is a reply keyboard, which
    Telegram allows in private chats only: in a group the request becomes one line with a link to
    the private chat. A message carries one keyboard, so an inline keyboard and a location request
    need two messages."""
    if reply.request_location and not private:
        line = render_text("telegram/continue_in_private", locale, link=private_chat_link(bot_username))
        reply = replace(reply, text=line, request_location=False)
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
    return period_seconds(exc, "retry_after") or 1.0


def flood_seconds(exc: Exception) -> float | None:
    """How long Telegram asked us to wait, when the exception is its flood limit."""
    return retry_seconds(exc) if isinstance(exc, TgRetryAfter) else None


def chat_ref(chat_id: str) -> int | str:
    """Numeric chat ids go as numbers; '@channelname' stays a string."""
    return int(chat_id) if chat_id.lstrip("-").isdigit() else chat_id


def limits(account: str, chat_id: str) -> list[Limit]:
    """Telegram's limits for one send (bot.budget): about 30 messages a second from the bot overall,
    20 a minute to one group, about one a second to one private chat (a burst of three is allowed:
    a person's three quick commands are answered at once)."""
    own = f"telegram:{account}:{chat_id}"
    if chat_id.startswith("-"):
        chat = Limit(own, 20, 60.0 * MARGIN, reserve=3)
    else:
        chat = Limit(own, 3, 1.0 * MARGIN, reserve=1)  # "about one a second", short bursts allowed
    return [Limit(f"telegram:{account}", 30, 1.0 * MARGIN, reserve=3, shared=True), chat]


@dataclass(frozen=True)
class Courier:
    """The bot's Bot API calls that post, each within the account's shared budget: answers
    (`urgent`) before posts; a 429 blocks the chat it names, everywhere."""

    bot: Any
    budget: Budget
    account: str

    async def send(self, chat_id: str, call: Callable[[], Awaitable[object]], urgent: bool, patient: bool) -> None:
        """One call; when patient, a flood limit is waited out here (Budget.send)."""
        await self.budget.send(limits(self.account, chat_id), call, urgent, patient, flood_seconds)


async def deliver(courier: Courier, chat_id: str, reply: Reply, private: bool, locale: str, urgent: bool) -> None:
    """Send one reply: its messages in order, then its file. Raises PTB's errors. Parts after the
    first wait out a flood limit rather than have the parts already delivered sent again."""
    bot, target = courier.bot, chat_ref(chat_id)
    for index, out in enumerate(plan_messages(reply, private, locale, bot_username(bot))):
        await courier.send(
            chat_id,
            lambda out=out: bot.send_message(target, out.html, parse_mode=ParseMode.HTML, reply_markup=out.markup),
            urgent, patient=urgent or index > 0,
        )
    if reply.file_bytes is not None:
        upload = InputFile(reply.file_bytes, filename=reply.file_name or "file")
        if is_photo(reply.file_bytes):
            await courier.send(chat_id, lambda: bot.send_photo(target, upload), urgent, patient=True)
        else:
            await courier.send(chat_id, lambda: bot.send_document(target, upload), urgent, patient=True)


def bot_username(bot: Any) -> str | None:
    try:
        return bot.username  # known from getMe once the application is initialised
    except RuntimeError:
        return None


def is_photo(content: bytes) -> bool:
    """A PNG or JPEG picture (told by its first bytes, not its name) small enough for sendPhoto."""
    return content.startswith(PHOTO_SIGNATURES) and len(content) <= PHOTO_LIMIT


def reply_locale(reply: Reply, hint: str | None, default: str) -> str:
    """Button labels follow the reply's language when the Reply carries it, else the user's client."""
    return pick_locale(getattr(reply, "locale", None), hint, default)


# A slot counts from Telegram's answer (bot.budget), on the database's clock; 2 % under the
# published limits besides.
MARGIN = 1.02


class TelegramSender:
    """Delivers outbox posts (team groups, direct messages) within the bot's shared budget."""

    platform = PLATFORM
    command_prefix = COMMAND_PREFIX

    def __init__(self, courier: Courier, ready: Callable[[], Awaitable[None]], default_locale: str):
        self.courier = courier
        self.ready = ready
        self.default_locale = default_locale

    async def send(self, workspace: str, chat_id: str, reply: Reply) -> None:
        await self.ready()
        locale = reply_locale(reply, None, self.default_locale)
        try:
            await deliver(self.courier, chat_id, reply, not chat_id.startswith("-"), locale, urgent=False)
        except TgRetryAfter as exc:
            raise RetryAfter(retry_seconds(exc)) from exc
        except TimedOut as exc:
            raise MaybeSent(f"telegram chat {chat_id}: no answer within the read timeout") from exc
        except Forbidden as exc:
            raise PermanentFailure(f"telegram chat {chat_id}: {exc.message}") from exc
        except ChatMigrated as exc:
            raise PermanentFailure(f"telegram chat {chat_id} became supergroup {exc.new_chat_id}") from exc
        except BadRequest as exc:
            if any(words in exc.message.lower() for words in CHAT_GONE):
                raise PermanentFailure(f"telegram chat {chat_id}: {exc.message}") from exc
            raise
