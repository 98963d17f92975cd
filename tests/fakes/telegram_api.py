"""A fake Telegram Bot API server on loopback, for driving the real python-telegram-bot code.

URL shape as Telegram's: {base}/bot{token}/{method}, so TELEGRAM_API_BASE_URL is `fake.base_url`.
It answers what PTB calls for this bot, records every call, serves queued updates to getUpdates
(honouring offset), and can be told to fail the next calls of a method (429 with retry_after, 500...).
Also: builders for update JSON in the Bot API's documented shape.

Every successful sendMessage/sendPhoto/sendDocument is logged with its arrival time in `log`
(a `RateLimits`: `log.posts`, `log.most_in_window`, `log.duplicates`, `log.missing`).
`FakeTelegramAPI(limits=True)` also enforces Telegram's limits as Telegram answers them (429 with
`parameters.retry_after`): 30 messages/s overall, 20 per minute to one group (chat id "-..."),
1 per second to one private chat with a burst of 3 in any second; the 429s are in `log.rejections`.
`refuse_chat(chat_id, retry_after=30)` makes every send to that chat answer 429 until `lift_chat`;
`delay_seconds` holds every answer that long (a slow platform).
Files users sent: `add_file(file_id, content)` makes getFile answer for it and serves its bytes at
{base}/file/bot{token}/{file_path}, as Telegram does; `downloads` lists the file ids fetched.
"""
import asyncio
import contextlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import count
from typing import Any

from aiohttp import web

from bot.web.server import start_server
from tests.fakes.limits import RateLimits, Rejection, Rule

BOT_USER = {
    "id": 123,
    "is_bot": True,
    "first_name": "FieldCRM",
    "username": "fieldcrm_bot",
    "can_join_groups": True,
    "can_read_all_group_messages": False,
    "supports_inline_queries": False,
}
# Parameters PTB sends JSON-encoded; everything else stays a string.
JSON_PARAMS = {"reply_markup", "commands", "allowed_updates", "entities", "scope", "link_preview_options",
               "menu_button"}
SENDS = ("sendMessage", "sendPhoto", "sendDocument")  # what Telegram's flood limits count
OVERALL = Rule("overall", 30, 1.0)
GROUP = Rule("group", 20, 60.0)
PRIVATE = Rule("private", 3, 1.0)  # 1/s, but a short burst of 3 is tolerated as Telegram does


def telegram_rules(chat_id: str) -> list[tuple[str, Rule]]:
    return [("*", OVERALL), (chat_id, GROUP if chat_id.startswith("-") else PRIVATE)]


class Refused(Exception):
    """What Telegram answers with 400 and a description."""

    def __init__(self, description: str):
        super().__init__(description)
        self.description = description


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    status: int = 200  # what the fake answered: a failure told by fail_next is not 200


@dataclass
class Failure:
    status: int
    body: dict


