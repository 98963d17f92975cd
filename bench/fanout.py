"""Fan-out: 1,000 channel posts to 1,000 Telegram groups through real bot processes while people
send commands, against a fake Bot API that enforces Telegram's limits (30 messages/s overall, 20/min
per group, about 1/s per private chat) and answers 429 with retry_after past them.

Each process is what `fieldcrm run` is (tests.ops.cluster: the same command and environment,
Telegram in webhook mode, no Slack): it answers webhook updates, and its sender child (bot.sender_process,
at a lower CPU priority) runs the outbox dispatcher, every send within the bot's shared budget
(bot.budget). Run with 1 and with 3 processes on one database: with 3, one child sends and two
stand by (bot.delivery), as in the reference deployment. The fake Bot API runs in this process, and so does the load: updates are posted to the
processes' ports directly, in turn: nginx in front (tests.ops.cluster.running_cluster) would add
the same hop to the idle and to the busy commands and one more busy process on a 2-core machine,
and would make the bench need nginx installed.

Figures:
- delivery time (insert to the last post's arrival at the fake) against the floor the limits set,
  max((posts + the answers sent meanwhile)/30 s, busiest group's posts/20 per minute);
- 429s received (the fake's log), posts lost or duplicated (the fake's log of what each group got);
- the p95 time of a command from a person the bot knows (`/whoami` in his private chat: router,
  database, answer) from posting its update to the fake receiving the answer in his chat, during
  the fan-out (spread over its first 80 %), against the same commands on the idle bot just before
  it (processes and their sender children up, each process warmed by one command, nothing queued). The webhook's 200 comes only
  after the answer was sent (bot.adapters.telegram.front_end; checked for every command): the time
  is read from the fake's log, the earlier of the two and the one the person sees.
"""
import asyncio
import tempfile
import time
from collections import Counter
from pathlib import Path

import aiohttp
from sqlalchemy import func, insert, select

from bench.common import Row, scratch_database
from bench.slack_path import USERS, seed_users
from bench.telegram_path import update
from bot.bootstrap import open_database
from bot.messages import Reply
from bot.services.core import collector
from db.models import OutboxMessage
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.ops.cluster import TG_SECRET, TG_TOKEN, TG_WORKSPACE, Cluster, Instance
from tests.ops.nginx_harness import free_port

GLOBAL_PER_SECOND = 30
GROUP_PER_MINUTE = 20
ASKING = 20  # people sending the commands, each in his private chat (seeded: the bot knows them)
IDLE_SPACING_S = 0.25  # one person asks again after ASKING * this: well inside his chat's 1/s


def p95(times: list[float]) -> float:
    ordered = sorted(times)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


async def commands(http: aiohttp.ClientSession, ports: list[int], fake: FakeTelegramAPI, first: int, count: int,
                   spacing: float) -> list[float]:
    """`count` commands, one every `spacing` seconds whatever the earlier ones are doing, from the
    ASKING people in turn to the processes in turn; ms from posting each to its answer's arrival."""

    async def one(i: int) -> float:
        await asyncio.sleep(i * spacing)
        person = i % ASKING + 1
        body = update((first + i) * USERS + person - 1)  # a fresh update id, from this person
        posted = time.monotonic()
        async with http.post(f"http://127.0.0.1:{ports[i % len(ports)]}/telegram/webhook", json=body,
                             headers={"X-Telegram-Bot-Api-Secret-Token": TG_SECRET}) as response:
            await response.read()
        returned = time.monotonic()
        assert response.status == 200, response.status
        answers = [p for p in fake.log.posts if p.chat_id == str(person) and posted <= p.at <= returned]
        assert len(answers) == 1 and f"User {person}" in answers[0].text, (person, answers)
        return (answers[0].at - posted) * 1000

    return list(await asyncio.gather(*(one(i) for i in range(count))))


def unsent(db) -> int:
    with db.uow() as uow:
        return uow.session.scalar(select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status != "sent"))


