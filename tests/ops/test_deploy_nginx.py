"""The reference deployment (deploy/): three real `fieldcrm run` processes on one PostgreSQL
database behind nginx running the shipped deploy/nginx/fieldcrm.conf, Slack in HTTP mode and
Telegram by webhook, both platforms faked. One set of processes serves the whole module.
"""
import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable

import aiohttp
import pytest
import pytest_asyncio
from sqlalchemy import select

from bot.handouts import OTHER_PROCESS
from db.migrate import upgrade
from tests.conftest import empty_pg_database
from tests.fakes.telegram_api import text_update
from tests.ops.cluster import Cluster, Platforms, running_cluster

pytestmark = [pytest.mark.pg_only, pytest.mark.asyncio(loop_scope="module")]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def cluster(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Cluster]:
    with empty_pg_database("deploy") as url:
        upgrade(url)
        async with running_cluster(url, tmp_path_factory.mktemp("cluster")) as running:
            yield running


@pytest_asyncio.fixture(loop_scope="module")
async def platforms(cluster: Cluster) -> AsyncIterator[Platforms]:
    assert cluster.nginx is not None
    async with aiohttp.ClientSession() as http:
        yield Platforms(cluster.nginx.url, cluster.slack, http)


def served_by(cluster: Cluster, path: str, since: int = 0) -> Counter[str]:
    """Which process (the last upstream address tried) answered each request to `path` below 500,
    since access log line `since`."""
    assert cluster.nginx is not None
    return Counter(upstream.rsplit(", ", 1)[-1] for _m, uri, status, upstream in cluster.nginx.served()[since:]
                   if uri == path and status < 500)


async def settle(count: Callable[[], int], expected: int, timeout: float = 15.0) -> None:
    """Wait until `count()` reaches `expected`, then a little longer for any copy to show up."""
    deadline = time.monotonic() + timeout
    while count() < expected and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.5)


# ---------------------------------------------------------------- through nginx


async def test_health_on_each_admin_listener_never_public(cluster: Cluster, platforms: Platforms):
    async with aiohttp.ClientSession() as http:
        for instance in cluster.instances:
            async with http.get(f"http://127.0.0.1:{instance.admin_port}/healthz") as r:
                assert r.status == 200 and (await r.json())["database"] == "ok"
        for path in ("/healthz", "/metrics", "/"):
            async with http.get(platforms.base + path, ssl=False) as r:
                assert r.status == 404, path


async def test_updates_and_slack_requests_spread_over_processes_answered_once(cluster: Cluster,
                                                                              platforms: Platforms):
    assert cluster.nginx is not None
    since = len(cluster.nginx.served())
    chats = range(9100, 9130)
    users = [f"UDEPLOY{n}" for n in range(12)]
    statuses = await asyncio.gather(
        *(platforms.update(text_update("/help", chat_id=chat, user_id=chat, language_code="en")) for chat in chats),
        *(platforms.command("help", user, f"D{user}", hook=f"deploy-{user}") for user in users),
        *(platforms.event({"type": "message", "channel": f"C{user}", "channel_type": "im", "user": user,
                           "text": "help 你好", "ts": f"{time.time():.6f}"}, f"EvDeploy{user}") for user in users),
    )
    assert set(statuses) == {200}, Counter(statuses)
    hooks = [f"/response_url/deploy-{user}" for user in users]
    telegram, slack = cluster.telegram.log, cluster.slack

    def answered() -> int:
        return (sum(1 for p in telegram.posts if int(p.chat_id) in chats)
                + sum(1 for c in slack.calls if c.path in hooks)
                + sum(1 for p in slack.log.posts if p.chat_id in {f"C{u}" for u in users}))

    await settle(answered, len(chats) + 2 * len(users))
    assert Counter(int(p.chat_id) for p in telegram.posts if int(p.chat_id) in chats) == dict.fromkeys(chats, 1)
    assert Counter(c.path for c in slack.calls if c.path in hooks) == dict.fromkeys(hooks, 1)
    assert Counter(p.chat_id for p in slack.log.posts if p.chat_id.startswith("CUDEPLOY")) == \
        {f"C{u}": 1 for u in users}
    ports = {f"127.0.0.1:{i.http_port}" for i in cluster.instances}
    for path in ("/telegram/webhook", "/slack/events"):
        assert set(served_by(cluster, path, since)) == ports, f"{path} reached every process"


async def test_bad_slack_signature_and_telegram_secret_refused_through_nginx(cluster: Cluster,
                                                                            platforms: Platforms):
    before = len(cluster.slack.calls), len(cluster.telegram.calls)
    assert await platforms.command("help", "UFORGER", "DUFORGER", hook="forged", secret="not-the-secret") == 401
    assert await platforms.update(text_update("/help", chat_id=9200, user_id=9200), secret="guess") == 403
    await asyncio.sleep(0.3)
    assert (len(cluster.slack.calls), len(cluster.telegram.calls)) == before, "nothing acted on"


