"""The Slack path: signed slash commands over HTTP into the running app, ack time at 32 and 200
concurrent clients, against a bare slack-bolt AsyncApp that acks a constant.

The ratios are taken against the like-for-like floor: a bare app with process_before_response=True,
the setting the app uses (its listeners ack and return at once, so bolt need not poll for the ack
every 10 ms). The bare app as bolt's documentation writes it (defaults, with the poll) is printed
beside it for comparison. The servers and the fake Slack Web API that receives the app's answers
each run as a subprocess on loopback (Slack's API is not in the app's process in production
either); the load generator is this process (aiohttp client). Rounds alternate.
"""
import asyncio
import hashlib
import hmac
import signal
import sys
import time
from urllib.parse import urlencode

import aiohttp

from bench.common import BULK, Row, median, p99, scratch_database
from bot.web.server import start_server

SECRET = "bench-signing-secret"
TEAM = "T0001"
USERS = 200


def seed_users(url: str) -> None:
    from sqlalchemy import text

    from db.session import Database

    db = Database(url, BULK)
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


async def serve(mode: str, db_url: str, api_url: str) -> None:
    from aiohttp import web
    from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
    from slack_bolt.app.async_app import AsyncApp
    from slack_sdk.web.async_client import AsyncWebClient

    from tests.fakes.slack_api import FakeSlackApi

    app = web.Application()
    admin_port = 0  # only the real app has an admin listener
    if mode == "fake":
        fake = await FakeSlackApi().start()
        app, api_url = None, fake.api_url
    elif mode.startswith("bare"):
        bolt = AsyncApp(client=AsyncWebClient(token="xoxb-bench", base_url=api_url), signing_secret=SECRET,
                        process_before_response=mode == "bare_inline")

        @bolt.command("/crm")
        async def constant(ack) -> None:
            await ack("ok")

        async def events(request: web.Request) -> web.Response:
            return await to_aiohttp_response(await bolt.async_dispatch(await to_bolt_request(request)))

        app.router.add_post("/slack/events", events)
    else:
        from bot.adapters.slack.front_end import SlackFrontEnd
        from bot.bootstrap import admin_app, build_router, open_database, send_budget, web_app
        from bot.config import load_settings

        settings = load_settings(env_file=None, DATABASE_URL=db_url, SLACK_BOT_TOKEN="xoxb-bench",
                                 SLACK_SIGNING_SECRET=SECRET, SLACK_API_URL=api_url, SECRET_KEY="k",
                                 LOG_LEVEL="ERROR")
        db = open_database(db_url)
        router = build_router(db, settings)
        front = SlackFrontEnd(settings, router, send_budget(router.db))
        app = web_app(db, settings, [front])
        admin_port = (await start_server(admin_app(db, settings, router.metrics)))[1]  # /metrics is there
    port = fake.port if app is None else (await start_server(app))[1]
    print(port, api_url, admin_port, flush=True)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    if mode == "app":
        await front.stop()  # its HTTP sessions too
        await router.aclose()


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
    """Each client posts the next request as soon as its previous one is acked. The requests are
    signed before the clock starts: the load generator shares the machine, and its own CPU would
    count in every ack time."""
    times: list[float] = []
    prepared = iter([signed("whoami", n % USERS + 1, n, hook) for n in range(requests)])

    async def client() -> None:
        for body, headers in prepared:
            started = time.perf_counter()
            async with http.post(url, data=body, headers=headers) as response:
                await response.read()
                assert response.status == 200, response.status
            times.append((time.perf_counter() - started) * 1000)

    await asyncio.gather(*(client() for _ in range(clients)))
    return times


SERVERS = ("bare", "bare_inline", "app")
DRAIN_TIMEOUT_S = 300


async def answered(http: aiohttp.ClientSession, port: int) -> int:
    """Commands the app has finished, from its /metrics (on its admin listener's port)."""
    async with http.get(f"http://127.0.0.1:{port}/metrics") as response:
        lines = (await response.text()).splitlines()
    return sum(int(float(line.rsplit(" ", 1)[1])) for line in lines
               if line.startswith('fieldcrm_commands_total{command="whoami"'))


async def drain(http: aiohttp.ClientSession, port: int, sent: int) -> None:
    """Wait until the app has answered every command sent so far: its backlog must not eat into the
    next round's CPU (the servers share the machine's two cores)."""
    deadline = time.monotonic() + DRAIN_TIMEOUT_S
    while await answered(http, port) < sent:
        if time.monotonic() > deadline:
            raise RuntimeError(f"the app did not answer {sent} commands in {DRAIN_TIMEOUT_S} s")
        await asyncio.sleep(0.2)


async def measure(ports: dict[str, int], hook: str, quick: bool) -> list[Row]:
    rows = []
    connector = aiohttp.TCPConnector(limit=0)
    sent = 0
    async with aiohttp.ClientSession(connector=connector) as http:
        for clients in (32, 200):
            requests = clients * (4 if quick else 15)
            results: dict[str, list[float]] = {mode: [] for mode in SERVERS}
            for _ in range(2 if quick else 4):
                for mode in SERVERS:
                    url = f"http://127.0.0.1:{ports[mode]}/slack/events"
                    results[mode] += await load(http, url, hook, clients, requests)
                    if mode == "app":
                        sent += requests
                        await drain(http, ports["app_admin"], sent)
                    await asyncio.sleep(0.5)
            app, bare, inline = results["app"], results["bare"], results["bare_inline"]
            rows.append(Row("slack_path", f"ack median, {clients} concurrent (floor: bare, no ack poll)", median(app),
                            median(inline), "ms", "<= 1.5x bare"))
            rows.append(Row("slack_path", "  same, floor: bare app with bolt's defaults (ack poll)", median(app),
                            median(bare), "ms", "for comparison"))
            rows.append(Row("slack_path", f"ack p99, {clients} concurrent (floor: bare, no ack poll)", p99(app),
                            p99(inline), "ms", "far under 3000 ms"))
    return rows


async def launch(mode: str, db_url: str, api_url: str) -> tuple[asyncio.subprocess.Process, int, str, int]:
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "bench.slack_path", "serve", mode, db_url,
                                                api_url, stdout=asyncio.subprocess.PIPE)
    assert proc.stdout is not None
    port, api_url, admin_port = (await asyncio.wait_for(proc.stdout.readline(), 60)).decode().split()
    return proc, int(port), api_url, int(admin_port)


async def main(quick: bool) -> list[Row]:
    with scratch_database("slack") as url:
        seed_users(url)
        fake = await launch("fake", url, "-")
        servers = [fake]
        try:
            api_url = fake[2]
            ports = {}
            for mode in SERVERS:
                servers.append(await launch(mode, url, api_url))
                ports[mode] = servers[-1][1]
            ports["app_admin"] = next(admin for _proc, _port, _api, admin in servers if admin)
            return await measure(ports, f"http://127.0.0.1:{fake[1]}/response_url/b", quick)
        finally:
            for proc, *_ in servers:
                proc.terminate()
                await proc.wait()


def run(quick: bool) -> list[Row]:
    return asyncio.run(main(quick))


if __name__ == "__main__" and sys.argv[1:2] == ["serve"]:
    import logging

    logging.basicConfig(level=logging.ERROR)
    asyncio.run(serve(sys.argv[2], sys.argv[3], sys.argv[4]))
