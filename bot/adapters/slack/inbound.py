"""Slack payloads -> Incoming: a slash command, a DM or app mention, a file shared in either (its
first file, downloaded by `fetch_file` with the bot token), a button click.

Every field is read defensively (missing, null or of a wrong type reads as empty); user text comes
back unescaped, as typed.
"""
import dataclasses
import logging
import re
from datetime import UTC, datetime
from urllib.parse import urlsplit

import aiohttp

from bot.adapters.slack.blocks import unescape
from bot.adapters.slack.words import COMMAND_PREFIX, LOCATION_ASK, PLATFORM
from bot.messages import Attachment, Incoming
from bot.router import command_line
from db.base import utcnow

log = logging.getLogger(__name__)
FILE_SHARE = "file_share"
DOWNLOAD_TIMEOUT_S = 30.0

_MENTION = re.compile(r"^\s*(<@[A-Z0-9]+(\|[^>]*)?>[\s:,]*)+")


def _timestamp(ts: object) -> datetime | None:
    try:
        return datetime.fromtimestamp(float(ts), UTC) if isinstance(ts, str | int | float) and ts else None
    except (TypeError, ValueError, OverflowError, OSError):
        return None


def _text(data: object, key: str) -> str:
    """A string field of a payload; anything else (missing, null, a wrong type) reads as ""."""
    value = data.get(key) if isinstance(data, dict) else None
    return value if isinstance(value, str) else ""


def _object(data: object, key: str) -> dict:
    value = data.get(key) if isinstance(data, dict) else None
    return value if isinstance(value, dict) else {}


def is_im(channel_id: str, channel_type: str | None = None) -> bool:
    return channel_type == "im" or channel_id.startswith("D")


def strip_mention(text: str) -> str:
    return _MENTION.sub("", text, count=1).strip()


def is_im_event(event: dict) -> bool:
    """A message event in a direct message with the bot (channel messages are left to mentions)."""
    return is_im(_text(event, "channel"), _text(event, "channel_type"))


def command_incoming(body: dict, chat_id: str | None = None) -> Incoming:
    """`/crm join ABC` -> command "join", args "ABC"; the trigger id dedupes a replayed request."""
    name, args = command_line(unescape(_text(body, "text")))
    channel = _text(body, "channel_id")
    trigger = _text(body, "trigger_id")
    return Incoming(
        platform=PLATFORM, command_prefix=COMMAND_PREFIX, location_ask=LOCATION_ASK, workspace=_text(body, "team_id"), chat_id=chat_id or channel,
        user_id=_text(body, "user_id"), command=name or "help", args=args,
        event_id=f"command:{trigger}" if trigger else None,
        sent_at=utcnow(), is_private=is_im(channel),
        display_name=_text(body, "user_name"),
    )


def message_incoming(body: dict, event: dict) -> Incoming | None:
    """A DM or an app mention; None for what the bot must not answer (bots, edits, empty text)."""
    user = _text(event, "user")
    if event.get("bot_id") or event.get("subtype") not in (None, FILE_SHARE) or not user:
        return None
    channel = _text(event, "channel")
    attachment = _first_file(event)
    if attachment is not None:
        return Incoming(
            platform=PLATFORM, command_prefix=COMMAND_PREFIX, location_ask=LOCATION_ASK,
            workspace=_text(body, "team_id") or _text(event, "team"), chat_id=channel, user_id=user,
            event_id=_text(body, "event_id") or None, sent_at=_timestamp(event.get("ts")),
            is_private=is_im(channel, _text(event, "channel_type")), attachment=attachment,
        )
    name, args = command_line(unescape(strip_mention(_text(event, "text"))))
    if name == "crm":  # "/crm whoami" typed as a message: the slash command's spelling
        name, args = command_line(args)
    if not name:
        return None
    return Incoming(
        platform=PLATFORM, command_prefix=COMMAND_PREFIX, location_ask=LOCATION_ASK, workspace=_text(body, "team_id") or _text(event, "team"), chat_id=channel,
        user_id=user, command=name, args=args, event_id=_text(body, "event_id") or None,
        sent_at=_timestamp(event.get("ts")), is_private=is_im(channel, _text(event, "channel_type")),
    )


