"""Faults survived, on PostgreSQL: the database restarted under load, the dispatcher killed mid-delivery,
the platform API failing, and two bot processes sharing one database.

The restart test runs its OWN throwaway PostgreSQL cluster (initdb into a temp dir, a free port),
never the shared server other tests use.
"""
import asyncio
import contextlib
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import func, select

from bot.adapters.slack.outbound import Poster, SlackSender
from bot.adapters.telegram.front_end import TelegramFrontEnd
from bot.bootstrap import build_router, send_budget
from bot.config import load_settings
from bot.delivery import Dispatcher
from bot.i18n import render
from bot.messages import Incoming, Reply
from bot.ratelimit import RateLimiter
from bot.services.core import demo, identity
from bot.web.server import start_server
from db.base import utcnow
from db.migrate import upgrade
from db.models import InboundEvent, Invitation, OrgUnit, OutboxMessage, PlatformIdentity, User
from db.session import Database
from tests.conftest import IN_CI, ROOT
from tests.fakes.slack_api import FakeSlackApi
from tests.fakes.telegram_api import FakeTelegramAPI, text_update

PG_BIN = Path(os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin"))
TG_TOKEN = "123:ABC"
TG_SECRET = "faults-secret"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def count_rows(db: Database, model: type, *where) -> int:
    with db.uow() as uow:
        return uow.session.scalar(select(func.count()).select_from(model).where(*where)) or 0


# ---------------------------------------------------------------- a private PostgreSQL cluster


class Cluster:
    """A throwaway PostgreSQL server we may stop and start at will."""

    def __init__(self, base: Path, port: int):
        self.base, self.port = base, port
        self.data = base / "data"
        self.as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str) -> None:
        subprocess.run([*self.as_postgres, *args], check=True, capture_output=True, timeout=60)

    def init(self) -> None:
        self._run(str(PG_BIN / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres", "-E", "UTF8",
                  "--no-sync")

    def start(self) -> None:
        options = f"-p {self.port} -k {self.base} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=60"
        self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-o", options, "-l", str(self.base / "log"),
                  "-w", "-t", "30", "start")

    def stop(self, mode: str = "fast") -> None:
        self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    if not (PG_BIN / "initdb").exists():
        if IN_CI:
            pytest.fail(f"PostgreSQL server binaries not found in {PG_BIN} and CI=true")
        pytest.skip("PostgreSQL server binaries not installed")
    base = Path(tempfile.mkdtemp(prefix="fieldcrm-faults-"))
    os.chmod(base, 0o755)
    if os.geteuid() == 0:
        shutil.chown(base, "postgres", "postgres")
    pg = Cluster(base, free_port())
    try:
        pg.init()
        pg.start()
        upgrade(pg.url)
        yield pg
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):
            pg.stop("immediate")
        shutil.rmtree(base, ignore_errors=True)


def make_invited_users(db: Database, n: int) -> list[tuple[str, str]]:
    """n reps, half reading Chinese, each with an invitation: [(code, locale)]."""
    now = utcnow()
    with db.uow() as uow:
        demo.load_demo(uow, now)
        unit = uow.session.scalar(select(OrgUnit.id).where(OrgUnit.name == "East Team"))
        users = [User(handle=f"rep{i}", name=f"Rep {i}", unit_id=unit, locale="zh" if i % 2 else "en")
                 for i in range(n)]
        uow.session.add_all(users)
        uow.session.flush()
        codes = [(identity.create_invitation(uow, u.id, now, 14), u.locale) for u in users]
        uow.commit()
    return codes


