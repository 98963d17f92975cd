"""Slack payloads -> Incoming: a slash command, a DM or app mention, a button click.

Every field is read defensively (missing, null or of a wrong type reads as empty); user text comes
back unescaped, as typed.
"""
import re
from datetime import UTC, datetime

from bot.adapters.slack.blocks import unescape
from bot.adapters.slack.words import COMMAND_PREFIX, LOCATION_ASK, PLATFORM
from bot.messages import Incoming
from bot.router import command_line
from db.base import utcnow

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
    if event.get("bot_id") or event.get("subtype") or not user:
        return None
    channel = _text(event, "channel")
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
