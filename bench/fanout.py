"""Fan-out: channel posts through bot.delivery.Dispatcher to a fake Telegram Bot API that enforces
Telegram's limits (30 messages/s overall, 20/min per group) and answers 429 with retry_after past them.

Figure: delivery time against the floor the limits set, max(posts/30 s, busiest group's posts/20 min);
429s received and messages lost are reported too. The sender here is a minimal HTTP sender with the
same windows as bot/adapters/telegram/outbound.py's TelegramSender (which needs a full PTB application).
"""
import asyncio
import time
from collections import Counter, deque

import aiohttp
from aiohttp import web
from sqlalchemy import func, insert, select

from bench.common import Row, scratch_database
from bot.bootstrap import open_database
from bot.delivery import Dispatcher, RetryAfter, SlidingWindow
from bot.messages import Reply
from bot.web.server import start_server
from db.models import OutboxMessage

GLOBAL_PER_SECOND = 30
GROUP_PER_MINUTE = 20
# The same 5 % margin under the limits as bot/adapters/telegram/outbound.py.
MARGIN = 1.05


class FakeTelegram:
    """sendMessage with Telegram's flood limits, measured on the server's own clock."""

    def __init__(self) -> None:
        self.recent: deque[float] = deque()
        self.per_chat: dict[str, deque[float]] = {}
        self.delivered: Counter[str] = Counter()
        self.rejected = 0

    async def send_message(self, request: web.Request) -> web.Response:
        body = await request.json()
        chat = str(body["chat_id"])
        now = time.monotonic()
        while self.recent and now - self.recent[0] >= 1.0:
            self.recent.popleft()
        chat_times = self.per_chat.setdefault(chat, deque())
        while chat_times and now - chat_times[0] >= 60.0:
            chat_times.popleft()
        if len(self.recent) >= GLOBAL_PER_SECOND or len(chat_times) >= GROUP_PER_MINUTE:
            self.rejected += 1
            return web.json_response({"ok": False, "error_code": 429, "description": "Too Many Requests",
                                      "parameters": {"retry_after": 1}}, status=429)
        self.recent.append(now)
        chat_times.append(now)
        self.delivered[chat] += 1
        return web.json_response({"ok": True, "result": {"message_id": sum(self.delivered.values())}})

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/bot{token}/sendMessage", self.send_message)
        return app


class HttpSender:
    """Posts to the Bot API over HTTP with the adapter's windows: 30/s overall, 20/min per group."""

    platform = "telegram"
    command_prefix = "/"

    def __init__(self, base_url: str, session: aiohttp.ClientSession):
        self.base_url = base_url
        self.session = session
        self.global_window = SlidingWindow(GLOBAL_PER_SECOND, 1.0 * MARGIN)
        self.chat_windows: dict[str, SlidingWindow] = {}
        self.retries = 0

    def limits_for(self, chat_id: str) -> list[SlidingWindow]:
        window = self.chat_windows.setdefault(chat_id, SlidingWindow(GROUP_PER_MINUTE, 60.0 * MARGIN))
        return [self.global_window, window]

    async def send(self, workspace: str, chat_id: str, reply: Reply) -> None:
        async with self.session.post(f"{self.base_url}/sendMessage",
                                     json={"chat_id": chat_id, "text": reply.text}) as response:
            data = await response.json()
            if response.status == 429:
                self.retries += 1
                raise RetryAfter(float(data["parameters"]["retry_after"]))
            if not data.get("ok"):
                raise RuntimeError(data)


async def deliver_all(url: str, posts: int, groups: int) -> dict[str, float]:
    fake = FakeTelegram()
    runner, port = await start_server(fake.app())
    db = open_database(url)
    rows = [{"platform": "telegram", "workspace": "bench", "chat_id": f"-100{i % groups}", "kind": "win",
             "payload": Reply(text=f"Gong #{i}").to_json(), "status": "pending"} for i in range(posts)]
    with db.uow() as uow:
        uow.session.execute(insert(OutboxMessage), rows)
        uow.commit()
    async with aiohttp.ClientSession() as session:
        sender = HttpSender(f"http://127.0.0.1:{port}/botTOKEN", session)
        dispatcher = Dispatcher(db, {"telegram": sender}, batch=posts)
        start = time.perf_counter()
        while await dispatcher.deliver_due():
            pass
        elapsed = time.perf_counter() - start
    with db.uow() as uow:
        unsent = uow.session.scalar(select(func.count()).select_from(OutboxMessage)
                                    .where(OutboxMessage.status != "sent"))
    db.dispose()
    await runner.cleanup()
    busiest = max(Counter(r["chat_id"] for r in rows).values())
    floor = max(posts / GLOBAL_PER_SECOND, (busiest / GROUP_PER_MINUTE - 1) * 60 if busiest > GROUP_PER_MINUTE
                else 0.0)
    lost = posts - sum(fake.delivered.values())
    return {"elapsed": elapsed, "floor": floor, "rejected": fake.rejected, "lost": lost, "unsent": unsent}


def run(quick: bool) -> list[Row]:
    posts, groups = (150, 150) if quick else (1000, 1000)
    with scratch_database("fanout") as url:
        result = asyncio.run(deliver_all(url, posts, groups))
    return [
        Row("fanout", f"{posts} posts to {groups} groups", result["elapsed"], result["floor"], "s",
            "<=1.2x of the limits' floor"),
        Row("fanout", "429 answers received", result["rejected"], None, "", "0"),
        Row("fanout", "messages lost (not delivered or not marked sent)", result["lost"] + result["unsent"], None,
            "", "0"),
    ]


if __name__ == "__main__":
    from bench.common import print_table

    print_table(run(quick=True))
