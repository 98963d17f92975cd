"""/metrics in Prometheus text format and /healthz: what an operator's dashboard reads."""
import re
from collections.abc import AsyncIterator

import aiohttp
import pytest
from sqlalchemy import select

from bot import metrics
from bot.delivery import Dispatcher
from bot.scheduler import run_claimed
from bot.services.core import outbox
from bot.web import build_web_app, start_server
from db.models import TeamChannel
from db.session import Database
from tests.conftest import say

SAMPLE = re.compile(r'^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\.)*",?)*\})? [-+0-9.eInf]+$')


def parse(text: str) -> dict[str, float]:
    """Every sample line as 'name{labels}' -> value; fails on a line Prometheus would refuse."""
    samples = {}
    for line in text.splitlines():
        if line.startswith("#"):
            assert re.match(r"^# (HELP|TYPE) [a-zA-Z_:][a-zA-Z0-9_:]* .+$", line), line
            continue
        assert SAMPLE.match(line), f"not a Prometheus sample: {line!r}"
        key, _, value = line.rpartition(" ")
        samples[key] = float(value)
    return samples


@pytest.fixture
async def http(db: Database) -> AsyncIterator[tuple[aiohttp.ClientSession, str]]:
    runner, port = await start_server(build_web_app(db))
    async with aiohttp.ClientSession() as session:
        yield session, f"http://127.0.0.1:{port}"
    await runner.cleanup()


def queue_posts(db: Database, n: int) -> None:
    with db.uow() as uow:
        unit = uow.session.scalar(select(TeamChannel.unit_id).where(TeamChannel.chat_id == "#sales"))
        for i in range(n):
            outbox.post_to_unit_channels(uow, unit, "channel/welcome", {"name": f"N{i}", "unit": "Acme"})
        uow.commit()


async def test_commands_show_as_latency_histograms_by_command_and_outcome(console, http):
    metrics.COMMAND_LATENCY.reset()
    metrics.COMMANDS.reset()
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


async def test_outbox_backlog_failures_and_scheduled_runs(demo_org, http):
    queue_posts(demo_org, 3)
    run_claimed(demo_org, "metrics.test", "slot-1", lambda: None)
    run_claimed(demo_org, "metrics.test", "slot-2", lambda: 1 / 0)
    dispatcher = Dispatcher(demo_org, {})
    dispatcher.delivered, dispatcher.failures = 5, 2
    metrics.watch_dispatcher(dispatcher)
    session, base = http
    async with session.get(f"{base}/metrics") as response:
        samples = parse(await response.text())
    assert samples["fieldcrm_outbox_backlog"] == 3
    assert samples['fieldcrm_outbox_messages{status="pending"}'] == 3
    assert samples['fieldcrm_scheduled_runs_total{job="metrics.test"}'] == 2
    assert samples['fieldcrm_scheduled_failures_total{job="metrics.test"}'] == 1
    assert samples["fieldcrm_outbox_delivered_total"] >= 5 and samples["fieldcrm_outbox_failures_total"] >= 2
    assert samples["fieldcrm_database_up"] == 1
    async with session.get(f"{base}/healthz") as response:
        report = await response.json()
    assert response.status == 200
    assert report["database"] == "ok" and report["outbox_backlog"] == 3 and report["outbox_dead"] == 0


async def test_a_dead_database_is_reported_not_raised(tmp_path):
    broken = Database(f"sqlite:///{tmp_path / 'missing' / 'crm.sqlite3'}")
    runner, port = await start_server(build_web_app(broken))
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
    histogram = metrics.Histogram("x_seconds", "h", ("command",), buckets=(1.0,))
    histogram.observe(0.5, 'we"ird\\name\n')
    text = "\n".join(histogram.lines())
    assert 'command="we\\"ird\\\\name\\n"' in text
    parse(text)
