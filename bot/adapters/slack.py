"""The Slack front end (slack-bolt, async): Slack events in, neutral `Incoming` out; `Reply` in, Block Kit out.

One slash command (`/crm <command> args`), direct messages, app mentions and button clicks reach the
router; every request is acked at once and the router runs afterwards in one of its threads. HTTP mode
serves POST /slack/events on the shared aiohttp app (bolt checks the signature and answers Slack's
url_verification); Socket Mode is used instead when SLACK_APP_TOKEN is set. `SlackSender` delivers
outbox posts with chat.postMessage and turns Slack's answers into RetryAfter / PermanentFailure.
No business rule and no SQL lives here.
"""
import asyncio
import logging
import re
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import aiohttp
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.app.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot.config import Settings
from bot.delivery import PermanentFailure, RetryAfter, SlidingWindow
from bot.i18n import label
from bot.messages import Button, Incoming, Reply
from bot.router import Router, command_line
from db.base import utcnow

log = logging.getLogger(__name__)

PLATFORM = "slack"
# Every command is a word after the one slash command the app installs.
COMMAND_PREFIX = "/crm "
EVENTS_PATH = "/slack/events"
MAX_BLOCKS = 50
MAX_TEXT = 3000  # characters per section text
MAX_FIELD = 2000  # characters per section field
MAX_FIELDS = 10  # fields per section
MAX_ACTIONS = 25  # elements per actions block
MAX_HEADER = 150
MAX_BUTTON_LABEL = 75
MAX_FALLBACK = 3000
RESPONSE_URL_LIMIT = 5  # Slack accepts at most 5 posts to one response_url (within 30 minutes)
RESPONSE_URL_TIMEOUT_S = 30
ACTION_PREFIX = "crm:"  # a command button; its value is the command line
LINK_PREFIX = "crm_link:"  # a URL button: Slack opens the link, we only ack the click
PERMANENT_ERRORS = frozenset(
    {"channel_not_found", "not_in_channel", "is_archived", "account_inactive", "invalid_auth",
     "token_revoked", "user_not_found", "cannot_dm_bot"}
)
_MENTION = re.compile(r"^\s*(<@[A-Z0-9]+(\|[^>]*)?>[\s:,]*)+")
_CUT_ENTITY = re.compile(r"&[a-z]{0,3}$")


# ---------------------------------------------------------------- Block Kit rendering


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


# ---------------------------------------------------------------- Slack payloads -> Incoming


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


def command_incoming(body: dict, chat_id: str | None = None) -> Incoming:
    """`/crm join ABC` -> command "join", args "ABC"; the trigger id dedupes a replayed request."""
    name, args = command_line(unescape(_text(body, "text")))
    channel = _text(body, "channel_id")
    trigger = _text(body, "trigger_id")
    return Incoming(
        platform=PLATFORM, command_prefix=COMMAND_PREFIX, workspace=_text(body, "team_id"), chat_id=chat_id or channel,
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
        platform=PLATFORM, command_prefix=COMMAND_PREFIX, workspace=_text(body, "team_id") or _text(event, "team"), chat_id=channel,
        user_id=user, command=name, args=args, event_id=_text(body, "event_id") or None,
        sent_at=_timestamp(event.get("ts")), is_private=is_im(channel, _text(event, "channel_type")),
    )


def action_incoming(body: dict, action: dict) -> Incoming:
    """A button click: its value is a command line, routed like typed text."""
    channel = _text(_object(body, "channel"), "id") or _text(_object(body, "container"), "channel_id")
    user = _object(body, "user")
    stable = _text(body, "trigger_id") or f"{_text(action, 'action_ts')}:{_text(user, 'id')}"
    return Incoming(
        platform=PLATFORM, command_prefix=COMMAND_PREFIX, workspace=_text(_object(body, "team"), "id") or _text(user, "team_id"),
        chat_id=channel, user_id=_text(user, "id"), button=_text(action, "value"),
        event_id=f"action:{stable}", sent_at=_timestamp(action.get("action_ts")) or utcnow(),
        is_private=is_im(channel), display_name=_text(user, "username") or _text(user, "name"),
    )


# ---------------------------------------------------------------- sending


@dataclass
class Target:
    """Where the replies of one interaction go."""

    channel: str
    user: str
    private: bool
    thread_ts: str | None = None
    response_url: str | None = None
    ephemeral_by_default: bool = False
    response_posts: int = 0


def classify(exc: SlackApiError) -> Exception:
    """Turn Slack's refusal into what the outbox dispatcher understands."""
    response = exc.response
    if getattr(response, "status_code", None) == 429:
        headers = getattr(response, "headers", None) or {}
        retry = headers.get("Retry-After") or headers.get("retry-after") or 1
        return RetryAfter(float(retry))
    error = response.get("error") if hasattr(response, "get") else None
    if error in PERMANENT_ERRORS:
        return PermanentFailure(error)
    return exc


