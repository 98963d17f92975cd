"""Driving the real slack-bolt app: its routes on a live HTTP server, and a client that sends them
signed slash commands, events and button clicks, answered on a FakeSlackApi."""
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from itertools import count
from urllib.parse import urlencode

import aiohttp

from bot.adapters.slack.front_end import SlackFrontEnd
from bot.bootstrap import build_router, send_budget, web_app
from bot.config import Settings, load_settings
from bot.web.server import start_server
from db.base import utcnow
from db.session import Database
from tests.fakes.slack_api import TEAM_ID, Call, FakeSlackApi

SECRET = "test-signing-secret"


def slack_settings_for(db: Database, fake: FakeSlackApi, **extra: object) -> Settings:
    return load_settings(
        env_file=None, DATABASE_URL=db.url, SECRET_KEY="test-secret", SLACK_BOT_TOKEN="xoxb-test",
        SLACK_SIGNING_SECRET=SECRET, SLACK_API_URL=fake.api_url, **extra,
    )


@dataclass
class Slack:
    """A running bot with Slack routes, and a way to send it signed requests."""

    front: SlackFrontEnd
    fake: FakeSlackApi
    url: str
    http: aiohttp.ClientSession
    ids = count(1)

    @property
    def base(self) -> str:
        """The bot's own HTTP address (the check-in pages live there too)."""
        return self.url.removesuffix("/slack/events")

    async def post(self, body: str, content_type: str, ts: int | None = None, secret: str = SECRET,
                   headers: dict | None = None) -> aiohttp.ClientResponse:
        ts = int(time.time()) if ts is None else ts
        digest = hmac.new(secret.encode(), f"v0:{ts}:{body}".encode(), hashlib.sha256).hexdigest()
        signed = {"X-Slack-Request-Timestamp": str(ts), "X-Slack-Signature": f"v0={digest}",
                  "Content-Type": content_type, **(headers or {})}
        async with self.http.post(self.url, data=body.encode(), headers=signed) as response:
            await response.read()
            return response

    async def command(self, text: str, user: str, channel: str, **kw) -> aiohttp.ClientResponse:
        n = next(self.ids)
        body = urlencode({
            "token": "legacy", "team_id": TEAM_ID, "team_domain": "acme", "channel_id": channel,
            "channel_name": "directmessage" if channel.startswith("D") else "sales", "user_id": user,
            "user_name": user.lower(), "command": "/crm", "text": text, "api_app_id": "A0001",
            "response_url": self.fake.response_url(str(n)), "trigger_id": f"{n}.1.abc",
        })
        return await self.post(body, "application/x-www-form-urlencoded", **kw)

    async def event(self, event: dict, event_id: str, **kw) -> aiohttp.ClientResponse:
        body = json.dumps({
            "token": "legacy", "team_id": TEAM_ID, "api_app_id": "A0001", "type": "event_callback",
            "event_id": event_id, "event_time": int(time.time()), "event": event,
        })
        return await self.post(body, "application/json", **kw)

    async def click(self, value: str, user: str, channel: str) -> aiohttp.ClientResponse:
        n = next(self.ids)
        payload = {
            "type": "block_actions", "team": {"id": TEAM_ID, "domain": "acme"}, "api_app_id": "A0001",
            "user": {"id": user, "username": user.lower(), "team_id": TEAM_ID}, "token": "legacy",
            "trigger_id": f"{n}.2.xyz", "channel": {"id": channel, "name": "directmessage"},
            "container": {"type": "message", "channel_id": channel, "message_ts": "1.1"},
            "response_url": self.fake.response_url(f"a{n}"),
            "actions": [{"type": "button", "action_id": "crm:0", "block_id": "b1", "value": value,
                         "text": {"type": "plain_text", "text": "x"}, "action_ts": f"{time.time():.6f}"}],
        }
        return await self.post(urlencode({"payload": json.dumps(payload)}), "application/x-www-form-urlencoded")

    async def interaction(self, payload: dict) -> aiohttp.ClientResponse:
        """An interactivity payload (shortcut, block action, view submission) as Slack posts it."""
        payload = {"team": {"id": TEAM_ID, "domain": "acme"}, "api_app_id": "A0001", "token": "legacy", **payload}
        return await self.post(urlencode({"payload": json.dumps(payload)}), "application/x-www-form-urlencoded")

    def _user(self, user: str) -> dict:
        return {"id": user, "username": user.lower(), "team_id": TEAM_ID}

    async def shortcut(self, callback_id: str, user: str, message: str | None = None) -> aiohttp.ClientResponse:
        """A global shortcut, or with `message` the message shortcut on that message's text."""
        n = next(self.ids)
        payload = {"type": "shortcut", "callback_id": callback_id, "trigger_id": f"{n}.3.sc", "user": self._user(user),
                   "action_ts": f"{time.time():.6f}"}
        if message is not None:
            payload.update(type="message_action", channel={"id": "C0SALES", "name": "sales"},
                           message={"type": "message", "user": "UOTHER", "ts": "1.2", "text": message},
                           response_url=self.fake.response_url(f"m{n}"))
        return await self.interaction(payload)

    async def home_opened(self, user: str, has_view: bool = False) -> aiohttp.ClientResponse:
        event = {"type": "app_home_opened", "user": user, "channel": f"D{user}", "tab": "home",
                 "event_ts": f"{time.time():.6f}"}
        if has_view:
            event["view"] = {"id": "VHOME", "type": "home"}
        return await self.event(event, f"EvHome{next(self.ids)}")

    async def home_click(self, button: dict, user: str) -> aiohttp.ClientResponse:
        """A press of a button of his published Home (as `fake.homes[user]` holds it)."""
        n = next(self.ids)
        action = {"type": "button", "action_id": button["action_id"], "block_id": "hb", "text": button["text"],
                  "action_ts": f"{time.time():.6f}", **({"value": button["value"]} if "value" in button else {})}
        return await self.interaction({
            "type": "block_actions", "user": self._user(user), "trigger_id": f"{n}.4.hm",
            "container": {"type": "view", "view_id": "VHOME"}, "view": {"id": "VHOME", "type": "home"},
            "actions": [action]})

    async def submit(self, view: dict, fields: dict[str, str], user: str) -> tuple[int, dict | None, float]:
        """Submit an opened modal with these fields filled in: (status, the ack's JSON or None, seconds)."""
        values: dict[str, dict] = {}
        for block in view["blocks"]:
            if block["type"] != "input":
                continue
            element, value = block["element"], fields.get(block["block_id"])
            kind = element["type"]
            state: dict = {"type": kind}
            if kind == "static_select":
                state["selected_option"] = {"text": {"type": "plain_text", "text": value}, "value": value} if value else None
            elif kind == "datepicker":
                state["selected_date"] = value
            elif kind == "timepicker":
                state["selected_time"] = value
            else:
                state["value"] = value
            values[block["block_id"]] = {element["action_id"]: state}
        n = next(self.ids)
        submitted = {**view, "id": f"V{n}", "team_id": TEAM_ID, "hash": f"{n}.h", "state": {"values": values}}
        started = time.monotonic()
        response = await self.interaction({"type": "view_submission", "user": self._user(user),
                                           "trigger_id": f"{n}.5.vs", "view": submitted, "response_urls": []})
        seconds = time.monotonic() - started
        body = response._body or b""  # read by post()
        return response.status, (json.loads(body) if body.strip() else None), seconds

    async def answers(self, count_: int = 1) -> list[Call]:
        await self.front.drain()
        return await self.fake.wait_for_posts(count_, timeout=2.0)


@asynccontextmanager
async def running_slack(db: Database, settings: Settings, fake: FakeSlackApi,
                        clock: Callable[[], datetime] = utcnow) -> AsyncIterator[Slack]:
    """The bot's Slack routes on a live HTTP server, with a client that sends them signed requests."""
    router = build_router(db, settings, clock=clock)
    front = SlackFrontEnd(settings, router, send_budget(router.db))
    app = web_app(db, settings, [front], clock=clock)
    runner, port = await start_server(app)
    try:
        async with aiohttp.ClientSession() as http:
            yield Slack(front, fake, f"http://127.0.0.1:{port}/slack/events", http)
    finally:
        await front.stop()
        await router.aclose()
        await runner.cleanup()