async def fan_out(db, fake: FakeTelegramAPI, rows: list[dict], timeout: float) -> float:
    """Insert the posts at once; seconds until the last of them arrived at the fake (or timeout)."""
    start = time.monotonic()
    await asyncio.to_thread(_insert, db, rows)
    while await asyncio.to_thread(unsent, db) and time.monotonic() - start < timeout:
        await asyncio.sleep(0.5)
    return max((p.at for p in fake.log.posts if p.chat_id.startswith("-")), default=time.monotonic()) - start


def _insert(db, rows: list[dict]) -> None:
    with db.uow() as uow:
        uow.session.execute(insert(OutboxMessage), rows)
        uow.commit()


async def deliver_all(url: str, posts: int, groups: int, processes: int, asked: int) -> dict:
    seed_users(url)
    fake = await FakeTelegramAPI(token=TG_TOKEN, limits=True).start()
    db = open_database(url)
    rows = [{"platform": "telegram", "workspace": TG_WORKSPACE, "chat_id": f"-100{i % groups}", "kind": "win",
             "payload": Reply(text=f"Gong #{i}").to_json(), "status": "pending"} for i in range(posts)]
    busiest = max(Counter(r["chat_id"] for r in rows).values())
    # The platform counts the answers sent meanwhile too.
    floor = max((posts + asked) / GLOBAL_PER_SECOND,
                (busiest / GROUP_PER_MINUTE - 1) * 60 if busiest > GROUP_PER_MINUTE else 0.0)
    with tempfile.TemporaryDirectory(prefix="fanout-") as workdir:
        bots = Cluster(url, Path(workdir), fake, slack=None)
        bots.instances = [Instance(free_port(), free_port(), Path(workdir) / f"fieldcrm-{n}.log")
                          for n in range(processes)]
        try:
            await asyncio.gather(*(bots.start(i) for i in range(processes)))
            await bots.until_sending(processes)  # and their sender children (idle means idle)
            ports = [instance.http_port for instance in bots.instances]
            # The fake platform records arrivals in this process: as in the bot's, a full pass of the
            # collector over what set-up built would stop its clock for 100+ ms (bot.services.core.collector).
            collector.freeze_start_up()
            async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
                await commands(http, ports, fake, 0, processes, 0.0)  # each process's first answer: not timed
                idle = await commands(http, ports, fake, processes, asked, IDLE_SPACING_S)
                busy_task = asyncio.create_task(commands(http, ports, fake, processes + asked, asked,
                                                         0.8 * floor / asked))
                elapsed = await fan_out(db, fake, rows, timeout=10 * floor + 60)
                busy = await busy_task
        finally:
            collector.thaw()
            await bots.stop()
            await fake.close()
    db.dispose()
    expected = [(r["chat_id"], f"Gong #{i}") for i, r in enumerate(rows)]
    duplicates = sum(n for (chat, _), n in fake.log.duplicates().items() if chat.startswith("-"))
    return {"elapsed": elapsed, "floor": floor, "rejected": len(fake.log.rejections),
            "lost": len(fake.log.missing(expected)), "duplicates": duplicates,
            "idle_p95": p95(idle), "busy_p95": p95(busy)}


def run(quick: bool) -> list[Row]:
    posts, groups, asked = (150, 150, 20) if quick else (1000, 1000, 60)
    rows = []
    for processes in (1, 3):
        with scratch_database("fanout") as url:
            result = asyncio.run(deliver_all(url, posts, groups, processes, asked))
        label = f"{processes} process{'es' if processes > 1 else ''}"
        rows += [
            Row("fanout", f"{posts} posts to {groups} groups, {label}", result["elapsed"], result["floor"], "s",
                "<=1.1x of the limits' floor"),
            Row("fanout", f"429 answers received, {label}", result["rejected"], None, "", "0"),
            Row("fanout", f"posts lost or duplicated, {label}", result["lost"] + result["duplicates"], None, "", "0"),
            Row("fanout", f"command answer p95 during the fan-out, {label}", result["busy_p95"],
                result["idle_p95"], "ms", "<=2x the same commands on an idle bot"),
        ]
    return rows