def test_postgresql_restarted_under_load(cluster: Cluster):
    db = Database(cluster.url, pool_size=8, max_overflow=0, connect_args={"connect_timeout": 3})
    settings = load_settings(env_file=None, DATABASE_URL=cluster.url, SECRET_KEY="k")
    router = build_router(db, settings, limiter=RateLimiter(burst=0))
    codes = make_invited_users(db, 500)
    work = list(enumerate(codes))
    answers: dict[int, tuple[float, str]] = {}
    lock = threading.Lock()
    stop = threading.Event()

    def incoming(n: int, code: str, locale: str) -> Incoming:
        return Incoming(platform="telegram", workspace="1", chat_id=f"9{n}", user_id=f"9{n}", command="join",
                        args=code, event_id=f"join-{n}", language_hint=locale)

    def worker() -> None:
        while not stop.is_set():
            with lock:
                if not work:
                    return
                n, (code, locale) = work.pop(0)
            (reply,) = router.handle(incoming(n, code, locale))
            answers[n] = (time.monotonic(), reply.text)
            time.sleep(0.05)

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for thread in threads:
        thread.start()
    time.sleep(0.5)
    cluster.stop("fast")  # in-flight transactions are cut off
    time.sleep(1.0)
    cluster.start()
    back = time.monotonic()
    time.sleep(1.0)
    stop.set()
    for thread in threads:
        thread.join(timeout=60)
    try_again = {loc: render("errors/try_again", loc).text for loc in ("en", "zh")}
    retried = [n for n, (_at, text) in answers.items() if text in try_again.values()]
    assert retried, "the outage fell inside the load"
    welcome = {"en": "You are linked as", "zh": "完成绑定"}
    for n, (_at, text) in answers.items():
        locale = codes[n][1]
        assert text == try_again[locale] or welcome[locale] in text, f"#{n} ({locale}) answered {text!r}"
    after = [text for at, text in answers.values() if at > back + 0.3]
    assert len(after) > 20 and not set(after) & set(try_again.values()), "it recovered by itself"
    codes = [codes[n] for n in sorted(answers)]  # the ones sent
    assert sorted(answers) == list(range(len(codes)))
    assert_joins_whole(db, codes)
    # The platform retries the refused updates (same update id): each acts at most once more.
    for n in retried:
        replies = router.handle(incoming(n, *codes[n]))
        assert replies == [] or welcome[codes[n][1]] in replies[0].text
    assert_joins_whole(db, codes)
    assert count_rows(db, Invitation, Invitation.used_at.is_not(None)) == len(codes), "every join acted once"
    db.dispose()


def assert_joins_whole(db: Database, codes: list[tuple[str, str]]) -> None:
    """Per join: the identity, the used invitation and the event row exist together or not at all."""
    with db.uow() as uow:
        used = set(uow.session.scalars(select(Invitation.code).where(Invitation.used_at.is_not(None))))
        linked = set(uow.session.scalars(select(PlatformIdentity.platform_user_id).where(
            PlatformIdentity.platform == "telegram")))
        seen = set(uow.session.scalars(select(InboundEvent.event_id)))
    for n, (code, _locale) in enumerate(codes):
        parts = (code in used, f"9{n}" in linked, f"join-{n}" in seen)
        assert len(set(parts)) == 1, f"join #{n} half-written: used, linked, event = {parts}"


# ---------------------------------------------------------------- the dispatcher killed mid-delivery

DISPATCHER = """
import asyncio, sys, aiohttp
from bot.delivery import Dispatcher
from db.session import Database

class Loopback:
    platform = "fake"
    command_prefix = "/"
    def __init__(self, url, http):
        self.url, self.http = url, http
    async def send(self, workspace, chat_id, reply):
        async with self.http.post(self.url, json={"chat": chat_id, "text": reply.text}) as response:
            response.raise_for_status()

async def main(db_url, api_url):
    async with aiohttp.ClientSession() as http:
        db = Database(db_url)
        await Dispatcher(db, {"fake": Loopback(api_url, http)}, lease_seconds=1, batch=10,
                         poll_seconds=0.05).run_forever()

asyncio.run(main(sys.argv[1], sys.argv[2]))
"""


async def test_dispatcher_killed_mid_delivery_loses_nothing(pg_db: Database):
    total, kills = 150, 5
    with pg_db.uow() as uow:
        uow.session.add_all(OutboxMessage(platform="fake", chat_id="team-1", kind="post",
                                          payload=Reply(text=f"announcement {i}").to_json()) for i in range(total))
        uow.commit()
    received: list[str] = []

    async def post(request: web.Request) -> web.Response:
        received.append((await request.json())["text"])
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/post", post)
    runner, port = await start_server(app)
    command = [sys.executable, "-c", DISPATCHER, pg_db.url, f"http://127.0.0.1:{port}/post"]
    try:
        for _ in range(kills):
            before = len(received)
            proc = await asyncio.create_subprocess_exec(*command, cwd=ROOT)
            deadline = time.monotonic() + 20
            target = before + random.randint(4, 14)
            while len(received) < target and time.monotonic() < deadline:
                await asyncio.sleep(0.005)
            proc.send_signal(signal.SIGKILL)
            await proc.wait()
        assert len(set(received)) < total, "the kills fell in the middle of delivery"
        proc = await asyncio.create_subprocess_exec(*command, cwd=ROOT)
        deadline = time.monotonic() + 30
        while count_rows(pg_db, OutboxMessage, OutboxMessage.status == "sent") < total:
            assert time.monotonic() < deadline, "the restarted dispatcher did not finish"
            await asyncio.sleep(0.1)
        proc.terminate()
        await proc.wait()
    finally:
        await runner.cleanup()
    assert set(received) == {f"announcement {i}" for i in range(total)}, "no announcement lost"
    duplicates = len(received) - total
    assert duplicates <= kills, f"{duplicates} duplicates for {kills} kills"


