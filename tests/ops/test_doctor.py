"""`fieldcrm doctor` as an admin runs it: a real process, against the fake platform APIs on loopback,
one line per check and what to fix."""
import asyncio
import os
import sys
from pathlib import Path

from bot.bootstrap import admin_app, open_database, web_app
from bot.config import load_settings
from bot.metrics import Metrics
from bot.web.server import start_server
from db.migrate import upgrade
from tests.conftest import ROOT
from tests.fakes.slack_api import FakeSlackApi
from tests.fakes.telegram_api import FakeTelegramAPI

WEBHOOK = "https://bot.example/telegram/webhook"


async def doctor(cwd: Path, **env: str) -> tuple[int, str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "TELEGRAM_", "DATABASE_URL"))}
    environment.update({"PYTHONPATH": str(ROOT), "LOG_LEVEL": "ERROR", **env})
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", "doctor", cwd=cwd, env=environment,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(process.communicate(), timeout=120)
    return process.returncode, out.decode()


def platform_env(slack: FakeSlackApi, telegram: FakeTelegramAPI, slack_token: str) -> dict[str, str]:
    return {"SLACK_BOT_TOKEN": slack_token, "SLACK_SIGNING_SECRET": "s", "SLACK_API_URL": slack.api_url,
            "TELEGRAM_BOT_TOKEN": telegram.token, "TELEGRAM_API_BASE_URL": telegram.base_url,
            "TELEGRAM_WEBHOOK_URL": WEBHOOK, "TELEGRAM_WEBHOOK_SECRET": "hook-secret"}


async def test_a_healthy_installation_reads_all_good(tmp_path):
    url = f"sqlite:///{tmp_path / 'fieldcrm.sqlite3'}"
    upgrade(url)
    db = open_database(url)
    slack = await FakeSlackApi(valid_tokens=frozenset({"xoxb-good"})).start()
    telegram = await FakeTelegramAPI().start()
    telegram.webhook = {"url": WEBHOOK}
    settings = load_settings(env_file=None, DATABASE_URL=url, SECRET_KEY="k")
    runner, port = await start_server(web_app(db, settings, []))
    admin, admin_port = await start_server(admin_app(db, settings, Metrics(db)))
    try:
        code, out = await doctor(tmp_path, DATABASE_URL=url, PUBLIC_BASE_URL=f"http://127.0.0.1:{port}",
                                 ADMIN_PORT=str(admin_port), **platform_env(slack, telegram, "xoxb-good"))
    finally:
        await runner.cleanup()
        await admin.cleanup()
        await slack.stop()
        await telegram.close()
        db.dispose()
    assert code == 0, out
    lines = out.strip().splitlines()
    assert [line[:3] for line in lines[:-1]] == ["ok "] * 8, out
    assert f"health: http://127.0.0.1:{admin_port}/healthz answers 200" in out
    assert "Slack: the token works: bot fieldcrm in Acme" in out and "Telegram webhook: registered at" in out
    assert lines[-1] == "All good."


async def test_each_problem_gets_one_line_with_its_fix_in_the_admins_language(tmp_path):
    url = f"sqlite:///{tmp_path / 'fieldcrm.sqlite3'}"  # never migrated
    slack = await FakeSlackApi(valid_tokens=frozenset({"xoxb-good"})).start()
    telegram = await FakeTelegramAPI().start()
    telegram.webhook = {"url": "https://old.example/hook", "last_error_message": "Connection refused",
                        "pending_update_count": 12}
    try:
        code, out = await doctor(tmp_path, DATABASE_URL=url, PUBLIC_BASE_URL="http://127.0.0.1:9", ADMIN_PORT="9",
                                 DEFAULT_LOCALE="en", **platform_env(slack, telegram, "xoxb-revoked"))
        zh_code, zh_out = await doctor(tmp_path, DATABASE_URL=url, PUBLIC_BASE_URL="http://127.0.0.1:9",
                                       ADMIN_PORT="9", DEFAULT_LOCALE="zh",
                                       **platform_env(slack, telegram, "xoxb-revoked"))
    finally:
        await slack.stop()
        await telegram.close()
    assert code == 1 and zh_code == 1
    fixes = [line for line in out.splitlines() if line.startswith("FIX")]
    assert len(fixes) == 5, out
    assert "migrations: at -, the latest is" in out and "fieldcrm db upgrade" in out
    assert "Slack refused the token (invalid_auth)" in out
    assert "Telegram has https://old.example/hook, the settings want " + WEBHOOK in out
    assert "FIX health: http://127.0.0.1:9/healthz does not answer" in out and "ADMIN_PORT" in out
    assert "FIX public URL: http://127.0.0.1:9/ does not answer" in out
    assert out.strip().endswith("5 things to fix.")
    assert "需修复 迁移" in zh_out and "Slack 拒绝了令牌(invalid_auth)" in zh_out and "共 5 项需要修复" in zh_out
    assert "Traceback" not in out + zh_out


async def test_an_unreachable_database_is_one_line_not_a_traceback(tmp_path):
    code, out = await doctor(tmp_path, DATABASE_URL="postgresql+psycopg://nobody@127.0.0.1:9/none",
                             PUBLIC_BASE_URL="http://127.0.0.1:9")
    assert code == 1 and "FIX database: cannot be reached" in out and "DATABASE_URL" in out
    assert "Traceback" not in out
