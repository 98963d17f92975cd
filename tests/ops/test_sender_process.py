"""The sender child (bot.sender_process): a real `fieldcrm run` on PostgreSQL with Telegram (its
fake Bot API), whose outbox posts leave from a child process at a lower CPU priority, started again
when it dies, gone when its parent is; and the settings and command that choose where posts leave.
"""
import asyncio
import os
import signal
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import aiohttp
import pytest
import pytest_asyncio
from sqlalchemy import insert

from bot.bootstrap import open_database
from bot.cli import main
from bot.config import SettingsError, load_settings
from bot.messages import Reply
from db.migrate import upgrade
from db.models import OutboxMessage
from tests.conftest import empty_pg_database
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.ops.cluster import TG_TOKEN, TG_WORKSPACE, Cluster, Instance
from tests.ops.nginx_harness import free_port

DELIVERED = "fieldcrm_outbox_delivered_total"
SENDING = "fieldcrm_outbox_sending"


@pytest_asyncio.fixture
async def bot(tmp_path: Path) -> AsyncIterator[Cluster]:
    """One `fieldcrm run`, as its systemd unit starts it, up with its sender."""
    with empty_pg_database("sender") as url:
        upgrade(url)
        fake = await FakeTelegramAPI(token=TG_TOKEN).start()
        cluster = Cluster(url, tmp_path, fake, slack=None)
        cluster.instances = [Instance(free_port(), free_port(), tmp_path / "fieldcrm.log")]
        try:
            await cluster.start(0)
            await cluster.until_sending(1)
            yield cluster
        finally:
            await cluster.stop()
            await fake.close()


def queue(cluster: Cluster, chat: str, text: str) -> None:
    db = open_database(cluster.db_url)
    try:
        with db.uow() as uow:
            uow.session.execute(insert(OutboxMessage), [{
                "platform": "telegram", "workspace": TG_WORKSPACE, "chat_id": chat, "kind": "win",
                "payload": Reply(text=text).to_json(), "status": "pending"}])
            uow.commit()
    finally:
        db.dispose()


def children(pid: int) -> list[int]:
    """The sender children of process `pid`."""
    found = []
    for entry in os.listdir("/proc"):
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            command = Path(f"/proc/{entry}/cmdline").read_bytes()
        except (OSError, ValueError):
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid and b"send\0--child" in command:
            found.append(int(entry))
    return found


def niceness(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[16])


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


async def until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, what
        await asyncio.sleep(0.1)


def arrived(cluster: Cluster, chat: str, text: str) -> bool:
    return any(p.chat_id == chat and p.text == text for p in cluster.telegram.log.posts)


async def delivered(cluster: Cluster, expected: float, instance: int = 0) -> float:
    """The delivered counter once it reaches `expected` (the post lands a moment before it is counted)."""
    deadline = time.monotonic() + 5
    while (count := await cluster.metric(instance, DELIVERED)) < expected and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    return count


async def healthz(cluster: Cluster) -> dict:
    url = f"http://127.0.0.1:{cluster.instances[0].admin_port}/healthz"
    async with aiohttp.ClientSession() as http, http.get(url) as response:
        assert response.status == 200
        return await response.json()


@pytest.mark.pg_only
async def test_posts_leave_from_a_child_at_a_lower_priority_and_count_in_the_parents_metrics(bot: Cluster):
    parent = bot.instances[0].proc.pid  # type: ignore[union-attr]
    [child] = children(parent)
    assert niceness(parent) == 0 and niceness(child) == 10  # SENDER_NICE's default

    queue(bot, "-1001", "Gong: Acme signed")
    await until(lambda: arrived(bot, "-1001", "Gong: Acme signed"), 10, "the post did not arrive")
    assert await delivered(bot, 1) == 1  # counted in the child, shown by the parent
    assert await bot.metric(0, SENDING) == 1  # the one sender on this database
    assert (await healthz(bot))["outbox_sender"] == "child running"


@pytest.mark.pg_only
async def test_a_sender_child_that_dies_is_started_again_and_its_count_kept(bot: Cluster):
    parent = bot.instances[0].proc.pid  # type: ignore[union-attr]
    queue(bot, "-1001", "before")
    await until(lambda: arrived(bot, "-1001", "before"), 10, "the first post did not arrive")
    assert await delivered(bot, 1) == 1  # counted before the kill, so the count must outlive the child
    [child] = children(parent)
    os.kill(child, signal.SIGKILL)
    await until(lambda: [c for c in children(parent) if c != child and alive(c)] != [], 10, "no new child")
    await bot.until_sending(1)

    queue(bot, "-1002", "after")
    await until(lambda: arrived(bot, "-1002", "after"), 10, "the post after the crash did not arrive")
    assert await delivered(bot, 2) == 2
    assert (await healthz(bot))["outbox_sender"] == "child running"
    assert "outbox sender child exited" in bot.instances[0].log.read_text()


@pytest.mark.pg_only
async def test_a_sender_child_leaves_when_its_parent_is_killed(bot: Cluster):
    proc = bot.instances[0].proc
    assert proc is not None
    [child] = children(proc.pid)
    proc.send_signal(signal.SIGKILL)  # the parent alone: nobody closes the child's pipe but the kernel
    await proc.wait()
    await until(lambda: not alive(child), 10, "the child outlived its parent")


@pytest.mark.pg_only
async def test_a_stopped_process_stops_its_child_and_both_exit_cleanly(bot: Cluster):
    proc = bot.instances[0].proc
    assert proc is not None
    [child] = children(proc.pid)
    proc.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(proc.wait(), 20) == 0
    assert not alive(child)