# ---------------------------------------------------------------- the platform API failing


class SlowSlackApi(FakeSlackApi):
    """The fake Slack API that can also sit on a request longer than the client waits."""

    def __init__(self) -> None:
        super().__init__()
        self.delays: list[float] = []

    async def _api(self, request: web.Request) -> web.Response:
        if self.delays and request.match_info["method"] == "chat.postMessage":
            await asyncio.sleep(self.delays.pop(0))
        return await super()._api(request)


class Clock:
    """The dispatcher's clock, jumped over backoffs; starts a little ahead so fresh rows are due."""

    def __init__(self) -> None:
        from datetime import timedelta

        self.now = utcnow() + timedelta(seconds=5)

    def __call__(self):
        return self.now

    def advance(self, seconds: float) -> None:
        from datetime import timedelta

        self.now += timedelta(seconds=seconds)


def queue_post(db: Database, platform: str, chat_id: str, text: str) -> None:
    with db.uow() as uow:
        uow.session.add(OutboxMessage(platform=platform, chat_id=chat_id, payload=Reply(text=text).to_json()))
        uow.commit()


def outbox_row(db: Database) -> OutboxMessage:
    with db.uow() as uow:
        return uow.session.scalars(select(OutboxMessage)).one()


async def retried_until_delivered(db: Database, dispatcher: Dispatcher, clock: Clock) -> list[float]:
    """Run passes, jumping the clock over each backoff; returns the backoffs seen, in seconds."""
    backoffs = []
    for _ in range(6):
        await dispatcher.deliver_due()
        row = outbox_row(db)
        if row.status == "sent":
            return backoffs
        assert row.status == "pending" and row.last_error
        assert await dispatcher.deliver_due() == 0, "nothing is retried before its backoff ends"
        wait = (row.next_attempt_at - clock.now).total_seconds()
        backoffs.append(wait)
        clock.advance(wait + 0.01)
    raise AssertionError("never delivered")


async def test_slack_api_500s_timeouts_and_429s_are_retried_then_delivered(pg_db: Database):
    fake = SlowSlackApi()
    await fake.start()
    clock = Clock()
    try:
        client = AsyncWebClient(token="xoxb-test", base_url=fake.api_url, timeout=0.3)
        dispatcher = Dispatcher(pg_db, {"slack": SlackSender(Poster(client, send_budget(pg_db)), "en")}, clock=clock)
        queue_post(pg_db, "slack", "C1", "Deal won")
        fake.fail_next(2, status=500)
        fake.delays.append(1.0)  # the first answer comes too late: the post may have landed
        backoffs = await retried_until_delivered(pg_db, dispatcher, clock)
        # A post that may have landed waits out the answer window before it is tried again; the
        # 500s (which did not land) back off growing.
        assert len(backoffs) == 3 and backoffs[0] >= 60 and backoffs[1] < backoffs[2], backoffs
        row = outbox_row(pg_db)
        assert row.attempts == 4 and row.sent_at is not None
        assert "Deal won" in fake.posts("chat.postMessage")[-1].text

        with pg_db.uow() as uow:
            uow.session.query(OutboxMessage).delete()  # test scratch only
            uow.commit()
        queue_post(pg_db, "slack", "C2", "Visit verified")
        fake.fail_next(1, status=429, retry_after=1)
        started = time.monotonic()
        await dispatcher.deliver_due()
        assert time.monotonic() - started >= 0.9, "Retry-After honoured"
        assert outbox_row(pg_db).status == "sent" and outbox_row(pg_db).attempts == 1
    finally:
        await fake.stop()


async def test_telegram_api_500s_and_429s_are_retried_then_delivered(pg_db: Database):
    api = await FakeTelegramAPI(token=TG_TOKEN).start()
    settings = load_settings(env_file=None, DATABASE_URL=pg_db.url, TELEGRAM_BOT_TOKEN=TG_TOKEN,
                             TELEGRAM_API_BASE_URL=api.base_url)
    front = TelegramFrontEnd(settings, build_router(pg_db, settings), send_budget(pg_db))
    clock = Clock()
    try:
        dispatcher = Dispatcher(pg_db, {"telegram": front.sender}, clock=clock)
        queue_post(pg_db, "telegram", "-100", "Team target reached")
        api.fail_next("sendMessage", 2, status=500)
        api.fail_next("sendMessage", 1, status=429, retry_after=1)
        backoffs = await retried_until_delivered(pg_db, dispatcher, clock)
        assert len(backoffs) == 2
        assert api.texts("-100")[-1] == "Team target reached"
        assert len(api.texts("-100")) == 4  # two 500s, one 429 waited out, then delivered
    finally:
        await front.application.shutdown()
        await api.close()


