"""A PostgreSQL that accepts connections and never answers (db.watchdog): the user is told to try
again within the command timeout, /healthz still answers, nothing is half-written, and the process
goes on by itself once the database answers again.

The hang is a TCP proxy on loopback in front of the test server, switched to forward nothing while
it keeps every connection open and accepts new ones: what a stopped server or a stalled disk looks
like from the client, whose kernel still acknowledges every packet.
"""
import asyncio
import contextlib
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from bot.bootstrap import build_router
from bot.config import load_settings
from bot.i18n import render
from bot.messages import Incoming
from bot.ratelimit import RateLimiter
from bot.scheduler import ScheduledJob, Scheduler, every
from db.models import InboundEvent, Invitation, PlatformIdentity
from db.session import Database
from db.watchdog import NoAnswer, Timeouts
from tests.fakes.telegram_api import FakeTelegramAPI, text_update
from tests.ops.test_faults import TG_SECRET, TG_TOKEN, count_rows, free_port, make_invited_users

pytestmark = [pytest.mark.pg_only, pytest.mark.serial]  # cuts at deadlines

TRY_AGAIN = {locale: render("errors/try_again", locale).text for locale in ("en", "zh")}
WELCOME = {"en": "You are linked as", "zh": "完成绑定"}


class HangingProxy:
    """Forwards loopback TCP to PostgreSQL; hang() stops forwarding anything, resume() goes on."""

    def __init__(self, upstream_port: int):
        self.upstream_port = upstream_port
        self.flowing = asyncio.Event()
        self.flowing.set()
        self.tasks: set[asyncio.Task] = set()
        self.port = 0

    async def start(self) -> "HangingProxy":
        self.server = await asyncio.start_server(self._client, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    def url(self, pg_url: str) -> str:
        return make_url(pg_url).set(host="127.0.0.1", port=self.port).render_as_string(hide_password=False)

    def hang(self) -> None:
        self.flowing.clear()

    def resume(self) -> None:
        self.flowing.set()

    async def close(self) -> None:
        self.server.close()
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.tasks.add(asyncio.current_task())  # type: ignore[arg-type]
        try:
            await self.flowing.wait()  # accepted, but no server behind it while hung
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
            await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))
        except (OSError, asyncio.CancelledError):
            writer.close()

    async def _pipe(self, source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        try:
            while data := await source.read(65536):
                await self.flowing.wait()  # held, then forwarded in order (a stopped server resumed)
                sink.write(data)
                await sink.drain()
        finally:
            sink.close()


@pytest.fixture
async def proxy(pg_url: str) -> AsyncIterator[HangingProxy]:
    hanging = await HangingProxy(make_url(pg_url).port or 5432).start()
    yield hanging
    await hanging.close()


def settings_seen(db: Database) -> dict[str, str]:
    names = ("statement_timeout", "lock_timeout", "idle_in_transaction_session_timeout", "jit")
    with db.engine.connect() as conn:
        return {name: conn.execute(text(f"SHOW {name}")).scalar_one() for name in names}


def test_make_engine_sets_the_timeouts(pg_url: str):
    db = Database(pg_url, Timeouts(connect=3, statement=7, lock=4, idle_in_transaction=30, command=9, pool=6))
    try:
        assert settings_seen(db) == {"statement_timeout": "7s", "lock_timeout": "4s",
                                     "idle_in_transaction_session_timeout": "30s", "jit": "off"}
        assert db.engine.pool.timeout() == 6
        with db.engine.connect() as conn:
            raw = conn.connection.dbapi_connection
            assert raw.info.get_parameters()["connect_timeout"] == "3"
            with socket.socket(fileno=os.dup(raw.fileno())) as sock:  # what the kernel was told
                assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT) == 9000
                assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) == 1
    finally:
        db.dispose()
    assert load_settings(env_file=None).database_timeouts() == Timeouts()


