"""Structured logs: one JSON object per line on stderr, with secrets and tokens redacted.

`configure_logging(settings)` installs one handler on the root logger. Its filter rewrites every
record (message, arguments and traceback) through `redact`, so a token inside a library's log line
(httpx logs every request URL, and Telegram puts the bot token in the URL) never reaches the log.
"""
import json
import logging
import os
import re
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import TextIO
from urllib.parse import urlsplit

MASK = "***"
SECRET_SETTINGS = (
    "SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN", "TELEGRAM_BOT_TOKEN",
    "TELEGRAM_WEBHOOK_SECRET", "SECRET_KEY", "ADMIN_TOKEN",
)
# Shapes of secrets whatever their value: Slack tokens, Telegram bot tokens (also in /bot<token>/
# URLs), passwords in URLs, bearer tokens, key=value pairs that name a secret.
PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\bx(?:ox[abposre]|app)-[A-Za-z0-9-]{6,}"), MASK),
    (re.compile(r"(/bot)\d+:[A-Za-z0-9_-]+"), r"\1" + MASK),
    (re.compile(r"\b\d{5,12}:[A-Za-z0-9_-]{30,}\b"), MASK),
    (re.compile(r"(\b[a-z][a-z0-9+.-]*://[^:/@\s]*:)[^@\s/]+(@)", re.IGNORECASE), r"\1" + MASK + r"\2"),
    (re.compile(r"(\bBearer\s+)[A-Za-z0-9._~+/=-]+", re.IGNORECASE), r"\1" + MASK),
    (re.compile(r"((?:secret|password|passwd|token|signing_secret|api_key)[\"']?\s*[=:]\s*[\"']?)[^\s\"',&]+",
                re.IGNORECASE), r"\1" + MASK),
)
# Shorter literal values would blank ordinary words out of every line.
MIN_LITERAL = 6
STANDARD_ATTRS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


class Redactor:
    def __init__(self, literals: Iterable[str] = ()):
        self.literals = sorted({s for s in literals if s and len(s) >= MIN_LITERAL}, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for literal in self.literals:
            text = text.replace(literal, MASK)
        for pattern, replacement in PATTERNS:
            text = pattern.sub(replacement, text)
        return text


def secret_values(settings: object) -> list[str]:
    """The configured secrets themselves, plus the database password."""
    values = [str(getattr(settings, name, None) or "") for name in SECRET_SETTINGS]
    url = str(getattr(settings, "DATABASE_URL", "") or "")
    try:
        password = urlsplit(url).password
    except ValueError:
        password = None
    if password:
        values.append(password)
    token = str(getattr(settings, "TELEGRAM_BOT_TOKEN", None) or "")
    if ":" in token:
        values.append(token.split(":", 1)[1])  # the secret half, should it appear on its own
    return values


class RedactingFilter(logging.Filter):
    """Bakes the message (and traceback) into the record, redacted. Attach to handlers."""

    def __init__(self, redactor: Redactor):
        super().__init__()
        self.redact = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string must not lose the line
            message = f"{record.msg!r} {record.args!r}"
        record.msg = self.redact(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        record.exc_info = None  # the redacted text stands in for it
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        for key, value in list(vars(record).items()):
            if key not in STANDARD_ATTRS and isinstance(value, str):
                setattr(record, key, self.redact(value))
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
            "pid": record.process or os.getpid(),
        }
        if record.threadName and record.threadName != "MainThread":
            entry["thread"] = record.threadName
        for key, value in vars(record).items():
            if key not in STANDARD_ATTRS and not key.startswith("_"):
                entry[key] = value if isinstance(value, int | float | bool | type(None)) else str(value)
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exc"] = record.exc_text
        return json.dumps(entry, ensure_ascii=False)


def make_handler(settings: object, stream: TextIO | None = None) -> logging.Handler:
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RedactingFilter(Redactor(secret_values(settings))))
    return handler


def configure_logging(settings: object, stream: TextIO | None = None) -> logging.Handler:
    """JSON lines on stderr at settings.LOG_LEVEL; replaces any handler already on the root logger."""
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    handler = make_handler(settings, stream)
    root.addHandler(handler)
    root.setLevel(str(getattr(settings, "LOG_LEVEL", "INFO")).upper())
    # One line per HTTP request from the platform clients is noise at INFO (and carries tokens).
    for noisy in ("httpx", "httpcore", "apscheduler.executors.default"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    logging.captureWarnings(True)
    return handler
