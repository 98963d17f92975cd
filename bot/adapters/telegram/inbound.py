"""Telegram updates -> Incoming: a command, a location (static, venue or live), a photo or a file
(`fetch_attachment` downloads it), a button press, plain words in a private chat.

Anything the bot does not act on (chatter in a group, joins, a command for another bot, an edited
command) translates to None.
"""
import dataclasses
import logging
import warnings
from datetime import timedelta
from typing import Any

from telegram import Bot, MaybeInaccessibleMessage, Message, PhotoSize, Update
from telegram import Location as TgLocation
from telegram.constants import ChatType
from telegram.error import TelegramError

from bot.adapters.telegram.words import COMMAND_PREFIX, LOCATION_ASK, PLATFORM
from bot.messages import Attachment, Incoming, Location
from bot.router import command_line

log = logging.getLogger(__name__)


def bot_id(token: str) -> str:
    """The workspace of a Telegram identity: the bot's numeric id, the part of the token before ':'."""
    return token.split(":", 1)[0]


def to_incoming(update: Update, workspace: str, bot_username: str | None = None) -> Incoming | None:
    """Translate one update; None for anything the bot does not act on (group chatter, joins...)."""
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
        location_ask=LOCATION_ASK,
        workspace=workspace,
        chat_id=str(message.chat.id),
        user_id=str(user.id),
        event_id=str(update.update_id),
        is_private=message.chat.type == ChatType.PRIVATE,
        display_name=user.full_name,
        language_hint=user.language_code if isinstance(user.language_code, str) else None,
    )


def _from_message(update: Update, message: Message, workspace: str, bot_username: str | None) -> Incoming | None:
    user = message.from_user
    if user is None or user.is_bot:
        return None
    base = _base(update, message, workspace, user)
    location = _location(message, edited=False)
    if location is not None:
        return Incoming(**base, sent_at=message.date, location=location)
    attachment = _attachment(message)
    if attachment is not None:
        return Incoming(**base, sent_at=message.date, attachment=attachment)
    text = message.text or ""
    if text.strip() and not text.startswith("/") and base["is_private"]:
        return Incoming(**base, sent_at=message.date, text=text)  # in groups, chatter is never answered
    if not text.startswith("/") or not _addressed_to(text, bot_username):
        return None
    name, args = command_line(text)
    if not name:
        return None
    return Incoming(**base, sent_at=message.date, command=name, args=args)


def _attachment(message: Message) -> Attachment | None:
    """A photo (Telegram's compressed copy: the largest size) or a file, not downloaded yet."""
    if message.photo:
        return Attachment(None, _biggest(message).file_size or 0, "photo", None, "image/jpeg")
    if message.document is not None:
        document = message.document
        return Attachment(None, document.file_size or 0, "file", document.file_name, document.mime_type)
    return None


def _biggest(message: Message) -> PhotoSize:
    """Telegram sends a photo in several sizes; the biggest is the one kept."""
    return max(message.photo, key=lambda size: (size.width * size.height, size.file_size or 0))


def _file_id(message: Message) -> str | None:
    if message.photo:
        return _biggest(message).file_id
    return message.document.file_id if message.document is not None else None


async def fetch_attachment(bot: Bot, update: Update, incoming: Incoming, max_bytes: int) -> Incoming:
    """The photo or file's bytes, downloaded (getFile, then the file URL) when the rep sent it in his
    private chat and Telegram told a size within `max_bytes`; otherwise left unread for the handler
    to refuse. A failed download leaves it unread too (the handler says so)."""
    sent = incoming.attachment
    message = update.message
    if sent is None or message is None or not incoming.is_private or sent.size > max_bytes:
        return incoming
    file_id = _file_id(message)
    if file_id is None:
        return incoming
    try:
        file = await bot.get_file(file_id)
        if (file.file_size or 0) > max_bytes:
            return dataclasses.replace(incoming, attachment=dataclasses.replace(sent, size=file.file_size or 0))
        content = bytes(await file.download_as_bytearray())
    except TelegramError as exc:
        log.warning("telegram: could not download file of update %s: %r", update.update_id, exc)
        return dataclasses.replace(incoming, attachment=dataclasses.replace(sent, failed=True))
    return dataclasses.replace(incoming, attachment=dataclasses.replace(sent, content=content, size=len(content)))


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
        live = edited or bool(period_seconds(point, "live_period"))
        source = "live" if live else "static"
    else:
        return None
    live_period = period_seconds(point, "live_period")
    return Location(
        latitude=point.latitude,
        longitude=point.longitude,
        accuracy_m=point.horizontal_accuracy,
        source=source,
        taken_at=(message.edit_date if edited else None) or message.date,
        forwarded=is_forwarded(message),
        live_period_s=int(live_period) if live_period is not None else None,
        message_id=str(message.message_id),
        edited=edited,
        heading=point.heading,
    )


# Before Bot API 7.0 a forward carried these fields instead of forward_origin; older or self-hosted
# API servers still send them, and PTB keeps unknown fields in api_kwargs.
LEGACY_FORWARD_FIELDS = frozenset({
    "forward_date", "forward_from", "forward_from_chat", "forward_from_message_id",
    "forward_sender_name", "forward_signature",
})


def is_forwarded(message: Message) -> bool:
    """A forward in either shape: forward_origin (Bot API 7.0+) or the legacy forward_* fields."""
    if message.forward_origin is not None:
        return True
    return bool(LEGACY_FORWARD_FIELDS & set(message.api_kwargs or {}))


def period_seconds(obj: object, attribute: str) -> float | None:
    """A PTB time period (int or timedelta depending on version and PTB_TIMEDELTA) in seconds."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PTB 22 warns that the int form is deprecated
        value = getattr(obj, attribute, None)
    if value is None:
        return None
    if isinstance(value, timedelta):
        return value.total_seconds()
    return float(value)
