"""Sending to Slack: where one interaction's replies go (`Target`), the `Poster`, which keeps every
chat.postMessage within the workspace's shared budget (`limits`), the outbox `SlackSender`, and
`SlackAnswerer`, which answers an interaction through its response_url or the Web API.

Slack's refusals become RetryAfter / PermanentFailure for the outbox dispatcher (`classify`).
"""
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot.adapters.slack.blocks import message_payload
from bot.adapters.slack.words import COMMAND_PREFIX, PLATFORM
from bot.budget import Budget, Limit
from bot.delivery import MaybeSent, PermanentFailure, RetryAfter
from bot.messages import Audience, Reply, for_caller_only

log = logging.getLogger(__name__)

RESPONSE_URL_LIMIT = 5  # Slack accepts at most 5 posts to one response_url (within 30 minutes)
RESPONSE_URL_TIMEOUT_S = 30
PERMANENT_ERRORS = frozenset(
    {"channel_not_found", "not_in_channel", "is_archived", "account_inactive", "invalid_auth",
     "token_revoked", "user_not_found", "cannot_dm_bot"}
)


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
    team: str = ""


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


def rate_limited_seconds(exc: Exception) -> float | None:
    """How long Slack asked us to wait, when the exception is its rate limit (429)."""
    problem = classify(exc) if isinstance(exc, SlackApiError) else None
    return problem.seconds if isinstance(problem, RetryAfter) else None


def seen_by_caller_only(target: Target, reply: Reply) -> bool:
    """Ephemeral (and its file in the caller's DM with the bot): a personal answer outside the bot's
    own DM with him (bot.messages.for_caller_only; a mention in a channel included), and any answer
    where Slack answers privately (a slash command), unless it is for the whole group (GROUP)."""
    if reply.ephemeral or for_caller_only(reply, target.private):
        return True
    return target.ephemeral_by_default and reply.audience is not Audience.GROUP


def limits(team: str, channel: str) -> list[Limit]:
    """Slack's limits for one chat.postMessage (bot.budget): about one a second to one channel, and
    a few hundred a minute in one workspace."""
    channel_limit = Limit(f"slack:{team}:{channel}", 3, 1.0, reserve=1)  # short bursts are allowed
    return [Limit(f"slack:{team}", 300, 60.0, reserve=30, shared=True), channel_limit]


@dataclass(frozen=True)
class Poster:
    """chat.postMessage within the workspace's shared budget: answers (`urgent`) before posts; a
    429 blocks the channel it names, everywhere."""

    client: AsyncWebClient
    budget: Budget

    async def post(self, team: str, channel: str, urgent: bool, **fields: Any) -> None:
        """An answer (`urgent`) waits out a rate limit (Budget.send); a post raises it."""
        await self.budget.send(limits(team, channel), lambda: self.client.chat_postMessage(channel=channel, **fields),
                               urgent, urgent, rate_limited_seconds)


class SlackSender:
    """Outbox delivery through the `Poster`."""

    platform = PLATFORM
    command_prefix = COMMAND_PREFIX

    def __init__(self, poster: Poster, locale: str):
        self.poster = poster
        self.locale = locale

    async def send(self, workspace: str, chat_id: str, reply: Reply) -> None:
        try:
            await self.poster.post(workspace, chat_id, False, **message_payload(reply, self.locale))
        except SlackApiError as exc:
            problem = classify(exc)
            if problem is exc:
                raise
            raise problem from exc
        except TimeoutError as exc:
            raise MaybeSent(f"slack channel {chat_id}: no answer within the timeout") from exc


class SlackAnswerer:
    """Posts one interaction's replies where Slack expects them: through the slash command's
    response_url while Slack takes posts there, else chat.postEphemeral / chat.postMessage; then
    any file. Slack has no private file: a file answering a private reply goes to the person's own
    DM with the bot (`own_dm`), never into the channel or the DM between two people it was asked in."""

    def __init__(self, poster: Poster, locale: str,
                 own_dm: Callable[[str, str], Awaitable[str | None]] | None = None):
        self.poster = poster
        self.client = poster.client
        self.locale = locale  # Slack events carry no locale: for labels only
        self.own_dm = own_dm
        # One pooled HTTP session for response_url posts: a session (and a new connection) per
        # answer costs the event loop more than the ack it delays.
        self._http_session: aiohttp.ClientSession | None = None

    async def answer(self, target: Target, replies: list[Reply]) -> None:
        for reply in replies:
            await self.deliver(target, reply)

    async def deliver(self, target: Target, reply: Reply) -> None:
        ephemeral = seen_by_caller_only(target, reply)
        payload = message_payload(reply, self.locale)
        if target.response_url and target.response_posts < RESPONSE_URL_LIMIT:
            target.response_posts += 1
            if await self._respond(target.response_url, payload, ephemeral):
                await self._upload(target, reply, ephemeral)
                return
        if ephemeral:
            await self.client.chat_postEphemeral(channel=target.channel, user=target.user,
                                                 thread_ts=target.thread_ts, **payload)
        else:
            await self.poster.post(target.team, target.channel, True, thread_ts=target.thread_ts, **payload)
        await self._upload(target, reply, ephemeral)

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

    async def _upload(self, target: Target, reply: Reply, private: bool) -> None:
        """Attach a file when the reply has one, where the reply was seen: a private reply's file
        goes to the person's own DM with the bot. Best effort (the bot may not be in that channel)."""
        if not reply.file_bytes:
            return
        channel, thread_ts = target.channel, target.thread_ts
        if private:
            own = await self.own_dm(target.team, target.user) if self.own_dm else None
            if own is None:
                log.warning("Slack file for %s not sent: no DM with the bot to put it in", target.user)
                return
            if own != channel:
                channel, thread_ts = own, None
        try:
            await self.client.files_upload_v2(
                channel=channel, file=reply.file_bytes, filename=reply.file_name or "export", thread_ts=thread_ts,
            )
        except Exception:
            log.warning("Slack file upload to %s failed", channel, exc_info=True)

    async def close(self) -> None:
        if self._http_session is not None:
            await self._http_session.close()
            self._http_session = None
