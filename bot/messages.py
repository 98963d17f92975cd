"""Platform-neutral messages: what adapters turn events into, what handlers answer, and what the
outbox keeps until delivery (a template, its language and its data, rendered by the dispatcher)."""
import base64
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from db import json_values


class Audience(StrEnum):
    """Who may see a command's answers, declared per command (`@command(audience=...)`) and carried on
    each Reply by the router. The one rule every platform follows is `for_caller_only`."""

    # Personal: names with phones, amounts, exports, charts of people's figures, the audit, identities.
    # Typed in a group chat, it is answered to the caller alone (his private chat with the bot, or
    # what only he sees), files and pictures too; the group learns only that it was answered privately.
    PRIVATE = "private"
    # Group-safe: answered in the chat it was typed in, the platform's usual way (in a Telegram group
    # for everyone; privately to a Slack slash command, which is Slack's way).
    CHAT = "chat"
    # For everyone in the group chat, even where a platform answers slash commands privately (Slack):
    # the channel's settings.
    GROUP = "group"


def for_caller_only(reply: "Reply", in_private_chat: bool) -> bool:
    """THE rule of where a reply goes: a personal answer to a command typed in a group chat is for the
    caller alone, and so is its file (private answer, private file, always)."""
    return reply.audience is Audience.PRIVATE and not in_private_chat


@dataclass(frozen=True)
class Location:
    latitude: float
    longitude: float
    accuracy_m: float | None = None
    # How the platform delivered it: static, live, venue, web, manual.
    source: str = "static"
    taken_at: datetime | None = None
    forwarded: bool = False
    live_period_s: int | None = None
    # Live-location updates carry the id of the message they edit.
    message_id: str | None = None
    edited: bool = False  # an update of a live location already shared (Telegram edited_message)
    heading: float | None = None  # a moving live location's course, degrees clockwise from north


# Incoming.location_ask of a platform whose people type coordinates (the console), and the source
# of the positions typed there: few decimals are no sign of a spoof where typing is the way.
TYPED = "typed"
TYPED_SOURCE = "typed"


@dataclass(frozen=True)
class Attachment:
    """A picture or file the user sent. Adapters download it before routing, unless the platform told
    a size over the limit (then `content` is None and the handler refuses it unread)."""

    content: bytes | None
    size: int  # bytes: what the platform told, else len(content)
    # photo: the platform's compressed picture (Telegram strips its EXIF); file: the original bytes.
    sent_as: str = "file"
    file_name: str | None = None
    mime: str | None = None  # as declared by the platform; the bytes decide what it really is
    failed: bool = False  # the download failed (the platform did not hand the bytes over)


@dataclass(frozen=True)
class Incoming:
    platform: str  # console | slack | telegram
    workspace: str  # Slack team id, Telegram bot id, "local"
    chat_id: str
    user_id: str  # platform user id
    command: str = ""  # lower-case name without slash; "" for a bare location or button
    args: str = ""
    event_id: str | None = None  # for dedupe; None when the platform has no retry
    sent_at: datetime | None = None  # when the user sent it (platform's own clock)
    location: Location | None = None
    attachment: Attachment | None = None  # a photo or file; routed to the photo command
    button: str | None = None  # payload of a pressed button
    text: str | None = None  # plain words, not a command (adapters pass them from private chats only)
    is_private: bool = True  # a direct chat with the bot, not a group
    display_name: str = ""
    language_hint: str | None = None  # platform's idea of the user's language
    command_prefix: str = "/"  # how this platform spells a command in answers: "/crm " on Slack
    # How this platform lets a rep share his position: share_button (a native keyboard),
    # checkin_page (a signed one-time web page) or typed (coordinates on a command line).
    location_ask: str = TYPED
    # The command's parameters as a form's fields (a Slack modal, the Mini App), instead of `args`.
    form: Mapping[str, str] | None = None


@dataclass(frozen=True)
class Button:
    label: str
    payload: str  # compact command line, e.g. "claim 42"; at most 64 bytes (Telegram)
    style: str = "default"  # default | primary | danger
    url: str | None = None  # a link button instead of a callback


