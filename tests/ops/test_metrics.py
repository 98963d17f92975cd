"""/metrics in Prometheus text format and /healthz: what an operator's dashboard reads, on the admin
listener only (the public one, with the webhooks and check-in pages, does not serve them)."""
from collections.abc import AsyncIterator

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select

from bot.bootstrap import admin_app, web_app
from bot.config import Settings, load_settings
from bot.delivery import Dispatcher
from bot.metrics import Metrics
from bot.router import Router
from bot.scheduler import run_claimed
from bot.services.core import outbox
from bot.web.server import start_server
from db.base import utcnow
from db.models import TeamChannel
from db.session import Database
from tests.conftest import say


def parse(text: str) -> dict[str, float]:
    """Every sample as 'name{labels}' -> value, read by prometheus-client's own parser (which fails on
    anything Prometheus would refuse). A histogram's `le` is written last, whatever the exposition order."""
    samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            pairs = sorted(sample.labels.items(), key=lambda pair: pair[0] == "le")
            labels = ",".join(f'{k}="{v}"' for k, v in pairs)
            samples[f"{sample.name}{{{labels}}}" if labels else sample.name] = sample.value
    return samples


@pytest.fixture
async def http(db: Database, settings: Settings, router: Router) -> AsyncIterator[tuple[aiohttp.ClientSession, str]]:
    """The process's admin listener, showing the metrics of the router the console uses."""
    runner, port = await start_server(admin_app(db, settings, router.metrics))
    async with aiohttp.ClientSession() as session:
        yield session, f"http://127.0.0.1:{port}"
    await runner.cleanup()


def queue_posts(db: Database, n: int) -> None:
    with db.uow() as uow:
        unit = uow.session.scalar(select(TeamChannel.unit_id).where(TeamChannel.chat_id == "#sales"))
        for i in range(n):
            outbox.post_to_unit_channels(uow, unit, "channel/welcome", {"name": f"N{i}", "unit": "Acme"},
                                         now=utcnow())
        uow.commit()


async def test_commands_show_as_latency_histograms_by_command_and_outcome(console, http):
    say(console, "/whoami")
    say(console, "/whoami")
    say(console, "/lang xx")  # refused: not a language
    say(console, "/frobnicate-7f3a")  # typed nonsense must not become a series
    session, base = http
    async with session.get(f"{base}/metrics") as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        samples = parse(await response.text())
    ok = 'command="whoami",outcome="ok"'
    assert samples[f"fieldcrm_command_duration_seconds_count{{{ok}}}"] == 2
    assert samples[f'fieldcrm_command_duration_seconds_bucket{{{ok},le="+Inf"}}'] == 2
    buckets = [v for k, v in samples.items() if k.startswith("fieldcrm_command_duration_seconds_bucket{" + ok)]
    assert buckets == sorted(buckets), "buckets are cumulative"
    assert samples[f"fieldcrm_commands_total{{{ok}}}"] == 2
    assert any(k.startswith('fieldcrm_commands_total{command="lang",outcome="') and "ok" not in k for k in samples)
    assert samples['fieldcrm_commands_total{command="(unknown)",outcome="unknown"}'] == 1
    assert not any("frobnicate" in k for k in samples)


class Refusing:
    """A platform that takes two posts, then refuses every post."""

    command_prefix = "/"

    def __init__(self) -> None:
        self.taken = 0

    async def send(self, workspace: str, chat_id: str, reply) -> None:
        self.taken += 1
        if self.taken > 2:
            raise RuntimeError("platform down")