def test_a_slow_statement_is_cancelled_by_the_server_and_the_connection_kept(pg_url: str):
    db = Database(pg_url, Timeouts(statement=0.5, command=5))
    try:
        with db.engine.connect() as conn:
            pid = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
        started = time.monotonic()
        with pytest.raises(OperationalError, match="statement timeout"), db.deadline(), db.uow() as uow:
            uow.session.execute(text("SELECT pg_sleep(3)"))
        assert time.monotonic() - started < 1.5
        with db.engine.connect() as conn:
            assert conn.execute(text("SELECT pg_backend_pid()")).scalar_one() == pid, "not cut, not reopened"
    finally:
        db.dispose()


def timed_select(db: Database, seconds: float | None) -> tuple[float, BaseException | None]:
    started = time.monotonic()
    try:
        with contextlib.ExitStack() as stack:
            if seconds is not None:
                stack.enter_context(db.deadline(seconds))
            with db.uow() as uow:
                uow.session.execute(text("SELECT 1"))
        return time.monotonic() - started, None
    except OperationalError as exc:
        return time.monotonic() - started, exc


def two_pooled(db: Database) -> None:
    with db.engine.connect() as one, db.engine.connect() as two:
        assert one.execute(text("SELECT 1")).scalar() == two.execute(text("SELECT 1")).scalar() == 1


def second_select_timed(db: Database, first_done: threading.Event, go: threading.Event) -> tuple[float, object]:
    """Background work (no deadline block): one transaction, its second request sent into the hang."""
    with db.uow() as uow:
        uow.session.execute(text("SELECT 1"))
        first_done.set()
        go.wait()
        started = time.monotonic()
        try:
            uow.session.execute(text("SELECT 1"))
        except OperationalError as exc:
            return time.monotonic() - started, exc
    return time.monotonic() - started, None


async def test_a_hung_database_is_cut_at_the_deadline_and_comes_back(proxy: HangingProxy, pg_url: str):
    db = Database(proxy.url(pg_url), Timeouts(connect=2, command=2.5))
    try:
        await asyncio.to_thread(two_pooled, db)
        first_done, go = threading.Event(), threading.Event()
        background = asyncio.ensure_future(asyncio.to_thread(second_select_timed, db, first_done, go))
        await asyncio.to_thread(first_done.wait)
        proxy.hang()
        go.set()
        took, error = await asyncio.to_thread(timed_select, db, 1.0)  # a command's deadline: 1 s
        assert isinstance(error, OperationalError) and isinstance(error.orig, NoAnswer), error
        assert 0.9 < took < 1.6, took
        took, error = await background  # each request of background work: the command timeout
        assert isinstance(error, OperationalError) and isinstance(error.orig, NoAnswer), error
        assert 2.4 < took < 2.5 + 0.6, took
        proxy.resume()
        took, error = await asyncio.to_thread(timed_select, db, 1.0)
        assert error is None and took < 0.5, (took, error)
    finally:
        db.dispose()


# ---------------------------------------------------------------- many joins, the database hung among them


def join(n: int, code: str, locale: str) -> Incoming:
    return Incoming(platform="telegram", workspace="1", chat_id=f"7{n}", user_id=f"7{n}", command="join",
                    args=code, event_id=f"hang-join-{n}", language_hint=locale)


def assert_whole(db: Database, codes: list[tuple[str, str]]) -> None:
    """Per join: the used invitation, the identity and the event row exist together or not at all."""
    with db.uow() as uow:
        used = set(uow.session.scalars(select(Invitation.code).where(Invitation.used_at.is_not(None))))
        linked = set(uow.session.scalars(select(PlatformIdentity.platform_user_id)))
        seen = set(uow.session.scalars(select(InboundEvent.event_id)))
    for n, (code, _locale) in enumerate(codes):
        parts = (code in used, f"7{n}" in linked, f"hang-join-{n}" in seen)
        assert len(set(parts)) == 1, f"join #{n} half-written: used, linked, event = {parts}"


