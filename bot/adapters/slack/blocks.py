"""Block Kit rendering: a `Reply` as Slack blocks plus the fallback text, within Slack's limits.

User text is escaped for mrkdwn (nobody can inject <!channel>, <@U..> or <url|links>); text gives
way first when a message would pass the 50-block limit.
"""
import re
from collections.abc import Iterator
from typing import Any

from bot.i18n import label
from bot.messages import Button, Reply

MAX_BLOCKS = 50
MAX_TEXT = 3000  # characters per section text
MAX_FIELD = 2000  # characters per section field
MAX_FIELDS = 10  # fields per section
MAX_ACTIONS = 25  # elements per actions block
MAX_HEADER = 150
MAX_BUTTON_LABEL = 75
MAX_FALLBACK = 3000
ACTION_PREFIX = "crm:"  # a command button; its value is the command line
LINK_PREFIX = "crm_link:"  # a URL button: Slack opens the link, we only ack the click
_CUT_ENTITY = re.compile(r"&[a-z]{0,3}$")


def escape(text: str) -> str:
    """Escape user text for mrkdwn: nobody can inject <!channel>, <@U..> or <url|links>."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def clip(escaped: str, limit: int) -> str:
    """Shorten escaped text without leaving half an entity (`&am`) at the end."""
    return escaped if len(escaped) <= limit else _CUT_ENTITY.sub("", escaped[:limit])


def unescape(text: str) -> str:
    """Slack sends &, < and > in message text as entities; give the router what was typed."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _text_chunks(text: str, limit: int = MAX_TEXT) -> Iterator[str]:
    """Escaped chunks of at most `limit` characters, cut at line ends when possible."""
    step = limit // 5  # escaping at most quintuples a character: a raw slice this long always fits
    pieces: list[str] = []
    for line in text.splitlines() or [text]:
        pieces.extend([line[i:i + step] for i in range(0, len(line), step)] or [""])
    chunk = ""
    for piece in pieces:
        escaped = escape(piece)
        candidate = f"{chunk}\n{escaped}" if chunk else escaped
        if len(candidate) > limit:
            if chunk.strip():
                yield chunk
            candidate = escaped
        chunk = candidate
    if chunk.strip():
        yield chunk


def _section(text: str) -> dict:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def _header_blocks(title: str | None) -> list[dict]:
    if not title:
        return []
    return [{"type": "header", "text": {"type": "plain_text", "text": title[:MAX_HEADER], "emoji": True}}]


def _field_blocks(fields: list[tuple[str, str]]) -> list[dict]:
    rendered = [
        {"type": "mrkdwn", "text": clip(f"*{escape(name)}*\n{escape(value)}", MAX_FIELD)} for name, value in fields
    ]
    return [{"type": "section", "fields": rendered[i:i + MAX_FIELDS]} for i in range(0, len(rendered), MAX_FIELDS)]


def _button_element(index: int, button: Button) -> dict:
    element: dict[str, Any] = {
        "type": "button",
        "text": {"type": "plain_text", "text": button.label[:MAX_BUTTON_LABEL], "emoji": True},
    }
    if button.url:
        element.update(action_id=f"{LINK_PREFIX}{index}", url=button.url)
    else:
        element.update(action_id=f"{ACTION_PREFIX}{index}", value=button.payload[:2000])
    if button.style in ("primary", "danger"):
        element["style"] = button.style
    return element


def _all_buttons(reply: Reply, locale: str) -> list[Button]:
    buttons = list(reply.buttons)
    if reply.request_location and reply.checkin_url:
        buttons.append(Button(label("open_checkin_page", locale), "", style="primary", url=reply.checkin_url))
    return buttons


def _action_blocks(buttons: list[Button]) -> list[dict]:
    elements = [_button_element(i, b) for i, b in enumerate(buttons)]
    return [{"type": "actions", "elements": elements[i:i + MAX_ACTIONS]} for i in range(0, len(elements), MAX_ACTIONS)]


def to_blocks(reply: Reply, locale: str) -> list[dict]:
    """Title, fields, text, buttons; text gives way first when the 50-block limit is reached."""
    head = _header_blocks(reply.title) + _field_blocks(reply.fields)
    actions = _action_blocks(_all_buttons(reply, locale))
    texts = [_section(chunk) for chunk in _text_chunks(reply.text)] if reply.text else []
    room = max(0, MAX_BLOCKS - len(head) - len(actions))
    return (head + texts[:room] + actions)[:MAX_BLOCKS]


def fallback_text(reply: Reply) -> str:
    """The top-level `text`: notifications and clients that cannot show blocks."""
    parts = [reply.title or ""] + [f"{name}: {value}" for name, value in reply.fields] + [reply.text]
    return clip(escape("\n".join(p for p in parts if p)), MAX_FALLBACK) or " "


def message_payload(reply: Reply, locale: str) -> dict:
    return {"text": fallback_text(reply), "blocks": to_blocks(reply, reply.locale or locale)}