# ---------------------------------------------------------------- two bot processes, one database

SCHEDULER = """
import asyncio, os, sys
from bot.config import load_settings
from bot.scheduler import Scheduler, every, scheduled
from db.session import Database

@scheduled("faults.tick", every(1))
def tick(db, slot, settings):
    with open(sys.argv[2], "a") as out:
        out.write(f"{slot.isoformat()} {os.getpid()}\\n")

async def main():
    settings = load_settings(env_file=None, DATABASE_URL=sys.argv[1])
    scheduler = Scheduler(Database(sys.argv[1]), settings, [tick.__job__])
    scheduler.start(only=["faults.tick"])
    await asyncio.sleep(float(sys.argv[3]))
    scheduler.shutdown()

asyncio.run(main())
"""


async def test_two_processes_run_each_scheduled_slot_once(pg_db: Database, tmp_path: Path):
    ran = tmp_path / "ran.txt"
    procs = [await asyncio.create_subprocess_exec(sys.executable, "-c", SCHEDULER, pg_db.url, str(ran), "4",
                                                  cwd=ROOT) for _ in range(2)]
    assert [await p.wait() for p in procs] == [0, 0]
    runs = [line.split() for line in ran.read_text().splitlines()]
    slots = [slot for slot, _pid in runs]
    assert len(slots) >= 2, runs
    assert len(slots) == len(set(slots)), f"a slot ran twice: {runs}"


@pytest.fixture
async def two_bots(pg_db: Database, tmp_path: Path) -> AsyncIterator[tuple[FakeTelegramAPI, list[str]]]:
    """Two real `fieldcrm run` processes, Telegram by webhook, on one database."""
    api = await FakeTelegramAPI(token=TG_TOKEN).start()
    ports = [free_port(), free_port()]
    procs = []
    for port in ports:
        env = {**os.environ, "DATABASE_URL": pg_db.url, "TELEGRAM_BOT_TOKEN": TG_TOKEN,
               "TELEGRAM_API_BASE_URL": api.base_url, "TELEGRAM_WEBHOOK_URL": "https://bot.example.com/telegram/webhook",
               "TELEGRAM_WEBHOOK_SECRET": TG_SECRET, "HTTP_PORT": str(port), "ADMIN_PORT": "0", "SECRET_KEY": "k", "LOG_LEVEL": "WARNING"}
        procs.append(await asyncio.create_subprocess_exec(sys.executable, "-m", "bot.cli", "run", cwd=tmp_path,
                                                          env=env))
    urls = [f"http://127.0.0.1:{port}/telegram/webhook" for port in ports]
    try:
        async with aiohttp.ClientSession() as http:
            for url in urls:  # the webhook answers 503 until the front end has started
                deadline = time.monotonic() + 30
                while True:
                    try:
                        async with http.post(url, json={"update_id": 1},
                                             headers={"X-Telegram-Bot-Api-Secret-Token": TG_SECRET}) as r:
                            if r.status == 200:
                                break
                    except aiohttp.ClientConnectionError:
                        pass
                    assert time.monotonic() < deadline, "bot process did not start"
                    await asyncio.sleep(0.2)
        yield api, urls
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                await asyncio.wait_for(proc.wait(), 15)
            except TimeoutError:
                proc.kill()
        await api.close()


async def test_each_inbound_event_acts_once_whichever_process_receives_it(pg_db: Database, two_bots):
    api, urls = two_bots
    codes = make_invited_users(pg_db, 6)
    updates = [text_update(f"/join {code}", chat_id=800 + n, user_id=800 + n, language_code=locale)
               for n, (code, locale) in enumerate(codes)]
    updates += [text_update("/whoami", chat_id=800 + n, user_id=800 + n) for n in range(6)]
    before = len(api.texts())
    async with aiohttp.ClientSession() as http:
        async def deliver(update: dict, url: str) -> int:
            async with http.post(url, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": TG_SECRET}) as r:
                return r.status

        for batch in (updates[:6], updates[6:]):  # joins first, then each joined user asks who he is
            # Telegram retried each update, and the load balancer sent the copies to both processes.
            statuses = await asyncio.gather(*(deliver(u, url) for u in batch for url in urls))
            assert set(statuses) == {200}
    await asyncio.sleep(0.3)
    sent = api.called("sendMessage")[before:]
    assert sorted(int(p["chat_id"]) for p in sent) == sorted([800 + n for n in range(6)] * 2), \
        "one answer per update, whichever process took it"
    assert count_rows(pg_db, PlatformIdentity, PlatformIdentity.platform == "telegram") == 6
    assert count_rows(pg_db, Invitation, Invitation.used_at.is_not(None)) == 6