def _first_file(event: dict) -> Attachment | None:
    """The first file shared with the message (one photo per message; the others are not read)."""
    files = event.get("files")
    if not isinstance(files, list) or not files or not isinstance(files[0], dict):
        return None
    first = files[0]
    size = first.get("size")
    return Attachment(None, size if isinstance(size, int) and size >= 0 else 0, "file",
                      _text(first, "name") or None, _text(first, "mimetype") or None)


def file_url(event: dict) -> str:
    files = event.get("files")
    first = files[0] if isinstance(files, list) and files and isinstance(files[0], dict) else {}
    return _text(first, "url_private_download") or _text(first, "url_private")


def is_slack_file_url(url: str, api_url: str) -> bool:
    """The bot token goes only to Slack's own file host (or to the API's own host: a test double)."""
    parts, api = urlsplit(url), urlsplit(api_url)
    if parts.scheme == "https" and (parts.hostname or "").endswith(".slack.com"):
        return True
    return (parts.scheme, parts.netloc) == (api.scheme, api.netloc)


async def fetch_file(incoming: Incoming, event: dict, token: str, api_url: str, max_bytes: int) -> Incoming:
    """The shared file's bytes (url_private with the bot token), when it was shared in the bot's DM
    and Slack told a size within `max_bytes`; read no further than the limit. Otherwise left unread
    for the handler to refuse; a failed download is marked failed."""
    sent = incoming.attachment
    if sent is None or not incoming.is_private or sent.size > max_bytes:
        return incoming
    url = file_url(event)
    if not is_slack_file_url(url, api_url):
        log.warning("slack: file of event %s not at a Slack address, not fetched", incoming.event_id)
        return dataclasses.replace(incoming, attachment=dataclasses.replace(sent, failed=True))
    try:
        timeout = aiohttp.ClientTimeout(total=DOWNLOAD_TIMEOUT_S)
        async with aiohttp.ClientSession(timeout=timeout) as session, session.get(
                url, headers={"Authorization": f"Bearer {token}"}, allow_redirects=False) as response:
            response.raise_for_status()
            chunks: list[bytes] = []
            received = 0
            async for chunk in response.content.iter_chunked(64 * 1024):
                received += len(chunk)
                if received > max_bytes:  # Slack told a smaller size: refused, read no further
                    return dataclasses.replace(incoming, attachment=dataclasses.replace(sent, size=received))
                chunks.append(chunk)
    except (aiohttp.ClientError, TimeoutError) as exc:
        log.warning("slack: could not download the file of event %s: %r", incoming.event_id, exc)
        return dataclasses.replace(incoming, attachment=dataclasses.replace(sent, failed=True))
    content = b"".join(chunks)
    return dataclasses.replace(incoming, attachment=dataclasses.replace(sent, content=content, size=len(content)))


def action_incoming(body: dict, action: dict) -> Incoming:
    """A button click: its value is a command line, routed like typed text."""
    channel = _text(_object(body, "channel"), "id") or _text(_object(body, "container"), "channel_id")
    user = _object(body, "user")
    stable = _text(body, "trigger_id") or f"{_text(action, 'action_ts')}:{_text(user, 'id')}"
    return Incoming(
        platform=PLATFORM, command_prefix=COMMAND_PREFIX, location_ask=LOCATION_ASK, workspace=_text(_object(body, "team"), "id") or _text(user, "team_id"),
        chat_id=channel, user_id=_text(user, "id"), button=_text(action, "value"),
        event_id=f"action:{stable}", sent_at=_timestamp(action.get("action_ts")) or utcnow(),
        is_private=is_im(channel), display_name=_text(user, "username") or _text(user, "name"),
    )
