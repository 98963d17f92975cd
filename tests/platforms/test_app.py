"""One bot process: Slack over HTTP and a Telegram webhook on one public HTTP listener, with the outbox
dispatcher delivering to both platforms and /healthz answering on the loopback admin listener only — the
way `fieldcrm run` starts."""
import asyncio
import contextlib
import gc
import hashlib
import hmac
import socket
import time
from urllib.parse import urlencode

import aiohttp
import pytest
from sqlalchemy import select

from bot.app import serve
from bot.config import load_settings
from bot.i18n import render
from bot.services.core import outbox
from db.base import utcnow
from db.models import OrgUnit, TeamChannel
from tests.fakes.slack_api import FakeSlackApi
from tests.fakes.telegram_api import FakeTelegramAPI, text_update

SIGNING = "signing-secret"
TG_SECRET = "tg-secret"
TOKEN = "123:ABC"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def signed(body: str) -> dict[str, str]:
    ts = str(int(time.time()))
    digest = hmac.new(SIGNING.encode(), f"v0:{ts}:{body}".encode(), hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": f"v0={digest}",
            "Content-Type": "application/x-www-form-urlencoded"}


@pytest.fixture
async def fakes():
    slack = await FakeSlackApi().start()
    telegram = await FakeTelegramAPI(token=TOKEN).start()
    yield slack, telegram
    await slack.stop()
    await telegram.close()


def bind_channels(db) -> None:
    with db.uow() as uow:
        company = uow.session.scalar(select(OrgUnit).where(OrgUnit.name == "Acme Trading"))
        for platform, chat, locale in (("slack", "C0SALES", "en"), ("telegram", "-100777", "zh")):
            uow.session.add(TeamChannel(platform=platform, workspace="", chat_id=chat, unit_id=company.id,
                                        locale=locale, timezone="Asia/Shanghai"))
        uow.commit()


async def test_both_platforms_share_one_process_and_one_http_server(db, demo_org, fakes, caplog):
    slack, telegram = fakes
    bind_channels(db)
    port, admin_port = free_port(), free_port()
    caplog.set_level("INFO", logger="bot.app")
    settings = load_settings(
        env_file=None, DATABASE_URL=db.url, SECRET_KEY="k", HTTP_PORT=port, ADMIN_PORT=admin_port,
        SLACK_BOT_TOKEN="xoxb-test", SLACK_SIGNING_SECRET=SIGNING, SLACK_API_URL=slack.api_url,
        TELEGRAM_BOT_TOKEN=TOKEN, TELEGRAM_API_BASE_URL=telegram.base_url,
        TELEGRAM_WEBHOOK_URL="https://bot.example.com/telegram/webhook", TELEGRAM_WEBHOOK_SECRET=TG_SECRET,
    )
    running = asyncio.create_task(serve(settings))
    base = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as http:
            for _ in range(100):  # wait for the server
                with contextlib.suppress(aiohttp.ClientError):
                    async with http.get(f"http://127.0.0.1:{admin_port}/healthz") as response:
                        health = await response.json()
                        break
                await asyncio.sleep(0.05)
            assert health["database"] == "ok"
            for _ in range(100):  # /healthz answers before the front ends have started, then start-up is frozen
                if gc.get_freeze_count() > 100_000:
                    break
                await asyncio.sleep(0.05)
            assert gc.get_freeze_count() > 100_000, "start-up is kept out of the collector's full passes"
            assert f"/healthz and /metrics on 127.0.0.1:{admin_port}" in caplog.text  # loopback by default
            for path in ("/healthz", "/metrics"):
                async with http.get(f"{base}{path}") as response:
                    assert response.status == 404  # not on the public listener
            await telegram.wait_for("setWebhook")

            body = urlencode({"team_id": "T1", "channel_id": "D42", "user_id": "UNEW", "command": "/crm",
                              "text": "help", "response_url": slack.response_url("1"), "trigger_id": "1.1"})
            async with http.post(f"{base}/slack/events", data=body, headers=signed(body)) as response:
                assert response.status == 200
            update = text_update("/help", chat_id=999, user_id=999)
            async with http.post(f"{base}/telegram/webhook", json=update,
                                 headers={"X-Telegram-Bot-Api-Secret-Token": TG_SECRET}) as response:
                assert response.status == 200
            slack_answer = await slack.wait_for_posts(1)
            telegram_answer = await telegram.wait_for("sendMessage", 1)
            assert "/crm join" in slack_answer[0].text
            assert "/join" in telegram_answer[0]["text"]

            # A post queued in the database reaches both team channels through the dispatcher.
            with db.uow() as uow:
                company = uow.session.scalar(select(OrgUnit.id).where(OrgUnit.name == "Acme Trading"))
                outbox.post_to_unit_channels(uow, company, "channel/welcome", {"name": "Li", "unit": "Acme"},
                                             now=utcnow())
                uow.commit()
            posted = await slack.wait_for_posts(2)
            group = [m for m in await telegram.wait_for("sendMessage", 2) if str(m["chat_id"]) == "-100777"]
            assert any("Li joined Acme" in call.text for call in posted)
            assert group and "已加入" in group[0]["text"]
    finally:
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running
    assert gc.get_freeze_count() == 0
    assert render("channel/welcome", "zh", name="Li", unit="Acme").text in group[0]["text"]