@pytest.mark.pg_only
@pytest.mark.serial
async def test_of_two_processes_one_sends_and_the_other_takes_over_when_it_dies(tmp_path: Path):
    with empty_pg_database("sender_two") as url:
        upgrade(url)
        fake = await FakeTelegramAPI(token=TG_TOKEN).start()
        cluster = Cluster(url, tmp_path, fake, slack=None)
        cluster.instances = [Instance(free_port(), free_port(), tmp_path / f"fieldcrm-{n}.log") for n in range(2)]
        try:
            await asyncio.gather(cluster.start(0), cluster.start(1))
            await cluster.until_sending(2)
            queue(cluster, "-1001", "first")
            await until(lambda: arrived(cluster, "-1001", "first"), 10, "the first post did not arrive")
            sending = [await cluster.metric(i, SENDING) for i in range(2)]
            assert sorted(sending) == [0, 1]  # one sends, one stands by
            sender, standby = sending.index(1), sending.index(0)
            assert await delivered(cluster, 1, sender) == 1  # marked sent, so nobody sends it again

            cluster.kill(sender)  # the process and its child
            await cluster.reap(sender)
            queue(cluster, "-1002", "after the sender died")
            queued = time.monotonic()
            await until(lambda: arrived(cluster, "-1002", "after the sender died"), 10, "nobody took over")
            assert time.monotonic() - queued < 3  # the next ask (1 s) after PostgreSQL ended the session
            assert await cluster.metric(standby, SENDING) == 1
            assert await delivered(cluster, 1, standby) == 1
        finally:
            await cluster.stop()
            await fake.close()


@pytest.mark.pg_only
async def test_with_outbox_sender_none_a_fieldcrm_send_process_sends(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("OUTBOX_SENDER", "none")
    with empty_pg_database("sender_none") as url:
        upgrade(url)
        fake = await FakeTelegramAPI(token=TG_TOKEN).start()
        cluster = Cluster(url, tmp_path, fake, slack=None)
        cluster.instances = [Instance(free_port(), free_port(), tmp_path / "fieldcrm.log")]
        sender = None
        try:
            await cluster.start(0)
            assert children(cluster.instances[0].proc.pid) == []  # type: ignore[union-attr]
            queue(cluster, "-1001", "waiting")
            await asyncio.sleep(2)
            assert not arrived(cluster, "-1001", "waiting")  # nobody sends yet
            assert (await healthz(cluster))["outbox_sender"] == "none"

            sender = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot.cli", "send", cwd=tmp_path, env=cluster.env(cluster.instances[0]))
            await until(lambda: arrived(cluster, "-1001", "waiting"), 20, "fieldcrm send did not send")
            sender.send_signal(signal.SIGTERM)
            assert await asyncio.wait_for(sender.wait(), 20) == 0
        finally:
            if sender is not None and sender.returncode is None:
                sender.kill()
                await sender.wait()
            await cluster.stop()
            await fake.close()


@pytest.mark.parametrize("locale, words", [("en", "needs PostgreSQL"), ("zh", "需要 PostgreSQL")])
def test_fieldcrm_send_refuses_sqlite_in_the_admins_language(tmp_path, monkeypatch, capsys, locale, words):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path}/one.sqlite3")
    monkeypatch.setenv("DEFAULT_LOCALE", locale)
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TG_TOKEN)
    assert main(["send"]) == 2
    assert words in capsys.readouterr().err


def test_a_sender_child_on_sqlite_is_refused_and_sqlite_sends_inline(tmp_path):
    sqlite = f"sqlite:///{tmp_path}/one.sqlite3"
    with pytest.raises(SettingsError, match="OUTBOX_SENDER is invalid: child needs PostgreSQL"):
        load_settings(env_file=None, DATABASE_URL=sqlite, OUTBOX_SENDER="child")
    with pytest.raises(SettingsError, match="SENDER_NICE is invalid"):
        load_settings(env_file=None, DATABASE_URL=sqlite, SENDER_NICE=25)
    assert load_settings(env_file=None, DATABASE_URL=sqlite, TELEGRAM_BOT_TOKEN=TG_TOKEN).outbox_sender == "inline"
    postgres = "postgresql://u@127.0.0.1/x"
    assert load_settings(env_file=None, DATABASE_URL=postgres, TELEGRAM_BOT_TOKEN=TG_TOKEN).outbox_sender == "child"
    assert load_settings(env_file=None, DATABASE_URL=postgres).outbox_sender == "inline"  # the console


async def test_a_sender_child_still_waiting_for_the_database_leaves_when_its_pipe_closes(tmp_path: Path):
    # Its parent gone while the database does not answer yet: the child must not wait on, alone.
    env = {**os.environ, "DATABASE_URL": f"postgresql://postgres@127.0.0.1:{free_port()}/nowhere",
           "TELEGRAM_BOT_TOKEN": TG_TOKEN, "LOG_LEVEL": "WARNING"}
    child = await asyncio.create_subprocess_exec(sys.executable, "-m", "bot.cli", "send", "--child", cwd=tmp_path,
                                                 env=env, stdin=asyncio.subprocess.PIPE,
                                                 stderr=asyncio.subprocess.PIPE)
    try:
        line = await asyncio.wait_for(child.stderr.readline(), 20)  # type: ignore[union-attr]
        assert b"unreachable" in line  # it waits for the database, one line per try
        assert niceness(child.pid) == 10
        child.stdin.close()  # type: ignore[union-attr]
        await asyncio.wait_for(child.wait(), 5)
    finally:
        if child.returncode is None:
            child.kill()
            await child.wait()
