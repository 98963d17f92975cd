"""The reference deployment on one machine: N real `fieldcrm run` processes on one PostgreSQL
database behind nginx running deploy/nginx/fieldcrm.conf, Telegram by webhook and Slack in HTTP
mode, each answered by its fake (optionally enforcing the platforms' rate limits).

`Platforms` posts to nginx as Slack and Telegram do: signed Slack requests, Telegram updates with
the secret token; on a 5xx or a broken connection it sends the same request again later, as they
do. `Cluster.kill(i)` SIGKILLs a process and its sender child (bot.sender_process), `start(i)` brings
it back on the same ports (what systemd's Restart=always does).
"""
import asyncio
import contextlib
import hashlib
import hmac
import io
import json
import os
import signal
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

import aiohttp
import psycopg
import pytest

from bot.adapters.telegram.inbound import bot_id
from bot.cli import main
from tests.fakes.slack_api import TEAM_ID, FakeSlackApi
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.ops.nginx_harness import Nginx, free_port, running_nginx, wait_listening

TG_TOKEN = "123:ABC"
TG_SECRET = "cluster-webhook-secret"
SLACK_SECRET = "cluster-signing-secret"
TG_WORKSPACE = bot_id(TG_TOKEN)


@dataclass
class Instance:
    """One `fieldcrm run`: what a systemd instance fieldcrm@PORT is."""

    http_port: int
    admin_port: int
    log: Path
    proc: asyncio.subprocess.Process | None = None

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.returncode is None


@dataclass
class Cluster:
    db_url: str
    workdir: Path
    telegram: FakeTelegramAPI
    slack: FakeSlackApi | None  # None: Telegram alone
    instances: list[Instance] = field(default_factory=list)
    nginx: Nginx | None = None

    def env(self, instance: Instance) -> dict[str, str]:
        return {
            **os.environ, "DATABASE_URL": self.db_url, "SECRET_KEY": "cluster-key", "LOG_LEVEL": "WARNING",
            "HTTP_HOST": "127.0.0.1", "HTTP_PORT": str(instance.http_port),
            "ADMIN_HOST": "127.0.0.1", "ADMIN_PORT": str(instance.admin_port),
            "TELEGRAM_BOT_TOKEN": TG_TOKEN, "TELEGRAM_API_BASE_URL": self.telegram.base_url,
            "TELEGRAM_WEBHOOK_URL": "https://bot.example.com/telegram/webhook", "TELEGRAM_WEBHOOK_SECRET": TG_SECRET,
            "PUBLIC_BASE_URL": "https://bot.example.com", "RATE_LIMIT_BURST": "0",
            **({"SLACK_BOT_TOKEN": "xoxb-cluster", "SLACK_SIGNING_SECRET": SLACK_SECRET,
                "SLACK_API_URL": self.slack.api_url} if self.slack is not None else {}),
        }

    async def start(self, i: int) -> None:
        """Start instance i (again) and wait until its front ends answer."""
        instance = self.instances[i]
        with instance.log.open("ab") as log:
            instance.proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot.cli", "run", cwd=self.workdir, env=self.env(instance),
                stdout=log, stderr=log, start_new_session=True)  # its own process group, with its sender child
        await self.until_ready(instance)

    async def until_ready(self, instance: Instance, timeout: float = 40.0) -> None:
        """The Telegram webhook answers 503 until the front ends have started, then 200."""
        await wait_listening(instance.http_port, f"fieldcrm on {instance.http_port}", timeout)
        deadline = time.monotonic() + timeout
        url = f"http://127.0.0.1:{instance.http_port}/telegram/webhook"
        async with aiohttp.ClientSession() as http:
            while True:
                assert instance.running, f"fieldcrm on {instance.http_port} exited: {instance.log.read_text()[-2000:]}"
                with contextlib.suppress(aiohttp.ClientError):
                    async with http.post(url, json={"update_id": 1}, headers={"X-Telegram-Bot-Api-Secret-Token": TG_SECRET}) as r:
                        if r.status == 200:
                            return
                assert time.monotonic() < deadline, f"fieldcrm on {instance.http_port} did not start"
                await asyncio.sleep(0.1)

    async def until_sending(self, count: int, timeout: float = 40.0) -> None:
        """Until `count` outbox dispatchers listen for new posts on the database: each process's
        sender child has started (the front ends answer before it has)."""
        deadline = time.monotonic() + timeout
        while (listening := await asyncio.to_thread(self._listening)) < count:
            assert time.monotonic() < deadline, f"{listening} of {count} outbox senders started"
            await asyncio.sleep(0.1)

    def _listening(self) -> int:
        with psycopg.connect(self.db_url.replace("+psycopg", ""), autocommit=True) as conn:
            return conn.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                                " AND query = 'LISTEN \"outbox\"'").fetchone()[0]

    def kill(self, i: int) -> None:
        """SIGKILL the process and its sender child at once (a crash, the machine's or the unit's)."""
        proc = self.instances[i].proc
        assert proc is not None
        os.killpg(proc.pid, signal.SIGKILL)

    async def reap(self, i: int) -> None:
        proc = self.instances[i].proc
        if proc is not None:
            await proc.wait()

    async def stop(self) -> None:
        for instance in self.instances:
            if instance.running:
                instance.proc.send_signal(signal.SIGTERM)  # type: ignore[union-attr]
        for instance in self.instances:
            if instance.proc is None:
                continue
            try:
                await asyncio.wait_for(instance.proc.wait(), 20)
            except TimeoutError:
                instance.proc.kill()
                await instance.proc.wait()

    async def metric(self, i: int, name: str) -> float:
        """The sum of a counter's samples on instance i's admin listener."""
        url = f"http://127.0.0.1:{self.instances[i].admin_port}/metrics"
        async with aiohttp.ClientSession() as http, http.get(url) as r:
            body = await r.text()
        return sum(float(line.rsplit(" ", 1)[1]) for line in body.splitlines()
                   if line.startswith(name) and not line.startswith("#"))

    def fieldcrm(self, *argv: str) -> str:
        """The `fieldcrm` program (bot.cli.main, in this process) on the cluster's database, as an
        admin runs it; its output."""
        out, err = io.StringIO(), io.StringIO()
        with pytest.MonkeyPatch.context() as patch, contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            patch.setenv("DATABASE_URL", self.db_url)
            patch.setenv("SECRET_KEY", "cluster-key")
            patch.chdir(self.workdir)
            code = main(list(argv))
        assert code == 0, f"fieldcrm {' '.join(argv)}: {err.getvalue()}"
        return out.getvalue()


