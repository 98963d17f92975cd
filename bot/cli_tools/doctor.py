"""`fieldcrm doctor`: is this installation set up right? One line per check, and what to fix.

Checks the database (reachable, migrated), the shared secret, each configured platform's token
(Slack auth.test, Telegram getMe), Telegram's webhook registration (getWebhookInfo: its URL and the
last error Telegram saw), whether the running bot's /healthz on the admin listener answers 200, and whether
PUBLIC_BASE_URL answers from here. It changes nothing.
"""
import argparse
import asyncio
import logging
from dataclasses import dataclass, field

import aiohttp
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import select

from bot.config import Settings
from bot.i18n import render_text
from db.migrate import alembic_config
from db.models import AppSecret
from db.session import Database

TIMEOUT_S = 10


@dataclass(frozen=True)
class Finding:
    check: str  # database, migrations, secret, slack, telegram, webhook, health, public_url
    ok: bool
    code: str  # which sentence of cli/doctor.j2 says it
    params: dict = field(default_factory=dict)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("doctor", help="check settings, database, platform tokens and webhooks")
    parser.set_defaults(tool=run, upgrade_first=False)


def run(settings: Settings, db: Database, args: argparse.Namespace) -> int:
    logging.getLogger("alembic").setLevel(logging.WARNING)  # its "Context impl" lines are not findings
    findings = asyncio.run(examine(settings, db))
    print(render_text("cli/doctor", settings.DEFAULT_LOCALE, findings=findings))
    return 0 if all(f.ok for f in findings) else 1


async def examine(settings: Settings, db: Database) -> list[Finding]:
    findings = await asyncio.to_thread(database_findings, db)
    if settings.slack_enabled:
        findings.append(await slack_token(settings))
    if settings.telegram_enabled:
        findings.extend(await telegram_findings(settings))
    findings.append(await health(settings))
    findings.append(await public_url(settings))
    return findings


def database_findings(db: Database) -> list[Finding]:
    heads = set(ScriptDirectory.from_config(alembic_config(db.url)).get_heads())
    try:
        with db.engine.connect() as conn:
            current = set(MigrationContext.configure(conn).get_current_heads())
            secret = conn.execute(select(AppSecret.name).where(AppSecret.name == "SECRET_KEY")).first() \
                if current == heads else None
    except Exception as exc:
        return [Finding("database", False, "database_unreachable", {"error": _first_line(exc)})]
    findings = [Finding("database", True, "database_ok", {"backend": db.engine.dialect.name})]
    if current != heads:
        return findings + [Finding("migrations", False, "migrations_behind",
                                   {"current": ", ".join(sorted(current)) or "-", "head": ", ".join(sorted(heads))})]
    return findings + [
        Finding("migrations", True, "migrations_ok", {"revision": ", ".join(sorted(heads))}),
        Finding("secret", True, "secret_stored" if secret else "secret_first_start"),
    ]


async def slack_token(settings: Settings) -> Finding:
    from bot.adapters.slack.front_end import (
        web_client,  # slack-bolt loads only where Slack is configured
    )

    client = web_client(settings)
    try:
        answer = await client.auth_test()
    except Exception as exc:
        error = getattr(getattr(exc, "response", None), "data", {}) or {}
        return Finding("slack", False, "slack_refused", {"error": error.get("error") or _first_line(exc)})
    return Finding("slack", True, "slack_ok", {"team": answer.get("team", ""), "bot": answer.get("user", "")})


async def telegram_findings(settings: Settings) -> list[Finding]:
    base = f"{settings.TELEGRAM_API_BASE_URL}{settings.TELEGRAM_BOT_TOKEN}"
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=TIMEOUT_S)) as http:
        me = await _telegram(http, f"{base}/getMe")
        if not me.get("ok"):
            return [Finding("telegram", False, "telegram_refused", {"error": me.get("description", "")})]
        findings = [Finding("telegram", True, "telegram_ok", {"bot": me["result"].get("username", "")})]
        hook = await _telegram(http, f"{base}/getWebhookInfo")
    return findings + [webhook_finding(settings, hook.get("result") or {})]


def webhook_finding(settings: Settings, info: dict) -> Finding:
    registered, wanted = info.get("url") or "", settings.TELEGRAM_WEBHOOK_URL or ""
    if registered != wanted:
        return Finding("webhook", False, "webhook_mismatch", {"registered": registered or "-", "wanted": wanted or "-"})
    if info.get("last_error_message"):
        return Finding("webhook", False, "webhook_error", {"error": info["last_error_message"],
                                                            "pending": info.get("pending_update_count", 0)})
    return Finding("webhook", True, "webhook_ok" if wanted else "polling_ok", {"url": wanted})


def admin_url(settings: Settings) -> str:
    """Where this machine reaches the admin listener's /healthz (a wildcard address means loopback)."""
    host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(settings.ADMIN_HOST, settings.ADMIN_HOST)
    return f"http://{f'[{host}]' if ':' in host else host}:{settings.ADMIN_PORT}/healthz"


async def health(settings: Settings) -> Finding:
    """The running bot's own health, on the admin listener (with ADMIN_TOKEN when set)."""
    url = admin_url(settings)
    headers = {"Authorization": f"Bearer {settings.ADMIN_TOKEN}"} if settings.ADMIN_TOKEN else {}
    status = await _status(url, headers)
    if isinstance(status, str):
        return Finding("health", False, "health_unreachable", {"url": url, "error": status})
    code = {200: "health_ok", 401: "health_refused"}.get(status, "health_status")
    return Finding("health", status == 200, code, {"url": url, "status": status})


async def public_url(settings: Settings) -> Finding:
    """PUBLIC_BASE_URL reaches a server from here; /healthz is not public, so any answer short of a
    proxy's 5xx will do (the bot itself answers 404 at /)."""
    url = settings.PUBLIC_BASE_URL.rstrip("/") + "/"
    status = await _status(url, {})
    if isinstance(status, str):
        return Finding("public_url", False, "public_url_unreachable", {"url": url, "error": status})
    return Finding("public_url", status < 500, "public_url_ok" if status < 500 else "public_url_status",
                   {"url": url, "status": status})


async def _status(url: str, headers: dict[str, str]) -> int | str:
    """The HTTP status of a GET, or the first line of why there was none."""
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=TIMEOUT_S)) as http, \
                http.get(url, headers=headers) as response:
            return response.status
    except Exception as exc:
        return _first_line(exc)


async def _telegram(http: aiohttp.ClientSession, url: str) -> dict:
    try:
        async with http.get(url) as response:
            return await response.json(content_type=None)
    except Exception as exc:
        return {"ok": False, "description": _first_line(exc)}


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