async def post_message(
    client: AsyncWebClient, channel: str, reply: Reply, locale: str, thread_ts: str | None = None
) -> None:
    await client.chat_postMessage(channel=channel, thread_ts=thread_ts, **message_payload(reply, locale))


class SlackSender:
    """Outbox delivery: about one message per second per channel, 429s honoured."""

    platform = PLATFORM
    command_prefix = COMMAND_PREFIX

    def __init__(self, client: AsyncWebClient, locale: str):
        self.client = client
        self.locale = locale
        self.windows: dict[str, SlidingWindow] = {}

    def limits_for(self, chat_id: str) -> list[SlidingWindow]:
        window = self.windows.get(chat_id)
        if window is None:
            window = self.windows[chat_id] = SlidingWindow(1, 1.0)
        return [window]

    async def send(self, workspace: str, chat_id: str, reply: Reply) -> None:
        try:
            await post_message(self.client, chat_id, reply, self.locale)
        except SlackApiError as exc:
            problem = classify(exc)
            if problem is exc:
                raise
            raise problem from exc


class SlackAnswerer:
    """Posts one interaction's replies where Slack expects them: through the slash command's
    response_url while Slack takes posts there, else chat.postEphemeral / chat.postMessage; then
    any file."""

    def __init__(self, client: AsyncWebClient, locale: str):
        self.client = client
        self.locale = locale  # Slack events carry no locale: for labels only
        # One pooled HTTP session for response_url posts: a session (and a new connection) per
        # answer costs the event loop more than the ack it delays.
        self._http_session: aiohttp.ClientSession | None = None

    async def answer(self, target: Target, replies: list[Reply]) -> None:
        for reply in replies:
            await self.deliver(target, reply)

    async def deliver(self, target: Target, reply: Reply) -> None:
        ephemeral = reply.ephemeral or target.ephemeral_by_default
        payload = message_payload(reply, self.locale)
        if target.response_url and target.response_posts < RESPONSE_URL_LIMIT:
            target.response_posts += 1
            if await self._respond(target.response_url, payload, ephemeral):
                await self._upload(target, reply)
                return
        if ephemeral:
            await self.client.chat_postEphemeral(channel=target.channel, user=target.user, **payload)
        else:
            await self.client.chat_postMessage(channel=target.channel, thread_ts=target.thread_ts, **payload)
        await self._upload(target, reply)

    async def _respond(self, url: str, payload: dict, ephemeral: bool) -> bool:
        """Answer through the slash command's response_url; False to fall back to the Web API."""
        try:
            response = await AsyncWebhookClient(url, session=self._session()).send(
                text=payload["text"], blocks=payload["blocks"],
                response_type="ephemeral" if ephemeral else "in_channel",
            )
        except Exception:
            log.warning("Slack response_url post failed", exc_info=True)
            return False
        if response.status_code != 200:
            log.warning("Slack response_url answered %s: %s", response.status_code, response.body[:200])
            return False
        return True

    def _session(self) -> aiohttp.ClientSession:
        if self._http_session is None or self._http_session.closed:
            timeout = aiohttp.ClientTimeout(total=RESPONSE_URL_TIMEOUT_S)
            self._http_session = aiohttp.ClientSession(timeout=timeout)
        return self._http_session

    async def _upload(self, target: Target, reply: Reply) -> None:
        """Attach a file when the reply has one; best effort (the bot may not be in that channel)."""
        if not reply.file_bytes:
            return
        try:
            await self.client.files_upload_v2(
                channel=target.channel, file=reply.file_bytes, filename=reply.file_name or "export",
                thread_ts=target.thread_ts,
            )
        except Exception:
            log.warning("Slack file upload to %s failed", target.channel, exc_info=True)

    async def close(self) -> None:
        if self._http_session is not None:
            await self._http_session.close()
            self._http_session = None


# ---------------------------------------------------------------- the front end