@contextlib.asynccontextmanager
async def running_cluster(db_url: str, workdir: Path, processes: int = 3, limits: bool = False
                          ) -> AsyncIterator[Cluster]:
    """The processes on a migrated database at `db_url`, nginx in front of them."""
    telegram = await FakeTelegramAPI(token=TG_TOKEN, limits=limits).start()
    slack = await FakeSlackApi(limits=limits).start()
    cluster = Cluster(db_url, workdir, telegram, slack)
    cluster.instances = [Instance(free_port(), free_port(), workdir / f"fieldcrm-{n}.log") for n in range(processes)]
    try:
        await asyncio.gather(*(cluster.start(i) for i in range(processes)))
        await cluster.until_sending(processes)
        async with running_nginx([i.http_port for i in cluster.instances]) as nginx:
            cluster.nginx = nginx
            yield cluster
    finally:
        await cluster.stop()
        await slack.stop()
        await telegram.close()


# ---------------------------------------------------------------- the platforms' side


def slack_signed(body: str, secret: str = SLACK_SECRET, ts: int | None = None) -> dict[str, str]:
    ts = int(time.time()) if ts is None else ts
    digest = hmac.new(secret.encode(), f"v0:{ts}:{body}".encode(), hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": str(ts), "X-Slack-Signature": f"v0={digest}"}


@dataclass
class Platforms:
    """Slack and Telegram calling the public URL (nginx). A 5xx or a cut connection is sent again
    after `retry_s`, doubling up to 5 s (as the platforms back off), up to `tries` times; `failed`
    counts the requests that needed it."""

    base: str
    slack: FakeSlackApi
    http: aiohttp.ClientSession
    retry_s: float = 0.5
    tries: int = 8
    failed: int = 0

    async def post(self, path: str, body: bytes, headers: dict[str, str]) -> int:
        status = 0
        for attempt in range(self.tries):
            try:
                async with self.http.post(self.base + path, data=body, headers=headers, ssl=False) as r:
                    await r.read()
                    status = r.status
            except aiohttp.ClientError:
                status = 599
            if status < 500:
                return status
            self.failed += attempt == 0
            await asyncio.sleep(min(self.retry_s * 2 ** attempt, max(self.retry_s, 5.0)))
        return status

    async def update(self, update: dict, secret: str = TG_SECRET) -> int:
        headers = {"X-Telegram-Bot-Api-Secret-Token": secret, "Content-Type": "application/json"}
        return await self.post("/telegram/webhook", json.dumps(update).encode(), headers)

    async def slack_post(self, body: str, content_type: str, secret: str = SLACK_SECRET) -> int:
        return await self.post("/slack/events", body.encode(), {**slack_signed(body, secret), "Content-Type": content_type})

    async def command(self, text: str, user: str, channel: str, hook: str, secret: str = SLACK_SECRET) -> int:
        body = urlencode({
            "token": "legacy", "team_id": TEAM_ID, "team_domain": "acme", "channel_id": channel,
            "channel_name": "directmessage", "user_id": user, "user_name": user.lower(), "command": "/crm",
            "text": text, "api_app_id": "A0001", "response_url": self.slack.response_url(hook),
            "trigger_id": f"{hook}.1.abc",
        })
        return await self.slack_post(body, "application/x-www-form-urlencoded", secret)

    async def event(self, event: dict, event_id: str) -> int:
        body = json.dumps({"token": "legacy", "team_id": TEAM_ID, "api_app_id": "A0001", "type": "event_callback",
                           "event_id": event_id, "event_time": int(time.time()), "event": event},
                          ensure_ascii=False, indent=1)  # non-ASCII and whitespace: signed as sent
        return await self.slack_post(body, "application/json")
