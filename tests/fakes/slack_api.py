"""A fake Slack Web API on loopback: records what the bot posts, and can misbehave on demand.

Serves /api/<method> (point SLACK_API_URL at `api_url`) and /response_url/<id> (give
`response_url(id)` in slash-command payloads). `fail_next(n, status=429, retry_after=2)` makes the
next n posting calls fail; `error_next("channel_not_found")` makes the next one answer ok=false.
Files users share: `add_file(content, name, mimetype)` returns the file object a message event
carries; its url_private_download serves the bytes to the bot token only (`downloads` lists them).
File uploads take Slack's three steps (files.getUploadURLExternal, the upload URL,
files.completeUploadExternal) and are kept in `uploads()`.

With `bot_channels` set, the bot is a member of those conversations and of its own DMs (opened with
conversations.open) only: posting or sharing a file anywhere else is refused as Slack refuses it
(a DM between two people: channel_not_found; a channel it was not invited to: not_in_channel).

Every successful chat.postMessage is logged with its arrival time in `log` (a `RateLimits`).
`FakeSlackApi(limits=True)` also enforces Slack's posting limit as Slack answers it: about one
chat.postMessage per second per channel, a burst of 3 in any second tolerated, past it HTTP 429
with a Retry-After header (`log.rejections`). `refuse_channel(channel, retry_after)` makes every
post to one channel answer 429 until `lift_channel`; `delay_seconds` holds every Web API answer.

Views (`tests.fakes.slack_views`): views.publish, views.open and views.update refuse a view over
Block Kit's limits (invalid_arguments, as Slack answers), views.open a call without a trigger_id;
views.publish is held to its workspace window (PUBLISH: 100 a minute) with 429 and a Retry-After
past it, and `refuse_views(retry_after)` answers 429 to every views.publish until `lift_views()`.
`homes` keeps each user's last published Home, `modals` every view opened.
"""
import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from bot.web.server import start_server
from tests.fakes.limits import RateLimits, Rule
from tests.fakes.slack_views import view_problem

BOT_USER_ID = "UBOT"
BOT_ID = "BBOT"
TEAM_ID = "T0001"
POSTING = ("chat.postMessage", "chat.postEphemeral")
INTO_A_CONVERSATION = (*POSTING, "files.completeUploadExternal")
CHANNEL = Rule("channel", 3, 1.0)  # chat.postMessage: 1/s per channel, a burst of 3 tolerated
PUBLISH = Rule("views.publish", 100, 60.0)  # Tier 4, per workspace
VIEWS = ("views.publish", "views.open", "views.update")


def slack_rules(channel: str) -> list[tuple[str, Rule]]:
    return [(channel, CHANNEL)]


@dataclass
class Call:
    method: str  # Web API method, or "response_url"
    payload: dict[str, Any]
    path: str = ""

    @property
    def text(self) -> str:
        """Everything a person would read: fallback text plus all block texts."""
        return "\n".join([self.payload.get("text") or "", *block_texts(self.payload.get("blocks") or [])])


def block_texts(blocks: list | str) -> list[str]:
    if isinstance(blocks, str):
        blocks = json.loads(blocks)
    texts: list[str] = []
    for block in blocks:
        if "text" in block:
            texts.append(block["text"]["text"])
        texts.extend(f["text"] for f in block.get("fields", []))
        for element in block.get("elements", []):  # buttons' labels; a context's own text objects
            if "text" in element:
                text = element["text"]
                texts.append(text["text"] if isinstance(text, dict) else text)
    return texts