async def test_outbox_backlog_failures_and_scheduled_runs(demo_org, router, http):
    queue_posts(demo_org, 5)
    await Dispatcher(demo_org, {"console": Refusing()}, metrics=router.metrics).deliver_due()
    queue_posts(demo_org, 3)
    run_claimed(demo_org, "metrics.test", "slot-1", lambda: None)
    run_claimed(demo_org, "metrics.test", "slot-2", lambda: 1 / 0)
    session, base = http
    async with session.get(f"{base}/metrics") as response:
        samples = parse(await response.text())
    # three new; the refused one and the two behind it in its chat wait for its retry
    assert samples["fieldcrm_outbox_backlog"] == 3 + 3
    assert samples['fieldcrm_outbox_messages{status="pending"}'] == 6
    assert samples['fieldcrm_scheduled_runs_total{job="metrics.test"}'] == 2
    assert samples['fieldcrm_scheduled_failures_total{job="metrics.test"}'] == 1
    assert samples["fieldcrm_outbox_delivered_total"] == 2 and samples["fieldcrm_outbox_failures_total"] == 1
    assert samples["fieldcrm_database_up"] == 1
    async with session.get(f"{base}/healthz") as response:
        report = await response.json()
    assert response.status == 200
    assert report["database"] == "ok" and report["outbox_backlog"] == 6 and report["outbox_dead"] == 0


async def test_a_dead_database_is_reported_not_raised(tmp_path):
    broken = Database(f"sqlite:///{tmp_path / 'missing' / 'crm.sqlite3'}")
    settings = load_settings(env_file=None, DATABASE_URL=broken.url, SECRET_KEY="k")
    runner, port = await start_server(admin_app(broken, settings, Metrics(broken)))
    try:
        async with aiohttp.ClientSession() as session:
            async with session.get(f"http://127.0.0.1:{port}/metrics") as response:
                assert response.status == 200
                assert parse(await response.text())["fieldcrm_database_up"] == 0
            async with session.get(f"http://127.0.0.1:{port}/healthz") as response:
                assert response.status == 503
                assert (await response.json())["database"].startswith("unreachable")
    finally:
        await runner.cleanup()
        broken.dispose()


def test_label_values_are_escaped():
    metrics = Metrics()
    metrics.command_done('we"ird\\name\n', "ok", 0.5)
    text = metrics.exposition().decode()
    assert 'command="we\\"ird\\\\name\\n"' in text
    assert parse(text)['fieldcrm_commands_total{command="we"ird\\name\n",outcome="ok"}'] == 1


async def test_the_public_listener_does_not_serve_health_or_metrics(db, settings, router):
    public, public_port = await start_server(web_app(db, settings, []))
    admin, admin_port = await start_server(admin_app(db, settings, router.metrics))
    try:
        async with aiohttp.ClientSession() as session:
            for path in ("/healthz", "/metrics"):
                async with session.get(f"http://127.0.0.1:{public_port}{path}") as response:
                    assert response.status == 404
                async with session.get(f"http://127.0.0.1:{admin_port}{path}") as response:
                    assert response.status == 200
    finally:
        await public.cleanup()
        await admin.cleanup()


def test_the_admin_listener_is_loopback_unless_configured():
    settings = load_settings(env_file=None)
    assert (settings.ADMIN_HOST, settings.ADMIN_PORT, settings.ADMIN_TOKEN) == ("127.0.0.1", 9080, None)


async def test_with_a_token_the_admin_listener_wants_it(db, router):
    settings = load_settings(env_file=None, DATABASE_URL=db.url, SECRET_KEY="k", ADMIN_TOKEN="s3cret-token")
    runner, port = await start_server(admin_app(db, settings, router.metrics))
    base = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as session:
            for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "s3cret-token"}):
                async with session.get(f"{base}/metrics", headers=headers) as response:
                    assert response.status == 401 and response.headers["WWW-Authenticate"] == "Bearer"
            good = {"Authorization": "Bearer s3cret-token"}
            async with session.get(f"{base}/metrics", headers=good) as response:
                assert response.status == 200 and "fieldcrm_database_up 1.0" in await response.text()
            async with session.get(f"{base}/healthz", headers=good) as response:
                assert response.status == 200
    finally:
        await runner.cleanup()