@pytest.mark.slow
async def test_joins_while_the_database_hangs_are_whole_or_absent(proxy: HangingProxy, pg_db: Database):
    deadline = 1.5
    db = Database(proxy.url(pg_db.url), Timeouts(connect=2, command=deadline))
    settings = load_settings(env_file=None, DATABASE_URL=db.url, SECRET_KEY="k", DATABASE_COMMAND_TIMEOUT=deadline)
    router = build_router(db, settings, limiter=RateLimiter(burst=0))
    codes = make_invited_users(pg_db, 240)
    answers: dict[int, tuple[float, float, str]] = {}
    queue = list(enumerate(codes))

    async def worker() -> None:
        while queue:
            n, (code, locale) = queue.pop(0)
            started = time.monotonic()
            (reply,) = await router.handle_async(join(n, code, locale))
            answers[n] = (started, time.monotonic(), reply.text)
            await asyncio.sleep(0.02)

    workers = [asyncio.create_task(worker()) for _ in range(6)]
    await asyncio.sleep(0.4)
    proxy.hang()  # whatever is on the wire stays there: statements, commits, new connections
    await asyncio.sleep(2.5)
    proxy.resume()
    back = time.monotonic()
    await asyncio.gather(*workers)
    refused = {n for n, (_s, _e, said) in answers.items() if said in TRY_AGAIN.values()}
    assert refused, "the hang fell inside the load"
    for n, (started, ended, said) in answers.items():
        locale = codes[n][1]
        assert said == TRY_AGAIN[locale] or WELCOME[locale] in said, f"#{n} ({locale}) answered {said!r}"
        assert ended - started < deadline + 2.5, f"#{n} waited {ended - started:.1f} s"  # + a connect
    after = [said for started, _e, said in answers.values() if started > back + 0.5]
    assert len(after) > 20 and not set(after) & set(TRY_AGAIN.values()), "it came back by itself"
    await asyncio.sleep(0.5)  # the cut connections' backends read their end of file
    assert_whole(pg_db, codes)
    for n in sorted(refused):  # the platform sends a refused update again: it acts at most once
        (reply,) = await router.handle_async(join(n, *codes[n])) or [None]
        assert reply is None or WELCOME[codes[n][1]] in reply.text
    assert_whole(pg_db, codes)
    assert count_rows(pg_db, Invitation, Invitation.used_at.is_not(None)) == len(codes)
    await router.aclose()
    db.dispose()


# ---------------------------------------------------------------- a real `fieldcrm run`, the database hung


@pytest.fixture
async def bot_behind_proxy(proxy: HangingProxy, pg_db: Database, tmp_path: Path):
    """`fieldcrm run`, Telegram by webhook, its database reached through the proxy."""
    api = await FakeTelegramAPI(token=TG_TOKEN).start()
    port, admin_port = free_port(), free_port()
    env = {**os.environ, "DATABASE_URL": proxy.url(pg_db.url), "TELEGRAM_BOT_TOKEN": TG_TOKEN,
           "TELEGRAM_API_BASE_URL": api.base_url, "TELEGRAM_WEBHOOK_URL": "https://bot.example.com/telegram/webhook",
           "TELEGRAM_WEBHOOK_SECRET": TG_SECRET, "HTTP_PORT": str(port), "ADMIN_PORT": str(admin_port),
           "SECRET_KEY": "k", "LOG_LEVEL": "WARNING", "DATABASE_COMMAND_TIMEOUT": "3", "DATABASE_CONNECT_TIMEOUT": "2"}
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "bot.cli", "run", cwd=tmp_path, env=env)
    webhook = f"http://127.0.0.1:{port}/telegram/webhook"
    try:
        async with aiohttp.ClientSession() as http:
            deadline = time.monotonic() + 30
            while await post_update(http, webhook, {"update_id": 1}) != 200:
                assert time.monotonic() < deadline, "bot process did not start"
                await asyncio.sleep(0.2)
            yield api, http, webhook, f"http://127.0.0.1:{admin_port}/healthz"
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(proc.wait(), 15)
        except TimeoutError:
            proc.kill()
        await api.close()


