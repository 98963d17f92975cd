"""Fan-out: channel posts through bot.delivery.Dispatcher to a fake Telegram Bot API that enforces
Telegram's limits (30 messages/s overall, 20/min per group) and answers 429 with retry_after past them.

Run with 1 and with 3 dispatcher processes on one database, sharing the bot's budget (bot.budget).
Figures: delivery time against the floor the limits set, max((posts + the answers sent meanwhile)/30 s,
busiest group's posts/20 min);
429s received, posts lost or duplicated; and the p95 time to send an answer to a person (an urgent
send to a private chat) during the fan-out against the same answers on the idle bot. The sender is
a minimal HTTP sender with the adapter's limits (bot.adapters.telegram.outbound.limits), as
TelegramSender sends (which needs a full PTB application).
"""
import asyncio
import sys
import time
from collections import Counter, deque
from pathlib import Path

import aiohttp
from aiohttp import web
from sqlalchemy import func, insert, select

from bench.common import Row, scratch_database
from bot.adapters.telegram.outbound import limits
from bot.bootstrap import open_database, send_budget
from bot.budget import Budget
from bot.delivery import RetryAfter
from bot.messages import Reply
from bot.web.server import start_server
from db.models import OutboxMessage

GLOBAL_PER_SECOND = 30
GROUP_PER_MINUTE = 20
ACCOUNT = "4242"
ANSWERS = 20
ROOT = Path(__file__).resolve().parent.parent


class FakeTelegram:
    """sendMessage with Telegram's flood limits, measured on the server's own clock."""

    def __init__(self) -> None:
        self.recent: deque[float] = deque()
        self.per_chat: dict[str, deque[float]] = {}
        self.delivered: Counter[str] = Counter()
        self.texts: set[tuple[str, str]] = set()
        self.duplicates = 0
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
        if (chat, body["text"]) in self.texts:
            self.duplicates += 1
        self.texts.add((chat, body["text"]))
        return web.json_response({"ok": True, "result": {"message_id": sum(self.delivered.values())}})

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/bot{token}/sendMessage", self.send_message)
        return app


class HttpSender:
    """Posts to the Bot API over HTTP within the bot's shared budget, with the adapter's limits
    (bot.adapters.telegram.outbound.limits): what TelegramSender does, without a PTB application."""

    platform = "telegram"
    command_prefix = "/"

    def __init__(self, base_url: str, session: aiohttp.ClientSession, budget: Budget):
        self.base_url = base_url
        self.session = session
        self.budget = budget

    async def send(self, workspace: str, chat_id: str, reply: Reply, urgent: bool = False) -> None:
        chat_limits = limits(ACCOUNT, chat_id)
        async with (self.budget.slot(chat_limits, urgent),
                    self.session.post(f"{self.base_url}/sendMessage",
                                      json={"chat_id": chat_id, "text": reply.text}) as response):
            data = await response.json()
        if response.status == 429:
            await self.budget.block(chat_limits[-1].key, float(data["parameters"]["retry_after"]))
            raise RetryAfter(float(data["parameters"]["retry_after"]))
        if not data.get("ok"):
            raise RuntimeError(data)


DISPATCHER = """
import asyncio, sys, aiohttp
from bench.fanout import HttpSender
from bot.bootstrap import open_database, send_budget
from bot.delivery import Dispatcher

async def main(db_url, api_url):
    db = open_database(db_url)
    async with aiohttp.ClientSession() as http:
        sender = HttpSender(api_url, http, send_budget(db))
        print("ready", flush=True)
        await Dispatcher(db, {"telegram": sender}, poll_seconds=0.2).run_forever()

asyncio.run(main(sys.argv[1], sys.argv[2]))
"""


async def answer_times(sender: HttpSender, first_chat: int, count: int, spacing: float) -> list[float]:
    """Answers to people (urgent sends to private chats) while whatever else runs; ms each."""
    times = []
    for n in range(count):
        started = time.perf_counter()
        await sender.send(ACCOUNT, str(first_chat + n), Reply(text=f"answer {n}"), urgent=True)
        times.append((time.perf_counter() - started) * 1000)
        await asyncio.sleep(spacing)
    return times


def unsent(db) -> int:
    with db.uow() as uow:
        return uow.session.scalar(select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status != "sent"))


async def deliver_all(url: str, posts: int, groups: int, processes: int) -> dict:
    fake = FakeTelegram()
    runner, port = await start_server(fake.app())
    api = f"http://127.0.0.1:{port}/bot{ACCOUNT}:TOKEN"
    db = open_database(url)
    async with aiohttp.ClientSession() as session:
        prober = HttpSender(api, session, send_budget(db))
        idle = await answer_times(prober, 900_000, ANSWERS, 0.05)
        workers = [await asyncio.create_subprocess_exec(sys.executable, "-c", DISPATCHER, url, api, cwd=ROOT,
                                                        stdout=asyncio.subprocess.PIPE)
                   for _ in range(processes)]
        for worker in workers:
            assert worker.stdout is not None
            await worker.stdout.readline()  # started: its imports and connections are not timed
        rows = [{"platform": "telegram", "workspace": "bench", "chat_id": f"-100{i % groups}", "kind": "win",
                 "payload": Reply(text=f"Gong #{i}").to_json(), "status": "pending"} for i in range(posts)]
        start = time.perf_counter()
        with db.uow() as uow:
            uow.session.execute(insert(OutboxMessage), rows)
            uow.commit()
        busy = await answer_times(prober, 800_000, ANSWERS, (posts / 30) / (2 * ANSWERS))
        while unsent(db):
            await asyncio.sleep(0.05)
        elapsed = time.perf_counter() - start
        for worker in workers:
            worker.terminate()
            await worker.wait()
    left = unsent(db)
    db.dispose()
    await runner.cleanup()
    busiest = max(Counter(r["chat_id"] for r in rows).values())
    # The platform counts the answers sent meanwhile too.
    floor = max((posts + ANSWERS) / GLOBAL_PER_SECOND, (busiest / GROUP_PER_MINUTE - 1) * 60 if busiest > GROUP_PER_MINUTE
                else 0.0)
    lost = posts - sum(count for chat, count in fake.delivered.items() if chat.startswith("-"))
    return {"elapsed": elapsed, "floor": floor, "rejected": fake.rejected, "lost": lost, "unsent": left,
            "duplicates": fake.duplicates, "idle_p95": p95(idle), "busy_p95": p95(busy)}


def p95(times: list[float]) -> float:
    ordered = sorted(times)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def run(quick: bool) -> list[Row]:
    posts, groups = (150, 150) if quick else (1000, 1000)
    rows = []
    for processes in (1, 3):
        with scratch_database("fanout") as url:
            result = asyncio.run(deliver_all(url, posts, groups, processes))
        label = f"{processes} process{'es' if processes > 1 else ''}"
        rows += [
            Row("fanout", f"{posts} posts to {groups} groups, {label}", result["elapsed"], result["floor"], "s",
                "<=1.1x of the limits' floor"),
            Row("fanout", f"429 answers received, {label}", result["rejected"], None, "", "0"),
            Row("fanout", f"posts lost or duplicated, {label}",
                result["lost"] + result["unsent"] + result["duplicates"], None, "", "0"),
            Row("fanout", f"answer send p95 during the fan-out, {label}", result["busy_p95"], result["idle_p95"], "ms",
                "<=2x the same answers on an idle bot"),
        ]
    return rows
