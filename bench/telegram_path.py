"""The Telegram path: webhook updates per second through python-telegram-bot into the command
table (router, database, reply), against a floor of min(a bare PTB handler replying a constant,
Telegram's 30 messages/s per bot).

Every real update's answer takes a slot of the bot's 30 messages a second (the shared send budget,
bot.budget), so the app cannot answer more than about 30 updates a second however fast it handles
them; the bare handler, which sends outside any budget, is not held to that, so the floor is the
lower of the two. The bare rate is printed beside it, for scale.

Each server runs as a subprocess with its own fake Bot API (not enforcing the limits: the app's
budget keeps to them itself); this process posts updates to the webhook from 32 concurrent clients;
a webhook call returns once the update is answered.
"""
import asyncio
import signal
import sys
import time

import aiohttp

from bench.common import Row, median, scratch_database
from bench.slack_path import USERS, seed_users
from bot.web.server import start_server

TOKEN = "123:ABC"
SECRET = "bench-webhook-secret"
CLIENTS = 32
TELEGRAM_PER_SECOND = 30  # messages a bot may send, all chats together: each update here is answered by one


async def serve(mode: str, db_url: str) -> None:
    from aiohttp import web
    from telegram import Update
    from telegram.ext import ApplicationBuilder, TypeHandler

    from tests.fakes.telegram_api import FakeTelegramAPI

    fake = await FakeTelegramAPI(token=TOKEN).start()
    if mode == "bare":
        application = (ApplicationBuilder().token(TOKEN).base_url(fake.base_url).updater(None)
                       .concurrent_updates(True).build())

        async def constant(update: Update, context) -> None:
            await context.bot.send_message(update.effective_chat.id, "ok")

        application.add_handler(TypeHandler(Update, constant))
        await application.initialize()
        await application.start()

        async def webhook(request: web.Request) -> web.Response:
            await application.process_update(Update.de_json(await request.json(), application.bot))
            return web.Response(text="ok")

        app = web.Application()
        app.router.add_post("/telegram/webhook", webhook)
    else:
        from bot.adapters.telegram.front_end import TelegramFrontEnd
        from bot.bootstrap import build_router, open_database, send_budget, web_app
        from bot.config import load_settings

        settings = load_settings(env_file=None, DATABASE_URL=db_url, TELEGRAM_BOT_TOKEN=TOKEN,
                                 TELEGRAM_API_BASE_URL=fake.base_url, SECRET_KEY="k",
                                 TELEGRAM_WEBHOOK_URL="https://bench.example/telegram/webhook",
                                 TELEGRAM_WEBHOOK_SECRET=SECRET, LOG_LEVEL="ERROR")
        db = open_database(db_url)
        router = build_router(db, settings)
        front = TelegramFrontEnd(settings, router, send_budget(router.db))
        app = web_app(db, settings, [front])
        await front.start()
    runner, port = await start_server(app)
    print(port, flush=True)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    if mode != "bare":
        await router.aclose()


def update(n: int) -> dict:
    user = n % USERS + 1
    return {"update_id": n, "message": {
        "message_id": n, "date": int(time.time()), "chat": {"id": user, "type": "private"},
        "from": {"id": user, "is_bot": False, "first_name": "U", "language_code": "en"}, "text": "/whoami",
        "entities": [{"type": "bot_command", "offset": 0, "length": 7}]}}


async def rate(http: aiohttp.ClientSession, url: str, start: int, count: int) -> float:
    numbers = iter(range(start, start + count))

    async def client() -> None:
        for n in numbers:
            async with http.post(url, json=update(n), headers={"X-Telegram-Bot-Api-Secret-Token": SECRET}) as r:
                await r.read()
                assert r.status == 200, r.status

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(CLIENTS)))
    return count / (time.perf_counter() - started)


async def main(quick: bool) -> list[Row]:
    count = 200 if quick else 1000
    with scratch_database("telegram") as url:
        seed_users(url)
        procs, ports = [], {}
        for mode in ("bare", "app"):
            proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "bench.telegram_path", "serve", mode,
                                                        url, stdout=asyncio.subprocess.PIPE)
            assert proc.stdout is not None
            ports[mode] = int((await asyncio.wait_for(proc.stdout.readline(), 60)).strip())
            procs.append(proc)
        rates: dict[str, list[float]] = {"bare": [], "app": []}
        try:
            async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
                start = 1
                for _ in range(3 if quick else 5):
                    for mode in ("bare", "app"):
                        rates[mode].append(await rate(http, f"http://127.0.0.1:{ports[mode]}/telegram/webhook",
                                                      start, count))
                        start += count
        finally:
            for proc in procs:
                proc.terminate()
                await proc.wait()
    bare = median(rates["bare"])
    return [Row("telegram_path", f"webhook updates/s, {CLIENTS} concurrent (higher is better)", median(rates["app"]),
                min(bare, TELEGRAM_PER_SECOND), "/s", ">= 0.6x min(bare handler, Telegram's 30 messages/s per bot)"),
            Row("telegram_path", f"bare PTB handler updates/s, {CLIENTS} concurrent", bare, None, "/s",
                "for scale (it sends outside any budget)")]


def run(quick: bool) -> list[Row]:
    return asyncio.run(main(quick))


if __name__ == "__main__" and sys.argv[1:2] == ["serve"]:
    import logging

    logging.basicConfig(level=logging.ERROR)
    asyncio.run(serve(sys.argv[2], sys.argv[3]))
