"""Settings from the environment or .env; a bad one stops start-up with one clear line."""
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from db.phone_keys import DEFAULT_REGION, is_region
from db.watchdog import MIN_CONNECT_S, Timeouts

LOCALES = ("en", "zh")


class SettingsError(Exception):
    """A setting is missing or malformed; the message names it."""


_WAITS = Timeouts()  # the defaults live with the mechanism (db.watchdog)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    DATABASE_URL: str = "sqlite:///fieldcrm.sqlite3"
    # PostgreSQL waits, in seconds (db.watchdog): connecting; the server's statement_timeout,
    # lock_timeout and idle_in_transaction_session_timeout (0: none); all the database work of one
    # command (and each request of background work); a free connection from the pool.
    DATABASE_CONNECT_TIMEOUT: int = _WAITS.connect
    DATABASE_STATEMENT_TIMEOUT: float = _WAITS.statement
    DATABASE_LOCK_TIMEOUT: float = _WAITS.lock
    DATABASE_IDLE_IN_TRANSACTION_TIMEOUT: float = _WAITS.idle_in_transaction
    DATABASE_COMMAND_TIMEOUT: float = _WAITS.command
    DATABASE_POOL_TIMEOUT: float = _WAITS.pool
    SLACK_BOT_TOKEN: str | None = None
    SLACK_SIGNING_SECRET: str | None = None
    SLACK_APP_TOKEN: str | None = None
    SLACK_API_URL: str = "https://slack.com/api/"
    TELEGRAM_BOT_TOKEN: str | None = None
    TELEGRAM_API_BASE_URL: str = "https://api.telegram.org/bot"
    TELEGRAM_WEBHOOK_URL: str | None = None
    TELEGRAM_WEBHOOK_SECRET: str | None = None
    HTTP_HOST: str = "127.0.0.1"
    HTTP_PORT: int = 8080
    # The operator's listener: /healthz and /metrics, never on the public one. Loopback by default;
    # ADMIN_TOKEN (sent as "Authorization: Bearer ...") guards it when it must listen further.
    ADMIN_HOST: str = "127.0.0.1"
    ADMIN_PORT: int = 9080
    ADMIN_TOKEN: str | None = None
    PUBLIC_BASE_URL: str = "http://127.0.0.1:8080"
    DEFAULT_TIMEZONE: str = "UTC"
    DEFAULT_LOCALE: str = "en"
    # How phones written without a country code are read, for a company whose org file sets no
    # phone_region (ISO 3166 alpha-2).
    DEFAULT_PHONE_REGION: str = DEFAULT_REGION
    # Signs one-time links (check-in pages); generated per process when unset.
    SECRET_KEY: str | None = None
    INVITATION_DAYS: int = 14
    # Per-user command rate limit (token bucket): a burst, then so many per second; 0 turns it off.
    RATE_LIMIT_BURST: int = 20
    RATE_LIMIT_PER_SECOND: float = 1.0
    LOG_LEVEL: str = "INFO"
    # Visit photos: the folder they are kept in (by content, never deleted) and the largest file a
    # rep may send, in bytes (refused before download when the platform tells the size).
    PHOTO_DIR: Path = Path("data/photos")
    PHOTO_MAX_BYTES: int = 10 * 1024 * 1024
    # Where this process's outbox posts leave from (bot.sender_process): "child", a child process at
    # a lower CPU priority (SENDER_NICE), so a fan-out never holds up a person's answer; "inline",
    # this process; "none", another process (`fieldcrm send`). Unset: child on PostgreSQL with a
    # platform configured, inline otherwise (SQLite is one process; the console sends after each line).
    OUTBOX_SENDER: Literal["child", "inline", "none"] | None = None
    SENDER_NICE: int = 10

    @field_validator("DEFAULT_TIMEZONE")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @field_validator("DEFAULT_LOCALE")
    @classmethod
    def _known_locale(cls, value: str) -> str:
        if value not in LOCALES:
            raise ValueError(f"must be one of {', '.join(LOCALES)}")
        return value

    @field_validator("DEFAULT_PHONE_REGION")
    @classmethod
    def _known_phone_region(cls, value: str) -> str:
        code = value.strip().upper()
        if not is_region(code):
            raise ValueError("must be a two-letter country code such as CN, US or GB")
        return code

    @field_validator("SENDER_NICE")
    @classmethod
    def _nice_range(cls, value: int) -> int:
        if not 0 <= value <= 19:
            raise ValueError("must be 0 (the same priority) to 19 (the lowest)")
        return value

    @field_validator("PHOTO_MAX_BYTES")
    @classmethod
    def _positive_bytes(cls, value: int) -> int:
        if value <= 0:
            raise ValueError("must be a positive number of bytes")
        return value

    @field_validator("HTTP_PORT", "ADMIN_PORT")
    @classmethod
    def _port_range(cls, value: int) -> int:
        if not 0 <= value <= 65535:
            raise ValueError("must be a port number 0-65535")
        return value

    @field_validator("DATABASE_CONNECT_TIMEOUT")
    @classmethod
    def _libpq_connect_timeout(cls, value: int) -> int:
        if value < MIN_CONNECT_S:
            raise ValueError(f"must be at least {MIN_CONNECT_S} seconds")
        return value

    @field_validator("DATABASE_STATEMENT_TIMEOUT", "DATABASE_LOCK_TIMEOUT", "DATABASE_IDLE_IN_TRANSACTION_TIMEOUT")
    @classmethod
    def _server_timeout(cls, value: float) -> float:
        if value < 0:
            raise ValueError("must be 0 (no limit) or a number of seconds")
        return value

    @field_validator("DATABASE_COMMAND_TIMEOUT", "DATABASE_POOL_TIMEOUT")
    @classmethod
    def _positive_seconds(cls, value: float) -> float:
        if value <= 0:
            raise ValueError("must be a positive number of seconds")
        return value

    @field_validator("DATABASE_URL")
    @classmethod
    def _known_backend(cls, value: str) -> str:
        if not value.startswith(("sqlite", "postgresql")):
            raise ValueError("must start with sqlite:// or postgresql://")
        if value.startswith("postgresql://"):
            return "postgresql+psycopg://" + value.removeprefix("postgresql://")
        return value

    def database_timeouts(self) -> Timeouts:
        return Timeouts(
            connect=self.DATABASE_CONNECT_TIMEOUT, statement=self.DATABASE_STATEMENT_TIMEOUT,
            lock=self.DATABASE_LOCK_TIMEOUT, idle_in_transaction=self.DATABASE_IDLE_IN_TRANSACTION_TIMEOUT,
            command=self.DATABASE_COMMAND_TIMEOUT, pool=self.DATABASE_POOL_TIMEOUT,
        )

    @property
    def slack_enabled(self) -> bool:
        return bool(self.SLACK_BOT_TOKEN)

    @property
    def slack_socket_mode(self) -> bool:
        return bool(self.SLACK_APP_TOKEN)

    @property
    def telegram_enabled(self) -> bool:
        return bool(self.TELEGRAM_BOT_TOKEN)

    @property
    def platform_configured(self) -> bool:
        """Slack or Telegram (or both): without either, `fieldcrm run` is the console."""
        return self.slack_enabled or self.telegram_enabled

    @property
    def on_postgresql(self) -> bool:
        return self.DATABASE_URL.startswith("postgresql")

    @property
    def outbox_sender(self) -> str:
        if self.OUTBOX_SENDER is not None:
            return self.OUTBOX_SENDER
        return "child" if self.on_postgresql and self.platform_configured else "inline"

    def check_consistency(self) -> None:
        if self.slack_enabled and not self.slack_socket_mode and not self.SLACK_SIGNING_SECRET:
            raise SettingsError(
                "setting SLACK_SIGNING_SECRET is missing: HTTP mode needs it (or set SLACK_APP_TOKEN for Socket Mode)"
            )
        if self.ADMIN_PORT == self.HTTP_PORT != 0:
            raise SettingsError("setting ADMIN_PORT is invalid: it must differ from HTTP_PORT")
        if self.TELEGRAM_WEBHOOK_URL and not self.TELEGRAM_WEBHOOK_SECRET:
            raise SettingsError("setting TELEGRAM_WEBHOOK_SECRET is missing: a webhook needs a secret token")
        if self.OUTBOX_SENDER in ("child", "none") and not self.on_postgresql:
            raise SettingsError(f"setting OUTBOX_SENDER is invalid: {self.OUTBOX_SENDER} needs PostgreSQL "
                                "(on SQLite one process sends: inline)")


def load_settings(env_file: str | Path | None = ".env", **overrides: object) -> Settings:
    """Load and validate settings, turning pydantic's report into one line naming the setting."""
    try:
        settings = Settings(_env_file=env_file, **overrides)  # type: ignore[call-arg]
    except ValidationError as exc:
        first = exc.errors()[0]
        name = ".".join(str(part) for part in first["loc"]) or "?"
        reason = first["msg"].removeprefix("Value error, ")
        raise SettingsError(f"setting {name} is invalid: {reason}") from None
    settings.check_consistency()
    return settings
