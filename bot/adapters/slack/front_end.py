"""The Slack front end: the bolt app, its listeners (ack first, work after) and the answers.

HTTP mode serves POST /slack/events on the shared aiohttp app: the signature is checked over the
raw bytes, then the body read and its shape checked (`edge`), and only then is the payload handed
to bolt (which answers Slack's url_verification); Socket Mode is used instead when SLACK_APP_TOKEN
is set.
"""
import asyncio
import json
import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.app.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.adapters.front_end import answer
from bot.adapters.slack import edge
from bot.adapters.slack.blocks import ACTION_PREFIX, LINK_PREFIX
from bot.adapters.slack.home_publisher import HomeMarkingSender, HomePublisher
from bot.adapters.slack.inbound import (
    action_incoming,
    command_incoming,
    fetch_file,
    is_im,
    is_im_event,
    message_incoming,
)
from bot.adapters.slack.interactions import Interactions
from bot.adapters.slack.outbound import Poster, SlackAnswerer, SlackSender, Target
from bot.adapters.slack.words import COMMAND_PREFIX, LOCATION_ASK, PLATFORM
from bot.budget import Budget
from bot.config import Settings
from bot.messages import Incoming, Reply
from bot.router import Router
from bot.startup import StartupError, Unreachable, reason, until_reachable

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"


