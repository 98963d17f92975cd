"""Structured logs: JSON lines, and no secret or token ever written, whoever logs it."""
import io
import json
import logging

import pytest

from bot.config import load_settings
from bot.logs import configure_logging

SLACK_BOT = "xoxb-1234567890-0987654321-AbCdEfGhIjKlMnOpQrStUvWx"
SLACK_APP = "xapp-1-A0123-4567-deadbeefcafe"
TELEGRAM = "7012345678:AAHk3vJx_9xQeP2mZr4T5yWb6Nc7Ud8Ve9W"
SIGNING = "8f2d1c0b9a8e7d6c5b4a39281706f5e4"
SECRET_KEY = "my-long-secret-key-value"
DB_PASSWORD = "pg-Pa55word!"


@pytest.fixture
def captured():
    settings = load_settings(
        env_file=None, SLACK_BOT_TOKEN=SLACK_BOT, SLACK_SIGNING_SECRET=SIGNING, SLACK_APP_TOKEN=SLACK_APP,
        TELEGRAM_BOT_TOKEN=TELEGRAM, SECRET_KEY=SECRET_KEY, TELEGRAM_WEBHOOK_SECRET="hook-secret-123",
        DATABASE_URL=f"postgresql://crm:{DB_PASSWORD}@db.internal:5432/crm", LOG_LEVEL="DEBUG",
    )
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    stream = io.StringIO()
    configure_logging(settings, stream)
    yield stream
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in saved[0]:
        root.addHandler(handler)
    root.setLevel(saved[1])


def lines(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_each_line_is_a_json_object_with_extras(captured):
    logging.getLogger("bot.test").info("answered %s in %d ms", "whoami", 12, extra={"platform": "slack"})
    (entry,) = lines(captured)
    assert entry["level"] == "info" and entry["logger"] == "bot.test"
    assert entry["msg"] == "answered whoami in 12 ms" and entry["platform"] == "slack" and entry["pid"]


def test_secrets_never_reach_the_log(captured):
    log = logging.getLogger("bot.test")
    log.warning("slack said no for token %s / %s", SLACK_BOT, SLACK_APP)
    logging.getLogger("httpx").warning(f'HTTP Request: POST https://api.telegram.org/bot{TELEGRAM}/getMe "200"')
    log.info("signing secret is %s, key %s", SIGNING, SECRET_KEY)
    log.error("cannot connect to postgresql+psycopg://crm:%s@db.internal:5432/crm", DB_PASSWORD)
    log.info("header X-Telegram-Bot-Api-Secret-Token: hook-secret-123", extra={"url": f"/bot{TELEGRAM}/x"})
    log.info("another token seen: xoxp-99999999-abcdef and bot 5555555:%s", "A" * 35)
    try:
        raise RuntimeError(f"request to https://api.telegram.org/bot{TELEGRAM}/sendMessage failed")
    except RuntimeError:
        log.exception("delivery failed")
    text = captured.getvalue()
    for secret in (SLACK_BOT, SLACK_APP, TELEGRAM, TELEGRAM.split(":")[1], SIGNING, SECRET_KEY, DB_PASSWORD,
                   "hook-secret-123", "xoxp-99999999-abcdef", "A" * 35):
        assert secret not in text, f"{secret} leaked"
    entries = lines(captured)
    assert len(entries) == 7
    assert "/bot***/getMe" in entries[1]["msg"], "the URL stays readable, the token does not"
    assert "crm:***@db.internal" in entries[3]["msg"]
    assert "RuntimeError" in entries[6]["exc"] and "/bot***/sendMessage" in entries[6]["exc"]


def test_a_broken_format_string_still_logs(captured):
    logging.getLogger("bot.test").info("%d items", "not a number")
    (entry,) = lines(captured)
    assert "items" in entry["msg"]