@dataclass(frozen=True)
class Reply:
    text: str
    title: str | None = None
    fields: list[tuple[str, str]] = field(default_factory=list)
    buttons: list[Button] = field(default_factory=list)
    ephemeral: bool = False
    # Who may see it (Audience); the router sets it from the command's declaration. Outbox posts and
    # replies to no command keep CHAT: they go where they are addressed.
    audience: Audience = Audience.CHAT
    # Ask for the user's location: Telegram shows a "share location" reply keyboard (private chats),
    # Slack shows a button opening checkin_url (a signed one-time page), the console a hint.
    request_location: bool = False
    checkin_url: str | None = None
    file_name: str | None = None
    file_bytes: bytes | None = None
    locale: str | None = None  # language it was rendered in; adapters use it for their own labels
    # A refusal (a rule or the arguments said no: nothing was written, but for a refused position the
    # attempt kept on the visit it was meant for) and, when the values came from a form, the field it
    # is about: a modal or the Mini App shows it beside that field.
    refused: bool = False
    refused_field: str | None = None

    def to_json(self, file_limit: int = 0) -> dict:
        """A JSON dict that from_json turns back into this reply. Only what is set is written, so an
        outbox row stays small. A file of at most `file_limit` bytes travels along (base64); a bigger
        one leaves only its name under "file_dropped" (who reads it back asks for the file again)."""
        data: dict[str, Any] = {
            "text": self.text,
            "title": self.title,
            "fields": [list(f) for f in self.fields],
            "buttons": [
                {"label": b.label, "payload": b.payload, "style": b.style, "url": b.url}
                for b in self.buttons
            ],
            "locale": self.locale,
        }
        flags = {"ephemeral": self.ephemeral, "request_location": self.request_location,
                 "checkin_url": self.checkin_url, "file_name": self.file_name, "refused": self.refused,
                 "refused_field": self.refused_field}
        if self.audience is not Audience.CHAT:
            flags["audience"] = self.audience.value
        data.update((key, value) for key, value in flags.items() if value)
        if self.file_bytes is not None:
            if len(self.file_bytes) <= file_limit:
                data["file"] = base64.b64encode(self.file_bytes).decode()
            else:
                data["file_dropped"] = self.file_name or ""
        return data

    @classmethod
    def from_json(cls, data: dict) -> "Reply":
        """The reply to_json wrote; a file that was not kept comes back without its bytes."""
        return cls(
            text=data["text"],
            title=data.get("title"),
            fields=[(k, v) for k, v in data.get("fields", [])],
            buttons=[Button(**b) for b in data.get("buttons", [])],
            ephemeral=bool(data.get("ephemeral")),
            audience=_audience(data),
            request_location=bool(data.get("request_location")),
            checkin_url=data.get("checkin_url"),
            file_name=data.get("file_name"),
            file_bytes=base64.b64decode(data["file"]) if "file" in data else None,
            locale=data.get("locale"),
            refused=bool(data.get("refused")),
            refused_field=data.get("refused_field"),
        )


def _audience(data: dict) -> Audience:
    """A kept reply's audience; one kept before audiences were declared says only "public"."""
    if "audience" in data:
        return Audience(data["audience"])
    return Audience.GROUP if data.get("public") else Audience.CHAT


@dataclass(frozen=True)
class Templated:
    """A message not rendered yet: the dispatcher renders it in the words of the platform it goes to."""

    template: str
    locale: str
    context: dict[str, Any]
    # Buttons, labelled at dispatch in the post's language: {"label": key in labels/, "payload": "visit c12",
    # "params": {...}, "style": "primary" (optional)} (bot.i18n.button).
    buttons: tuple[dict[str, Any], ...] = ()

    def to_json(self) -> dict:
        """The post as an outbox payload. Its values are left as they are: the JSON column writes what
        JSON has no type for tagged (db.json_values), and from_json reads those back as their type."""
        data = {"template": self.template, "locale": self.locale, "context": self.context}
        if self.buttons:
            data["buttons"] = list(self.buttons)
        return data

    @classmethod
    def from_json(cls, data: dict) -> "Templated":
        return cls(data["template"], data["locale"], json_values.untag(data["context"]), tuple(data.get("buttons", ())))