@dataclass
class FakeTelegramAPI:
    token: str = "123:ABC"
    calls: list[Call] = field(default_factory=list)
    updates: list[dict] = field(default_factory=list)
    failures: dict[str, list[Failure]] = field(default_factory=dict)
    poll_wait_s: float = 0.2
    webhook: dict = field(default_factory=dict)  # what getWebhookInfo answers: url, last_error_message...
    # Users who never opened their private chat with the bot: Telegram refuses to send them anything.
    never_started: set[int] = field(default_factory=set)
    limits: bool = False  # enforce Telegram's rate limits (429 + retry_after)
    delay_seconds: float = 0.0  # every answer waits this long: a slow platform
    clock: Callable[[], float] = time.monotonic  # the fake's own clock, for the limits and the log
    files: dict[str, bytes] = field(default_factory=dict)  # file_id -> content users sent
    downloads: list[str] = field(default_factory=list)
    menu_buttons: dict[str, dict] = field(default_factory=dict)  # chat id -> its menu button (setChatMenuButton)

    def __post_init__(self) -> None:
        self.log = RateLimits(telegram_rules, clock=self.clock, enforce=self.limits)
        self._runner: web.AppRunner | None = None
        self._new_update = asyncio.Event()
        self._message_ids = count(1000)
        self.port = 0

    # ------------------------------------------------------------ lifecycle

    async def start(self) -> "FakeTelegramAPI":
        app = web.Application()
        app.router.add_post("/bot{token}/{method}", self._handle)
        app.router.add_get("/bot{token}/{method}", self._handle)
        app.router.add_get("/file/bot{token}/{file_path:.+}", self._download)
        self._runner, self.port = await start_server(app)
        return self

    async def close(self) -> None:
        if self._runner:
            await self._runner.cleanup()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/bot"

    # ------------------------------------------------------------ test controls

    def add_file(self, file_id: str, content: bytes) -> None:
        self.files[file_id] = content

    def queue_update(self, update: dict) -> None:
        self.updates.append(update)
        self._new_update.set()

    def fail_next(self, method: str, times: int = 1, status: int = 429, retry_after: int | None = None,
                  description: str | None = None) -> None:
        """The next `times` calls of `method` answer an error instead of succeeding."""
        body: dict[str, Any] = {"ok": False, "error_code": status,
                                "description": description or _default_description(status)}
        if retry_after is not None:
            body["parameters"] = {"retry_after": retry_after}
        self.failures.setdefault(method, []).extend([Failure(status, body)] * times)

    def refuse_chat(self, chat_id: int | str, retry_after: int = 30) -> None:
        """Every send to this chat answers 429 with this retry_after until `lift_chat`."""
        self.log.refuse(chat_id, retry_after)

    def lift_chat(self, chat_id: int | str) -> None:
        self.log.lift(chat_id)

    @property
    def too_many(self) -> list[Rejection]:
        """The sends answered 429 by the limits or a refused chat (not those told by fail_next)."""
        return self.log.rejections

    def called(self, method: str) -> list[dict]:
        return [c.params for c in self.calls if c.method == method]

    def texts(self, chat_id: int | str | None = None) -> list[str]:
        """Texts of successful-looking sendMessage calls (failed attempts are recorded too)."""
        return [
            p["text"] for p in self.called("sendMessage")
            if chat_id is None or str(p.get("chat_id")) == str(chat_id)
        ]

    def delivered(self, chat_id: int | str | None = None) -> list[str]:
        """Texts of the sendMessage calls that succeeded: what the person actually got."""
        return [
            c.params["text"] for c in self.calls
            if c.method == "sendMessage" and c.status == 200
            and (chat_id is None or str(c.params.get("chat_id")) == str(chat_id))
        ]

    async def wait_for(self, method: str, n: int = 1, timeout: float = 5.0) -> list[dict]:
        deadline = time.monotonic() + timeout
        while len(self.called(method)) < n:
            if time.monotonic() > deadline:
                raise AssertionError(f"expected {n} {method} call(s), got {self.called(method)}")
            await asyncio.sleep(0.02)
        return self.called(method)

    # ------------------------------------------------------------ the API

    async def _handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        if request.match_info["token"] != self.token:
            return web.json_response({"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401)
        params = await _params(request)
        arrived = self.clock()
        response = await self._answer(method, params, arrived)
        if self.delay_seconds:
            await asyncio.sleep(self.delay_seconds)
        return response

    async def _answer(self, method: str, params: dict, arrived: float) -> web.Response:
        self.calls.append(Call(method, params))
        if method.startswith("send") and _chat_number(params) in self.never_started:
            self.calls[-1].status = 403
            return web.json_response({"ok": False, "error_code": 403, "description": NEVER_STARTED}, status=403)
        pending = self.failures.get(method)
        if pending:
            failure = pending.pop(0)
            self.calls[-1].status = failure.status
            return web.json_response(failure.body, status=failure.status)
        rejection = self.log.check(params.get("chat_id", ""), arrived) if method in SENDS else None
        if rejection is not None:
            self.calls[-1].status = 429
            return web.json_response(_too_many(rejection.retry_after), status=429)
        handler = getattr(self, f"_api_{method}", None)
        if handler is None:
            return web.json_response({"ok": False, "error_code": 404, "description": "Not Found"}, status=404)
        try:
            result = await handler(params)
        except Refused as refused:
            return web.json_response({"ok": False, "error_code": 400, "description": refused.description}, status=400)
        if method in SENDS:
            self.log.accept(params.get("chat_id", ""), _shown(params), method, at=arrived)
        return web.json_response({"ok": True, "result": result})

    async def _download(self, request: web.Request) -> web.Response:
        file_id = request.match_info["file_path"].removeprefix("photos/")
        if request.match_info["token"] != self.token or file_id not in self.files:
            return web.Response(status=404)
        self.downloads.append(file_id)
        return web.Response(body=self.files[file_id])

    async def _api_getFile(self, params: dict) -> Any:
        file_id = str(params.get("file_id", ""))
        if file_id not in self.files:
            raise Refused("Bad Request: invalid file_id")
        content = self.files[file_id]
        if len(content) > 20 * 1024 * 1024:
            raise Refused("Bad Request: file is too big")  # the Bot API serves files up to 20 MB
        return {"file_id": file_id, "file_unique_id": f"u-{file_id}", "file_size": len(content),
                "file_path": f"photos/{file_id}"}

    async def _api_getMe(self, params: dict) -> Any:
        return BOT_USER

    async def _api_setMyCommands(self, params: dict) -> Any:
        return True

    async def _api_setChatMenuButton(self, params: dict) -> Any:
        """A web_app button must open an https page, as Telegram requires (its text at most 64)."""
        button = params.get("menu_button") or {"type": "default"}
        if button.get("type") == "web_app":
            url = str((button.get("web_app") or {}).get("url", ""))
            if not url.startswith("https://"):
                raise Refused("Bad Request: BUTTON_URL_INVALID: Web App URL must be https")
            if not 1 <= len(str(button.get("text", ""))) <= 64:
                raise Refused("Bad Request: BUTTON_TEXT_INVALID")
        elif button.get("type") not in ("default", "commands"):
            raise Refused("Bad Request: unsupported menu button type")
        self.menu_buttons[str(params.get("chat_id", ""))] = button
        return True

    async def _api_deleteWebhook(self, params: dict) -> Any:
        self.webhook = {}
        return True

    async def _api_setWebhook(self, params: dict) -> Any:
        self.webhook = {"url": params.get("url", "")}
        return True

    async def _api_getWebhookInfo(self, params: dict) -> Any:
        return {"url": "", "has_custom_certificate": False, "pending_update_count": 0, **self.webhook}

    async def _api_answerCallbackQuery(self, params: dict) -> Any:
        return True

    async def _api_getUpdates(self, params: dict) -> Any:
        offset = int(params.get("offset") or 0)
        self.updates = [u for u in self.updates if u["update_id"] >= offset]
        if not self.updates:
            self._new_update.clear()
            wait = min(float(params.get("timeout") or 0), self.poll_wait_s)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait):
                    await self._new_update.wait()
        return list(self.updates)

    async def _api_sendMessage(self, params: dict) -> Any:
        return self._message(params, text=params.get("text", ""))

    async def _api_editMessageText(self, params: dict) -> Any:
        return self._message(params, text=params.get("text", ""))

    async def _api_sendDocument(self, params: dict) -> Any:
        document = {"file_id": "doc1", "file_unique_id": "u1", "file_name": params.get("document_name", "file")}
        return self._message(params, document=document)

    async def _api_sendPhoto(self, params: dict) -> Any:
        content = params.get("photo_bytes")
        if not isinstance(content, bytes | bytearray) or not content.startswith((b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff")):
            raise Refused("Bad Request: IMAGE_PROCESS_FAILED")  # Telegram takes pictures only
        if len(content) > 10 * 1024 * 1024:
            raise Refused("Bad Request: PHOTO_INVALID_DIMENSIONS")
        sizes = [{"file_id": "photo1", "file_unique_id": "p1", "width": 800, "height": 600, "file_size": len(content)}]
        return self._message(params, photo=sizes)

    def _message(self, params: dict, **content: Any) -> dict:
        chat_id = int(params.get("chat_id", 0))
        chat = {"id": chat_id, "type": "private" if chat_id > 0 else "group"}
        if chat_id < 0:
            chat["title"] = "Team"
        return {"message_id": next(self._message_ids), "date": int(time.time()), "chat": chat,
                "from": BOT_USER, **content}


NEVER_STARTED = "Forbidden: bot can't initiate conversation with a user"


def _too_many(retry_after: int) -> dict:
    return {"ok": False, "error_code": 429, "description": f"Too Many Requests: retry after {retry_after}",
            "parameters": {"retry_after": retry_after}}


def _shown(params: dict) -> str:
    """What a send shows in the chat, for the log: its text, caption or file name."""
    return str(params.get("text") or params.get("caption") or params.get("document_name") or "")


def _chat_number(params: dict) -> int | None:
    chat_id = str(params.get("chat_id", ""))
    return int(chat_id) if chat_id.lstrip("-").isdigit() else None


async def _params(request: web.Request) -> dict[str, Any]:
    params: dict[str, Any] = dict(request.query)
    if request.content_type == "application/json":
        params.update(await request.json())
        return params
    if request.content_type == "multipart/form-data":
        async for part in await request.multipart():
            if part.filename:  # type: ignore[union-attr]
                params[f"{part.name}_name"] = part.filename  # type: ignore[union-attr]
                params[f"{part.name}_bytes"] = await part.read()  # type: ignore[union-attr]
            else:
                params[part.name] = await part.text()  # type: ignore[union-attr]
    else:
        params.update(await request.post())
    for key in JSON_PARAMS & params.keys():
        params[key] = json.loads(params[key])
    return params


def _default_description(status: int) -> str:
    return {
        429: "Too Many Requests: retry later",
        500: "Internal Server Error",
        403: "Forbidden: bot was blocked by the user",
        400: "Bad Request: chat not found",
    }.get(status, "Error")


# ---------------------------------------------------------------- update builders (Bot API shape)

_update_ids = count(10_000)


def next_update_id() -> int:
    return next(_update_ids)


def user(user_id: int = 555, first_name: str = "Li", language_code: str = "zh") -> dict:
    return {"id": user_id, "is_bot": False, "first_name": first_name, "language_code": language_code}


def chat(chat_id: int = 555, chat_type: str = "private") -> dict:
    data: dict[str, Any] = {"id": chat_id, "type": chat_type}
    if chat_type != "private":
        data["title"] = "East Team"
    return data


def message(text: str | None = None, *, chat_id: int = 555, chat_type: str = "private", user_id: int = 555,
            language_code: str = "zh", message_id: int = 1, date: int | None = None, **extra: Any) -> dict:
    data: dict[str, Any] = {
        "message_id": message_id,
        "date": date if date is not None else int(time.time()),
        "chat": chat(chat_id, chat_type),
        "from": user(user_id, language_code=language_code),
        **extra,
    }
    if text is not None:
        data["text"] = text
        if text.startswith("/"):
            data["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
    return data


def text_update(text: str, update_id: int | None = None, **kwargs: Any) -> dict:
    return {"update_id": update_id if update_id is not None else next_update_id(), "message": message(text, **kwargs)}


def location_update(lat: float, lon: float, *, accuracy: float | None = None, live_period: int | None = None,
                    update_id: int | None = None, **kwargs: Any) -> dict:
    point: dict[str, Any] = {"latitude": lat, "longitude": lon}
    if accuracy is not None:
        point["horizontal_accuracy"] = accuracy
    if live_period is not None:
        point["live_period"] = live_period
    return {"update_id": update_id if update_id is not None else next_update_id(),
            "message": message(location=point, **kwargs)}


def photo_update(file_id: str, size: int, *, width: int = 1280, height: int = 960,
                 update_id: int | None = None, **kwargs: Any) -> dict:
    """A compressed photo, as Telegram sends it: several sizes, the last the biggest."""
    sizes = [{"file_id": f"{file_id}-thumb", "file_unique_id": "t1", "width": 90, "height": 68, "file_size": 1200},
             {"file_id": file_id, "file_unique_id": "p1", "width": width, "height": height, "file_size": size}]
    return {"update_id": update_id if update_id is not None else next_update_id(),
            "message": message(photo=sizes, **kwargs)}


def document_update(file_id: str, size: int, *, file_name: str = "IMG_0001.JPG", mime_type: str = "image/jpeg",
                    update_id: int | None = None, **kwargs: Any) -> dict:
    """A file (an image sent "as a file" keeps its bytes, EXIF included)."""
    document = {"file_id": file_id, "file_unique_id": f"u-{file_id}", "file_name": file_name,
                "mime_type": mime_type, "file_size": size}
    return {"update_id": update_id if update_id is not None else next_update_id(),
            "message": message(document=document, **kwargs)}


def live_edit_update(lat: float, lon: float, *, message_id: int, date: int, edit_date: int,
                     accuracy: float | None = None, update_id: int | None = None, **kwargs: Any) -> dict:
    point: dict[str, Any] = {"latitude": lat, "longitude": lon, "live_period": 900}
    if accuracy is not None:
        point["horizontal_accuracy"] = accuracy
    body = message(location=point, message_id=message_id, date=date, edit_date=edit_date, **kwargs)
    return {"update_id": update_id if update_id is not None else next_update_id(), "edited_message": body}


def callback_update(data: str, *, chat_id: int = 555, user_id: int = 555, language_code: str = "zh",
                    update_id: int | None = None, chat_type: str = "private") -> dict:
    return {
        "update_id": update_id if update_id is not None else next_update_id(),
        "callback_query": {
            "id": f"cq{next_update_id()}",
            "from": user(user_id, language_code=language_code),
            "chat_instance": "ci1",
            "data": data,
            "message": {"message_id": 77, "date": int(time.time()), "chat": chat(chat_id, chat_type),
                        "from": BOT_USER, "text": "earlier"},
        },
    }
