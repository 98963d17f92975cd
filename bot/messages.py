"""Platform-neutral messages: what adapters turn events into, and what handlers answer."""
from dataclasses import dataclass, field
from datetime import datetime


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
    button: str | None = None  # payload of a pressed button
    is_private: bool = True  # a direct chat with the bot, not a group
    display_name: str = ""
    language_hint: str | None = None  # platform's idea of the user's language
    command_prefix: str = "/"  # how this platform spells a command in answers: "/crm " on Slack


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
    # Ask for the user's location: Telegram shows a "share location" reply keyboard (private chats),
    # Slack shows a button opening checkin_url (a signed one-time page), the console a hint.
    request_location: bool = False
    checkin_url: str | None = None
    # None: reply where the message came from. Otherwise a direct message to that CRM user id.
    to_user_id: int | None = None
    file_name: str | None = None
    file_bytes: bytes | None = None
    locale: str | None = None  # language it was rendered in; adapters use it for their own labels

    def to_json(self) -> dict:
        return {
            "text": self.text,
            "title": self.title,
            "fields": [list(f) for f in self.fields],
            "buttons": [
                {"label": b.label, "payload": b.payload, "style": b.style, "url": b.url}
                for b in self.buttons
            ],
            "locale": self.locale,
        }

    @classmethod
    def from_json(cls, data: dict) -> "Reply":
        return cls(
            text=data["text"],
            title=data.get("title"),
            fields=[(k, v) for k, v in data.get("fields", [])],
            buttons=[Button(**b) for b in data.get("buttons", [])],
            locale=data.get("locale"),
        )