async def post_update(http: aiohttp.ClientSession, url: str, update: dict) -> int:
    try:
        async with http.post(url, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": TG_SECRET}) as r:
            return r.status
    except aiohttp.ClientConnectionError:
        return 0


async def said(api: FakeTelegramAPI, http: aiohttp.ClientSession, webhook: str, chat: int, line: str,
               locale: str) -> tuple[float, str]:
    """Seconds until the answer reached the platform, and its text."""
    before = len(api.texts(chat))
    started = time.monotonic()
    call = asyncio.ensure_future(post_update(http, webhook, text_update(line, chat_id=chat, user_id=chat,
                                                                        language_code=locale)))
    while len(api.texts(chat)) == before and not call.done():
        await asyncio.sleep(0.01)
    took = time.monotonic() - started
    assert await call == 200 and len(api.texts(chat)) > before
    return took, api.texts(chat)[-1]


async def healthz(http: aiohttp.ClientSession, url: str) -> tuple[float, int, dict]:
    started = time.monotonic()
    async with http.get(url) as response:
        return time.monotonic() - started, response.status, await response.json()


@pytest.mark.slow
async def test_fieldcrm_run_says_try_again_while_the_database_hangs(proxy: HangingProxy, pg_db: Database,
                                                                    bot_behind_proxy):
    api, http, webhook, health_url = bot_behind_proxy
    (en_code, _), (zh_code, _), (late_code, _) = make_invited_users(pg_db, 3)
    assert WELCOME["en"] in (await said(api, http, webhook, 9100, f"/join {en_code}", "en"))[1]
    assert WELCOME["zh"] in (await said(api, http, webhook, 9101, f"/join {zh_code}", "zh"))[1]
    assert (await healthz(http, health_url))[1] == 200

    proxy.hang()
    answers = await asyncio.gather(
        said(api, http, webhook, 9100, "/whoami", "en"),
        said(api, http, webhook, 9101, "/whoami", "zh"),
        said(api, http, webhook, 9102, f"/join {late_code}", "en"),  # a third: queued behind two threads
        healthz(http, health_url),
    )
    *commands, (health_took, status, report) = answers
    assert [text for _took, text in commands] == [TRY_AGAIN["en"], TRY_AGAIN["zh"], TRY_AGAIN["en"]]
    # DATABASE_COMMAND_TIMEOUT=3; the third waited for a thread, then libpq's shortest connect (2 s)
    assert max(took for took, _text in commands) < 3 + 2 + 0.5, commands
    assert status == 503 and report["database"].startswith("unreachable"), report
    assert health_took < 2 + 1.0, health_took  # DATABASE_CONNECT_TIMEOUT=2
    assert count_rows(pg_db, Invitation, Invitation.code == late_code, Invitation.used_at.is_not(None)) == 0
    assert count_rows(pg_db, PlatformIdentity, PlatformIdentity.platform_user_id == "9102") == 0

    proxy.resume()
    took, answer = await said(api, http, webhook, 9102, f"/join {late_code}", "en")
    assert WELCOME["en"] in answer and took < 1.5, (took, answer)
    assert (await said(api, http, webhook, 9101, "/whoami", "zh"))[1] not in TRY_AGAIN.values()
    assert (await healthz(http, health_url))[1] == 200
    with pg_db.uow() as uow:
        linked = uow.session.scalar(select(func.count()).select_from(PlatformIdentity)
                                    .where(PlatformIdentity.platform == "telegram"))
    assert linked == 3 and count_rows(pg_db, Invitation, Invitation.used_at.is_not(None)) == 3


async def test_a_scheduled_firing_on_a_hung_database_ends_with_one_line(proxy: HangingProxy, pg_db: Database,
                                                                         caplog: pytest.LogCaptureFixture):
    db = Database(proxy.url(pg_db.url), Timeouts(connect=2, command=1))
    ran: list[datetime] = []
    job = ScheduledJob("hang.tick", every(60), lambda _db, slot, _settings: ran.append(slot))
    scheduler = Scheduler(db, load_settings(env_file=None, DATABASE_URL=db.url), [job])
    scheduler.add(job)
    fire = scheduler.scheduler.get_job("hang.tick").func
    try:
        await fire()
        assert len(ran) == 1
        proxy.hang()
        started = time.monotonic()
        await fire()  # APScheduler runs one firing at a time per job: a stuck one would stop it for good
        assert time.monotonic() - started < 1 + 2 + 0.6, "the ping cut, then one connect tried"
        lines = [r for r in caplog.records if "hang.tick" in r.getMessage()]
        assert [(r.levelname, r.exc_info) for r in lines] == [("WARNING", None)], lines
        assert len(ran) == 1
    finally:
        proxy.resume()
        db.dispose()
