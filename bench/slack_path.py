"""The Slack path: signed slash commands over HTTP into the running app, ack time at 32 and 200
concurrent clients, against a bare slack-bolt AsyncApp that acks a constant.

Both servers run as subprocesses on loopback (each with a fake Slack Web API for the replies);
the load generator is this process (aiohttp client). Rounds alternate bare and app.
"""
import asyncio
import hashlib
import hmac
import os
import signal
import sys
import time
from urllib.parse import urlencode

import aiohttp

from bench.common import Row, median, p99, scratch_database
from bot.web import start_server

SECRET = "bench-signing-secret"
TEAM = "T0001"
USERS = 200
# The app runs as production should on this 2-core machine (README, "Command workers"): commands in
# threads of the app process. Worker processes measured worse here (1-3 workers; the figures are
# in README, "Command workers"); BENCH_COMMAND_WORKERS=N runs the app with N of them to compare.
COMMAND_WORKERS = int(os.environ.get("BENCH_COMMAND_WORKERS", "0"))


def seed_users(url: str) -> None:
    from sqlalchemy import text

    from db.session import Database

    db = Database(url)
    with db.engine.begin() as conn:
        unit = conn.execute(text("INSERT INTO org_units (name, path, active, created_at) "
                                 "VALUES ('Bench', '/', true, now()) RETURNING id")).scalar()
        conn.execute(text(
            "INSERT INTO users (handle, name, unit_id, role, data_scope, locale, timezone, active, created_at) "
            "SELECT 'u' || g, 'User ' || g, :unit, 'rep', 'self', 'en', 'UTC', true, now() "
            "FROM generate_series(1, :n) g"), {"unit": unit, "n": USERS})
        for platform, workspace, prefix in (("slack", TEAM, "UB"), ("telegram", "123", "")):
            conn.execute(text(
                "INSERT INTO platform_identities (platform, workspace, platform_user_id, dm_chat_id, user_id, "
                "linked_at) SELECT :p, :w, :prefix || substr(u.handle, 2), :prefix || substr(u.handle, 2), u.id, "
                "now() FROM users u"), {"p": platform, "w": workspace, "prefix": prefix})
    db.dispose()


# ---------------------------------------------------------------- servers (subprocess side)


async def serve(mode: str, db_url: str) -> None:
    from aiohttp import web
    from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
    from slack_bolt.app.async_app import AsyncApp
    from slack_sdk.web.async_client import AsyncWebClient

    from tests.fakes.slack_api import FakeSlackApi

    fake = await FakeSlackApi().start()
    app = web.Application()
    if mode == "bare":
        bolt = AsyncApp(client=AsyncWebClient(token="xoxb-bench", base_url=fake.api_url), signing_secret=SECRET)

        @bolt.command("/crm")
        async def constant(ack) -> None:
            await ack("ok")

        async def events(request: web.Request) -> web.Response:
            return await to_aiohttp_response(await bolt.async_dispatch(await to_bolt_request(request)))

        app.router.add_post("/slack/events", events)
    else:
        from bot.adapters.slack import SlackFrontEnd
        from bot.config import load_settings
        from bot.router import Router
        from bot.web import build_web_app
        from db.session import Database

        settings = load_settings(env_file=None, DATABASE_URL=db_url, SLACK_BOT_TOKEN="xoxb-bench",
                                 SLACK_SIGNING_SECRET=SECRET, SLACK_API_URL=fake.api_url, SECRET_KEY="k",
                                 COMMAND_WORKERS=COMMAND_WORKERS, LOG_LEVEL="ERROR")
        db = Database(db_url)
        router = Router(db, settings)
        front = SlackFrontEnd(settings, router)
        app = build_web_app(db)
        front.add_routes(app)
    runner, port = await start_server(app)
    print(port, fake.port, flush=True)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    if mode != "bare":
        router.close()  # the worker processes (COMMAND_WORKERS) go with the server


# ---------------------------------------------------------------- load generator


def signed(text: str, user: int, n: int, hook: str) -> tuple[bytes, dict]:
    body = urlencode({"team_id": TEAM, "channel_id": "C1", "channel_name": "sales", "user_id": f"UB{user}",
                      "user_name": f"u{user}", "command": "/crm", "text": text, "api_app_id": "A1",
                      "response_url": hook, "trigger_id": f"{n}.{user}.{time.time_ns()}"})
    ts = str(int(time.time()))
    digest = hmac.new(SECRET.encode(), f"v0:{ts}:{body}".encode(), hashlib.sha256).hexdigest()
    return body.encode(), {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": f"v0={digest}",
                           "Content-Type": "application/x-www-form-urlencoded"}


async def load(http: aiohttp.ClientSession, url: str, hook: str, clients: int, requests: int) -> list[float]:
    times: list[float] = []
    counter = iter(range(requests))

    async def client(index: int) -> None:
        for n in counter:
            body, headers = signed("whoami", (index + n) % USERS + 1, n, hook)
            started = time.perf_counter()
            async with http.post(url, data=body, headers=headers) as response:
                await response.read()
                assert response.status == 200, response.status
            times.append((time.perf_counter() - started) * 1000)

    await asyncio.gather(*(client(i) for i in range(clients)))
    return times


async def measure(ports: dict[str, tuple[int, int]], quick: bool) -> list[Row]:
    rows = []
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as http:
        for clients in (32, 200):
            requests = clients * (4 if quick else 15)
            results: dict[str, list[float]] = {"bare": [], "app": []}
            for _ in range(2 if quick else 4):
                for mode in ("bare", "app"):
                    port, fake = ports[mode]
                    results[mode] += await load(http, f"http://127.0.0.1:{port}/slack/events",
                                                f"http://127.0.0.1:{fake}/response_url/b", clients, requests)
                    await asyncio.sleep(1.5)  # let the app's answering work finish before the next batch
            rows.append(Row("slack_path", f"ack median, {clients} concurrent, COMMAND_WORKERS={COMMAND_WORKERS}", median(results["app"]),
                            median(results["bare"]), "ms", "<= 1.5x bare"))
            rows.append(Row("slack_path", f"ack p99, {clients} concurrent, COMMAND_WORKERS={COMMAND_WORKERS}", p99(results["app"]),
                            p99(results["bare"]), "ms", "far under 3000 ms"))
    return rows


async def launch(mode: str, db_url: str) -> tuple[asyncio.subprocess.Process, tuple[int, int]]:
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "bench.slack_path", "serve", mode, db_url,
                                                stdout=asyncio.subprocess.PIPE)
    assert proc.stdout is not None
    port, fake = (await asyncio.wait_for(proc.stdout.readline(), 60)).split()
    return proc, (int(port), int(fake))


async def main(quick: bool) -> list[Row]:
    with scratch_database("slack") as url:
        seed_users(url)
        servers = {mode: await launch(mode, url) for mode in ("bare", "app")}
        try:
            return await measure({mode: port for mode, (_proc, port) in servers.items()}, quick)
        finally:
            for proc, _port in servers.values():
                proc.terminate()
                await proc.wait()


def run(quick: bool) -> list[Row]:
    return asyncio.run(main(quick))


if __name__ == "__main__" and sys.argv[1:2] == ["serve"]:
    import logging

    logging.basicConfig(level=logging.ERROR)
    asyncio.run(serve(sys.argv[2], sys.argv[3]))