class SlackFrontEnd:
    platform = PLATFORM
    command_prefix = COMMAND_PREFIX
    # Slack cannot share a location: a signed one-time web page asks the browser instead.
    asks_location_by_page = True

    def __init__(self, settings: Settings, router: Router):
        self.settings = settings
        self.router = router
        self.locale = settings.DEFAULT_LOCALE  # Slack events carry no locale: for labels only
        self.client = web_client(settings)
        self.sender = SlackSender(self.client, self.locale)
        self.app = AsyncApp(
            client=self.client,
            signing_secret=settings.SLACK_SIGNING_SECRET or "",
            request_verification_enabled=bool(settings.SLACK_SIGNING_SECRET),
            # Every listener only acks and starts the work as a task, so running it before the
            # response costs nothing, and the ack leaves at once: otherwise bolt starts the
            # listener as a task and polls every 10 ms for its ack() (slack_bolt asyncio_runner).
            process_before_response=True,
            logger=log,
        )
        self._socket: Any = None
        self._tasks: set[asyncio.Task] = set()
        self._dm_channels: dict[tuple[str, str], str] = {}
        self.answerer = SlackAnswerer(self.client, self.locale)
        self._register()

    # -- wiring

    def _register(self) -> None:
        self.app.command(re.compile(r"^/"))(self._on_command)
        self.app.event("message")(self._on_message)
        self.app.event("app_mention")(self._on_mention)
        self.app.action(re.compile("^" + re.escape(ACTION_PREFIX)))(self._on_button)
        self.app.action(re.compile("^" + re.escape(LINK_PREFIX)))(self._on_link)

    def add_routes(self, app: web.Application) -> None:
        if self.settings.SLACK_SIGNING_SECRET:
            app.router.add_post(EVENTS_PATH, self._http)

    async def _http(self, request: web.Request) -> web.Response:
        response = await self.app.async_dispatch(await to_bolt_request(request))
        return await to_aiohttp_response(response)

    async def start(self) -> None:
        if self.settings.slack_socket_mode:
            from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler

            # Connecting retries until Slack answers: in the background, so other front ends start now.
            self._socket = AsyncSocketModeHandler(self.app, self.settings.SLACK_APP_TOKEN)
            self._spawn(self._socket.connect_async())

    async def stop(self) -> None:
        if self._socket is not None:
            await self._socket.close_async()
            self._socket = None
        await self.drain()
        await self.answerer.close()

    async def drain(self) -> None:
        """Wait until every acked request has been answered."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def _spawn(self, work: Awaitable[None]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- listeners: ack first, work after

    async def _on_command(self, ack: Callable, body: dict) -> None:
        await ack()
        self._spawn(self._answer_command(body))

    async def _answer_command(self, body: dict) -> None:
        channel = body.get("channel_id", "")
        private = is_im(channel)
        chat_id = await self._dm_channel(body.get("team_id", ""), body.get("user_id", "")) if private else None
        target = Target(
            channel=channel, user=body.get("user_id", ""), private=private,
            response_url=body.get("response_url"), ephemeral_by_default=not private,
        )
        await self._answer(command_incoming(body, chat_id), target)

    async def _on_message(self, ack: Callable, body: dict, event: dict) -> None:
        await ack()
        if is_im(_text(event, "channel"), _text(event, "channel_type")):
            self._spawn(self._answer_event(body, event))

    async def _on_mention(self, ack: Callable, body: dict, event: dict) -> None:
        await ack()
        self._spawn(self._answer_event(body, event))

    async def _answer_event(self, body: dict, event: dict) -> None:
        incoming = message_incoming(body, event)
        if incoming is None:
            return
        target = Target(
            channel=incoming.chat_id, user=incoming.user_id, private=incoming.is_private,
            thread_ts=event.get("thread_ts"),
        )
        await self._answer(incoming, target)

    async def _on_button(self, ack: Callable, body: dict, action: dict) -> None:
        await ack()
        incoming = action_incoming(body, action)
        target = Target(
            channel=incoming.chat_id, user=incoming.user_id, private=incoming.is_private,
            ephemeral_by_default=not incoming.is_private,
        )
        self._spawn(self._answer(incoming, target))

    async def _on_link(self, ack: Callable) -> None:
        await ack()  # Slack opened the URL itself

    # -- answering

    async def _answer(self, incoming: Incoming, target: Target) -> None:
        try:
            replies = await self.router.handle_async(incoming)
            await self.answerer.answer(target, replies)
        except Exception:  # logged, never shown: the user just gets no (further) answer
            log.exception("could not answer Slack %s from %s", incoming.command, incoming.user_id)

    async def _dm_channel(self, team: str, user: str) -> str | None:
        """The bot's own DM with this user (a slash command may come from a DM between two people)."""
        key = (team, user)
        if key not in self._dm_channels:
            try:
                response = await self.client.conversations_open(users=user)
                self._dm_channels[key] = response["channel"]["id"]
            except Exception:
                log.warning("conversations.open for %s failed; using the command's channel", user, exc_info=True)
                return None
        return self._dm_channels[key]


def web_client(settings: Settings) -> AsyncWebClient:
    return AsyncWebClient(token=settings.SLACK_BOT_TOKEN, base_url=_with_slash(settings.SLACK_API_URL))


def _with_slash(url: str) -> str:
    return url if url.endswith("/") else url + "/"