class SlackFrontEnd:
    platform = PLATFORM
    command_prefix = COMMAND_PREFIX
    location_ask = LOCATION_ASK

    def __init__(self, settings: Settings, router: Router, budget: Budget):
        self.settings = settings
        self.router = router
        self.locale = settings.DEFAULT_LOCALE  # Slack events carry no locale: for labels only
        self.client = web_client(settings)
        poster = Poster(self.client, budget)
        self.home = HomePublisher(self.client, budget, router.db, router.clock, self.locale)
        self.sender = HomeMarkingSender(SlackSender(poster, self.locale), self.home)
        self.app = AsyncApp(
            client=self.client,
            signing_secret=settings.SLACK_SIGNING_SECRET or "",
            # _http verifies the signature over the raw bytes before anything is parsed, and
            # hands bolt the payload it read (re-encoded), which bolt's own check cannot verify.
            request_verification_enabled=False,
            # Every listener only acks and starts the work as a task, so running it before the
            # response costs nothing, and the ack leaves at once: otherwise bolt starts the
            # listener as a task and polls every 10 ms for its ack() (slack_bolt asyncio_runner).
            process_before_response=True,
            logger=log,
        )
        self._socket: Any = None
        self._tasks: set[asyncio.Task] = set()
        self._dm_channels: dict[tuple[str, str], str] = {}
        self.answerer = SlackAnswerer(poster, self.locale, self._dm_channel)
        self._register()

    # -- wiring

    def _register(self) -> None:
        self.app.command(re.compile(r"^/"))(self._on_command)
        self.app.event("message")(self._on_message)
        self.app.event("app_mention")(self._on_mention)
        self.app.action(re.compile("^" + re.escape(ACTION_PREFIX)))(self._on_button)
        self.app.action(re.compile("^" + re.escape(LINK_PREFIX)))(self._on_link)
        self.app.error(self._on_bolt_error)
        self.interactions = Interactions(self.app, self.router, self.home, self.answerer, self._spawn,
                                         self._dm_channel, self._answer, self.locale)

    def add_routes(self, app: web.Application) -> None:
        if self.settings.SLACK_SIGNING_SECRET:
            app.router.add_post(EVENTS_PATH, self._http)

    async def _http(self, request: web.Request) -> web.Response:
        """Signature, body, shape, then bolt: 401 unsigned, 400 unreadable, 200 and one log line
        for a signed payload of the wrong shape (Slack would only send it again)."""
        raw = await request.read()  # over client_max_size: 413, from aiohttp
        try:
            edge.verify(self.settings.SLACK_SIGNING_SECRET or "", request.headers, raw)
            payload = edge.read_body(request.content_type, request.charset, raw)
        except edge.Refusal as refusal:
            log.info("slack: request refused (%s) from %s", refusal.code, request.remote)
            return web.Response(status=refusal.status, text=refusal.code)
        problem = edge.shape_problem(payload)
        if problem is not None:
            log.warning("slack: signed request ignored, wrong shape: %s", problem)
            return web.Response(text="")
        bolt_request = self._bolt_request(request, payload)
        if bolt_request is None:
            return web.Response(text="")
        try:
            response = await self.app.async_dispatch(bolt_request)
        except Exception as exc:  # raised by bolt's own error handling: the last guard, one line
            log.error("slack: bolt failed on a checked request: %r", exc)
            return web.Response(status=400, text="unhandled")
        return await to_aiohttp_response(response)

    @staticmethod
    def _bolt_request(request: web.Request, payload: dict) -> AsyncBoltRequest | None:
        """The payload re-encoded as JSON (bolt parses exactly what was checked), or None."""
        headers = {k: v for k, v in request.headers.items() if k.lower() != "content-type"}
        try:
            return AsyncBoltRequest(body=json.dumps(payload), query=request.query_string,
                                    headers={**headers, "Content-Type": "application/json"})
        except Exception as exc:  # a shape edge.shape_problem missed: ignored like the others
            log.warning("slack: signed request ignored, unreadable by bolt: %r", exc)
            return None

    async def _on_bolt_error(self, error: Exception) -> BoltResponse:
        """Whatever bolt trips over in a checked payload: one line, no traceback, no 500."""
        log.error("slack: bolt could not handle a request: %r", error)
        return BoltResponse(status=400, body="unhandled")

    async def start(self) -> None:
        await until_reachable(self._connect)
        if self.settings.slack_socket_mode:
            from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler

            # Connecting retries until Slack answers: in the background, so other front ends start now.
            self._socket = AsyncSocketModeHandler(self.app, self.settings.SLACK_APP_TOKEN)
            self._spawn(self._socket.connect_async())

    async def _connect(self) -> None:
        """auth.test: Unreachable while Slack does not answer, StartupError when it refuses the token."""
        try:
            await self.client.auth_test()
        except SlackApiError as exc:
            status, error = exc.response.status_code, exc.response.get("error")
            if status < 500 and error != "ratelimited":
                raise StartupError(f"slack refused the bot token ({error})") from None
            raise Unreachable(f"slack API {self.settings.SLACK_API_URL} unreachable (HTTP {status})") from None
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise Unreachable(f"slack API {self.settings.SLACK_API_URL} unreachable ({reason(exc)})") from None

    async def stop(self) -> None:
        if self._socket is not None:
            await self._socket.close_async()
            self._socket = None
        await self.drain()
        await self.home.close()
        await self.router.marked()
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
        channel, user = body.get("channel_id", ""), body.get("user_id", "")
        own_dm = await self._dm_channel(body.get("team_id", ""), user) if is_im(channel) else None
        # Only the bot's own DM with him answers for all to see: in a DM between two people (also a
        # "D" channel) the colleague must not see the answer, so it is ephemeral there too.
        target = Target(
            channel=channel, user=user, private=is_im(channel),
            response_url=body.get("response_url"), ephemeral_by_default=own_dm != channel,
            team=body.get("team_id", ""),
        )
        await self._answer(command_incoming(body, own_dm), target)

    async def _on_message(self, ack: Callable, body: dict, event: dict) -> None:
        await ack()
        if is_im_event(event):
            self._spawn(self._answer_event(body, event))

    async def _on_mention(self, ack: Callable, body: dict, event: dict) -> None:
        await ack()
        self._spawn(self._answer_event(body, event))

    async def _answer_event(self, body: dict, event: dict) -> None:
        incoming = message_incoming(body, event)
        if incoming is None:
            return
        if incoming.attachment is not None:
            incoming = await fetch_file(incoming, event, self.settings.SLACK_BOT_TOKEN or "",
                                        self.settings.SLACK_API_URL, self.settings.PHOTO_MAX_BYTES)
        target = Target(
            channel=incoming.chat_id, user=incoming.user_id, private=incoming.is_private,
            thread_ts=event.get("thread_ts"), team=incoming.workspace,
        )
        await self._answer(incoming, target)

    async def _on_button(self, ack: Callable, body: dict, action: dict) -> None:
        await ack()
        self._spawn(self._answer_button(body, action))

    async def _answer_button(self, body: dict, action: dict) -> None:
        """Every press is answered through its own response_url (it reaches the presser wherever the
        message is, a DM between two people included, where the bot cannot post); privately unless
        the message is in the bot's own DM with him."""
        incoming = action_incoming(body, action)
        own_dm = await self._dm_channel(incoming.workspace, incoming.user_id) if incoming.is_private else None
        target = Target(
            channel=incoming.chat_id, user=incoming.user_id, private=incoming.is_private,
            response_url=body.get("response_url"), ephemeral_by_default=own_dm != incoming.chat_id,
            team=incoming.workspace,
        )
        await self._answer(incoming, target)

    async def _on_link(self, ack: Callable) -> None:
        await ack()  # Slack opened the URL itself

    # -- answering

    async def _answer(self, incoming: Incoming, target: Target) -> None:
        try:
            await answer(self.router, incoming, lambda replies: self._send(target, replies))
        except Exception:  # logged, never shown: the user just gets no (further) answer
            log.exception("could not answer Slack %s from %s", incoming.command, incoming.user_id)
        self.home.mark(incoming.workspace, incoming.user_id)  # what he did may show on his Home

    async def _send(self, target: Target, replies: list[Reply]) -> bool:
        await self.answerer.answer(target, replies)  # raises when a reply could not be posted
        return True

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