async def test_nginx_refuses_what_no_process_should_see(cluster: Cluster, platforms: Platforms):
    async with platforms.http.post(platforms.base + "/slack/events", data=b"x" * (2 * 1024 * 1024), ssl=False,
                                   headers={"Content-Type": "application/json"}) as r:
        assert r.status == 413
    async with platforms.http.get(platforms.base + "/telegram/webhook", ssl=False) as r:
        assert r.status == 403  # only POST reaches the processes
    async with platforms.http.get(platforms.base + "/checkin/not-a-token", ssl=False) as r:
        assert r.status in (400, 410)  # the process's own page for a bad link
    for path in ("/screen/not-a-token", "/screen/not-a-token/events"):
        async with platforms.http.get(platforms.base + path, ssl=False) as r:
            assert r.status == 404 and "does not exist" in await r.text()  # the process's own page
    assert cluster.nginx is not None
    async with platforms.http.get(f"http://127.0.0.1:{cluster.nginx.http_port}/slack/events",
                                  allow_redirects=False) as r:
        assert r.status == 301 and r.headers["Location"].startswith("https://")


SCREEN_ORG = {
    "units": [{"name": "Screen Team", "timezone": "Asia/Shanghai"}],
    "users": [{"handle": "screenboss", "name": "Screen Boss", "unit": "Screen Team", "role": "manager", "locale": "en"},
              {"handle": "screenrep", "name": "Screen Rep", "unit": "Screen Team", "role": "rep", "locale": "en",
               "manager": "screenboss"}],
    "channels": [{"platform": "console", "workspace": "local", "chat": "#screen", "name": "#screen",
                  "unit": "Screen Team", "locale": "en", "timezone": "Asia/Shanghai"}],
}


@pytest.mark.serial
async def test_an_office_screen_stream_through_nginx_gets_a_win_at_once(cluster: Cluster, platforms: Platforms):
    """The screen's event stream through nginx (unbuffered) delivers a win committed by another
    process on the same database within 2 s."""
    from bot.adapters.console import ConsoleAdapter
    from bot.bootstrap import build_router, open_database
    from bot.config import load_settings
    from bot.services.core import org, org_file
    from db.base import utcnow
    from db.models import User

    db = open_database(cluster.db_url)
    try:
        with db.uow() as uow:
            org_file.load_org(uow, SCREEN_ORG, "Asia/Shanghai", "en", now=utcnow())
            for user in uow.session.scalars(select(User).where(User.handle.in_(["screenboss", "screenrep"]))):
                org.link_console_identity(uow, user.id, user.handle, utcnow())
            uow.commit()
        settings = load_settings(env_file=None, DATABASE_URL=cluster.db_url, SECRET_KEY="cluster-key")
        console = ConsoleAdapter(build_router(db, settings), "screenboss")
        path = "/screen/" + "\n".join(console.handle_line("/board screen")).split("/screen/")[1].split()[0]
        console.user = "screenrep"
        add = await asyncio.to_thread(console.handle_line, "/newlead \"Screen Buyer Co\" Ann")
        assert add
        async with platforms.http.get(platforms.base + path + "/events", ssl=False) as stream:
            assert stream.status == 200 and stream.headers["Content-Type"].startswith("text/event-stream")
            assert (await stream.content.readline()).startswith(b"retry: ")
            await asyncio.to_thread(console.handle_line, "/convert 1 --contact Ann --deal 7000")
            started = time.monotonic()
            await asyncio.to_thread(console.handle_line, "/win 1")
            async with asyncio.timeout(2.0):
                while not (line := await stream.content.readline()).startswith(b"data:"):
                    pass
            assert b"Screen Buyer Co" in line and time.monotonic() - started < 2.0
    finally:
        db.dispose()


@pytest.mark.slow
async def test_a_process_killed_under_load_nginx_routes_around_it_nothing_lost(cluster: Cluster,
                                                                              platforms: Platforms):
    """As Telegram, the client sends an update again after a 5xx, later than another process could
    still be answering it (bot.handouts.OTHER_PROCESS): each update is answered at least once, and
    only an update in flight at the kill may be answered twice."""
    platforms.retry_s = OTHER_PROCESS.total_seconds() + 1
    cluster.telegram.delay_seconds = 1.0  # a slow platform: several updates are in flight at the kill
    telegram = cluster.telegram.log
    chats = list(range(9300, 9360))

    async def send(n: int, chat: int) -> int:
        await asyncio.sleep(n * 0.05)
        return await platforms.update(text_update("/help", chat_id=chat, user_id=chat, language_code="en"))

    assert cluster.nginx is not None
    sending = asyncio.gather(*(send(n, chat) for n, chat in enumerate(chats)))
    await asyncio.sleep(1.0)
    cluster.kill(1)
    after_kill = len(cluster.nginx.served())
    statuses = await sending
    try:
        assert set(statuses) == {200}, Counter(statuses)
        await settle(lambda: len({p.chat_id for p in telegram.posts if int(p.chat_id) in chats}), len(chats))
        answers = Counter(int(p.chat_id) for p in telegram.posts if int(p.chat_id) in chats)
        assert set(answers) == set(chats), f"never answered: {set(chats) - set(answers)}"
        assert sum(answers.values()) - len(chats) <= platforms.failed, (answers, platforms.failed)
        survivors = served_by(cluster, "/telegram/webhook", after_kill)
        assert f"127.0.0.1:{cluster.instances[1].http_port}" not in survivors and len(survivors) == 2, survivors
        assert platforms.failed > 0, "the kill fell in the middle of the load"
    finally:
        cluster.telegram.delay_seconds = 0
        await cluster.reap(1)
        await cluster.start(1)