@dataclass
class FakeSlackApi:
    calls: list[Call] = field(default_factory=list)
    failures: list[tuple[int, dict, dict]] = field(default_factory=list)
    socket_acks: list[dict[str, Any]] = field(default_factory=list)
    hook_delay: float = 0.0  # seconds a response_url post takes (recorded only once answered)
    # When set, a Web API call with any other bot token is refused with invalid_auth, as Slack does.
    valid_tokens: frozenset[str] | None = None
    # When set, the conversations the bot is a member of (its own DMs are added as it opens them).
    bot_channels: set[str] | None = None
    port: int = 0
    limits: bool = False  # enforce Slack's per-channel posting limit (429 + Retry-After)
    delay_seconds: float = 0.0  # every Web API answer waits this long: a slow platform
    clock: Callable[[], float] = time.monotonic  # the fake's own clock, for the limits and the log
    log: RateLimits = field(init=False)
    _blobs: dict[str, dict] = field(default_factory=dict)  # file id -> filename, content
    shared: dict[str, bytes] = field(default_factory=dict)  # files users shared: id -> content
    downloads: list[str] = field(default_factory=list)
    bot_token: str = "xoxb-test"  # the only token url_private serves
    homes: dict[str, dict] = field(default_factory=dict)  # user id -> his last published Home
    modals: list[dict] = field(default_factory=list)  # every view opened (views.open)
    views_log: RateLimits = field(init=False)
    _runner: web.AppRunner | None = None
    _socket: web.WebSocketResponse | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_url(self) -> str:
        return f"{self.base}/api/"

    def response_url(self, hook_id: str) -> str:
        return f"{self.base}/response_url/{hook_id}"

    def __post_init__(self) -> None:
        self.log = RateLimits(slack_rules, clock=self.clock, enforce=self.limits)
        self.views_log = RateLimits(lambda key: [(key, PUBLISH)], clock=self.clock)

    async def start(self) -> "FakeSlackApi":
        app = web.Application()
        app.router.add_post("/api/{method}", self._api)
        app.router.add_post("/response_url/{hook}", self._hook)
        app.router.add_post("/upload/{file_id}", self._upload)
        app.router.add_get("/files-pri/{team_file}/{name}", self._private_file)
        app.router.add_get("/socket", self._websocket)
        self._runner, self.port = await start_server(app)
        return self

    async def stop(self) -> None:
        if self._socket is not None:
            await self._socket.close()
        if self._runner:
            await self._runner.cleanup()

    # -- misbehaviour

    def fail_next(self, times: int = 1, status: int = 429, retry_after: int = 1) -> None:
        headers = {"Retry-After": str(retry_after)} if status == 429 else {}
        error = "ratelimited" if status == 429 else "internal_error"
        self.failures.extend([(status, headers, {"ok": False, "error": error})] * times)

    def refuse_channel(self, channel: str, retry_after: int = 30) -> None:
        """Every chat.postMessage to this channel answers 429 with this Retry-After until lifted."""
        self.log.refuse(channel, retry_after)

    def lift_channel(self, channel: str) -> None:
        self.log.lift(channel)

    def refuse_views(self, retry_after: int = 30) -> None:
        """Every views.publish answers 429 with this Retry-After until lift_views()."""
        self.views_log.refuse("views.publish", retry_after)

    def lift_views(self) -> None:
        self.views_log.lift("views.publish")

    def publishes(self, user: str | None = None) -> list[Call]:
        """The views.publish calls Slack took (for one user)."""
        return [c for c in self.calls if c.method == "views.publish" and user in (None, c.payload.get("user_id"))]

    def error_next(self, error: str) -> None:
        self.failures.append((200, {}, {"ok": False, "error": error}))

    def add_file(self, content: bytes, name: str = "IMG_0001.JPG", mimetype: str = "image/jpeg",
                 size: int | None = None) -> dict:
        """A file a user shared, as a message event's `files` entry (size: what Slack says it is)."""
        file_id = f"FU{len(self.shared) + 1:04d}"
        self.shared[file_id] = content
        url = f"{self.base}/files-pri/{TEAM_ID}-{file_id}/{name}"
        return {"id": file_id, "name": name, "title": name, "mimetype": mimetype, "filetype": name.rsplit(".", 1)[-1],
                "size": len(content) if size is None else size, "url_private": url,
                "url_private_download": url + "?download=1", "mode": "hosted"}

    # -- inspection

    def posts(self, method: str | None = None) -> list[Call]:
        wanted = (method,) if method else (*POSTING, "response_url")
        return [c for c in self.calls if c.method in wanted]

    def uploads(self) -> list[Call]:
        """Files shared into a conversation: payload channel, filename, title, initial_comment, content."""
        return [c for c in self.calls if c.method == "files.completeUploadExternal" and "content" in c.payload]

    async def wait_for_posts(self, count: int = 1, method: str | None = None, timeout: float = 5.0) -> list[Call]:
        deadline = asyncio.get_running_loop().time() + timeout
        while len(self.posts(method)) < count and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.02)
        return self.posts(method)

    # -- handlers

    async def _payload(self, request: web.Request) -> dict[str, Any]:
        data: dict[str, Any] = dict(request.query)
        if request.content_type == "application/json":
            data.update(await request.json())
        else:
            data.update(await request.post())
        return data

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        payload = await self._payload(request)
        arrived = self.clock()
        response = self._web_api(request, method, payload, arrived)
        if self.delay_seconds:
            await asyncio.sleep(self.delay_seconds)
        return response

    def _web_api(self, request: web.Request, method: str, payload: dict, arrived: float) -> web.Response:
        self.calls.append(Call(method, payload, request.path))
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if self.valid_tokens is not None and token not in self.valid_tokens:
            return web.json_response({"ok": False, "error": "invalid_auth"})
        if method in POSTING and self.failures:
            status, headers, body = self.failures.pop(0)
            return web.json_response(body, status=status, headers=headers)
        if method in INTO_A_CONVERSATION:
            channel = str(payload.get("channel") or payload.get("channel_id") or "")
            if self.bot_channels is not None and channel not in self.bot_channels:
                error = "channel_not_found" if channel.startswith("D") else "not_in_channel"
                self.calls[-1] = Call(f"refused:{method}", payload, request.path)
                return web.json_response({"ok": False, "error": error})
        if method == "files.completeUploadExternal":
            return web.json_response(self._complete_upload(payload))
        if method in VIEWS:
            return self._view(method, payload, arrived)
        if method == "chat.postMessage":
            return self._post(payload, arrived)
        return web.json_response(self._answer(method, payload))

    def _post(self, payload: dict, arrived: float) -> web.Response:
        channel = str(payload.get("channel") or "")
        rejection = self.log.check(channel, arrived)
        if rejection is not None:
            self.calls[-1] = Call("ratelimited:chat.postMessage", payload, self.calls[-1].path)
            return web.json_response({"ok": False, "error": "ratelimited"}, status=429,
                                     headers={"Retry-After": str(rejection.retry_after)})
        self.log.accept(channel, self.calls[-1].text, "chat.postMessage", at=arrived)
        return web.json_response(self._answer("chat.postMessage", payload))

    def _view(self, method: str, payload: dict, arrived: float) -> web.Response:
        view = payload.get("view")
        view = json.loads(view) if isinstance(view, str) else view
        problem = view_problem(view)
        missing = {"views.publish": "user_id", "views.open": "trigger_id"}.get(method)
        if problem is None and missing and not payload.get(missing):
            problem = f"{missing}: missing"
        if problem is not None:
            self.calls[-1] = Call(f"refused:{method}", payload, self.calls[-1].path)
            return web.json_response({"ok": False, "error": "invalid_arguments",
                                      "response_metadata": {"messages": [f"[ERROR] {problem}"]}})
        if method == "views.publish":
            rejection = self.views_log.check(method, arrived)
            if rejection is not None:
                self.calls[-1] = Call("ratelimited:views.publish", payload, self.calls[-1].path)
                return web.json_response({"ok": False, "error": "ratelimited"}, status=429,
                                         headers={"Retry-After": str(rejection.retry_after)})
            self.views_log.accept(method, str(payload.get("user_id")), method, at=arrived)
            self.homes[str(payload.get("user_id"))] = view
        elif method == "views.open":
            self.modals.append(view)
        return web.json_response({"ok": True, "view": {**view, "id": f"V{len(self.calls):04d}", "hash": "h1"}})

    def _answer(self, method: str, payload: dict) -> dict:
        if method == "auth.test":
            return {"ok": True, "user_id": BOT_USER_ID, "bot_id": BOT_ID, "team_id": TEAM_ID,
                    "team": "Acme", "user": "fieldcrm", "url": "https://acme.slack.com/"}
        if method == "apps.connections.open":
            return {"ok": True, "url": f"ws://127.0.0.1:{self.port}/socket"}
        if method == "conversations.open":
            channel = f"D{payload.get('users', 'X')}"
            if self.bot_channels is not None:
                self.bot_channels.add(channel)
            return {"ok": True, "channel": {"id": channel}}
        if method == "files.getUploadURLExternal":
            file_id = f"F{len(self.calls):04d}"
            self._blobs[file_id] = {"filename": payload.get("filename"), "content": b""}
            return {"ok": True, "file_id": file_id, "upload_url": f"{self.base}/upload/{file_id}"}
        if method == "chat.postMessage":
            return {"ok": True, "channel": payload.get("channel"), "ts": f"{len(self.calls)}.000100"}
        return {"ok": True}

    async def _private_file(self, request: web.Request) -> web.Response:
        """url_private: the bytes for the bot token, Slack's login page (HTML, 200) for anyone else."""
        file_id = request.match_info["team_file"].split("-", 1)[-1]
        if request.headers.get("Authorization") != f"Bearer {self.bot_token}" or file_id not in self.shared:
            return web.Response(text="<html>Sign in to Slack</html>", content_type="text/html")
        self.downloads.append(file_id)
        return web.Response(body=self.shared[file_id], content_type="application/octet-stream")

    async def _upload(self, request: web.Request) -> web.Response:
        file_id = request.match_info["file_id"]
        if file_id not in self._blobs:
            return web.Response(status=404)
        self._blobs[file_id]["content"] = await request.read()
        return web.Response(text="OK - 200")

    def _complete_upload(self, payload: dict) -> dict:
        files = json.loads(payload.get("files") or "[]")
        if len(files) != 1 or files[0].get("id") not in self._blobs:
            return {"ok": False, "error": "invalid_arguments"}
        file_id = files[0]["id"]
        call = self.calls[-1]
        call.payload.update(self._blobs.pop(file_id), title=files[0].get("title"))
        return {"ok": True, "files": [{"id": file_id, "title": files[0].get("title")}]}

    async def _hook(self, request: web.Request) -> web.Response:
        payload = await request.json()
        await asyncio.sleep(self.hook_delay)  # a client that hangs up meanwhile posted nothing
        self.calls.append(Call("response_url", payload, request.path))
        return web.Response(text="ok")

    # -- Socket Mode

    async def wait_for_socket(self, timeout: float = 5.0) -> None:
        deadline = asyncio.get_running_loop().time() + timeout
        while self._socket is None and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.02)
        assert self._socket is not None, "the bot never opened the Socket Mode websocket"

    async def push_envelope(self, envelope: dict[str, Any]) -> None:
        await self.wait_for_socket()
        assert self._socket is not None
        await self._socket.send_json(envelope)

    async def _websocket(self, request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        self._socket = socket
        await socket.send_json({"type": "hello", "num_connections": 1, "connection_info": {"app_id": "A0001"}})
        async for message in socket:
            if message.type == web.WSMsgType.TEXT:
                self.socket_acks.append(json.loads(message.data))
        self._socket = None
        return socket
