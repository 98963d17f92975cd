"""A Mini App's initData, checked as Telegram documents it, before anything trusts who sent it.

https://core.telegram.org/bots/webapps#validating-data-received-via-the-mini-app: the fields but
`hash`, sorted by key, as `key=value` lines joined by "\\n", signed with HMAC-SHA256 under the key
HMAC-SHA256(key="WebAppData", msg=bot token); the hex digest must equal `hash` (compared in
constant time). Then `auth_date` must be recent: at most `max_age` old and at most `SKEW` ahead of
our clock. Only then is the `user` field read (JSON: id, first_name, language_code...).
"""
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl

# How old initData may be when it writes: Telegram signs it when the Mini App opens, so a rep who
# keeps the app open longer reopens it from the menu button.
MAX_AGE = timedelta(hours=1)
# How far ahead of our clock auth_date may be (Telegram's clock and ours).
SKEW = timedelta(minutes=5)
MAX_CHARS = 4096  # real initData is well under 1 KiB


class InitDataError(Exception):
    """Not signed by Telegram for this bot, or too old: `problem` says which (for the log)."""

    def __init__(self, problem: str):
        super().__init__(problem)
        self.problem = problem

    @property
    def expired(self) -> bool:
        return self.problem in ("expired", "future")


@dataclass(frozen=True)
class WebAppUser:
    """Who opened the Mini App, as Telegram signed it."""

    id: int
    first_name: str
    last_name: str
    language_code: str | None
    auth_date: datetime

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


def secret_key(bot_token: str) -> bytes:
    return hmac.new(b"WebAppData", bot_token.encode(), hashlib.sha256).digest()


def sign(fields: dict[str, str], bot_token: str) -> str:
    """The hash Telegram puts beside `fields` (tests build initData with it)."""
    check = "\n".join(f"{key}={fields[key]}" for key in sorted(fields))
    return hmac.new(secret_key(bot_token), check.encode(), hashlib.sha256).hexdigest()


def validate(init_data: str, bot_token: str, now: datetime, max_age: timedelta = MAX_AGE) -> WebAppUser:
    """The user of genuine, recent initData; InitDataError otherwise."""
    if not isinstance(init_data, str) or not init_data or len(init_data) > MAX_CHARS:
        raise InitDataError("missing")
    try:
        pairs = parse_qsl(init_data, keep_blank_values=True, strict_parsing=True, errors="strict")
    except (ValueError, UnicodeError):
        raise InitDataError("unreadable") from None
    fields = dict(pairs)
    if len(fields) != len(pairs):
        raise InitDataError("duplicate_field")  # which copy was signed is anyone's guess
    given = fields.pop("hash", "")
    if not given or not hmac.compare_digest(sign(fields, bot_token), given.lower()):
        raise InitDataError("bad_hash")
    auth_date = _auth_date(fields.get("auth_date", ""))
    if auth_date > now + SKEW:
        raise InitDataError("future")
    if now - auth_date > max_age:
        raise InitDataError("expired")
    return _user(fields.get("user", ""), auth_date)


def _auth_date(raw: str) -> datetime:
    if not raw.isdigit() or len(raw) > 12:
        raise InitDataError("bad_auth_date")
    return datetime.fromtimestamp(int(raw), UTC)


def _user(raw: str, auth_date: datetime) -> WebAppUser:
    try:
        user = json.loads(raw)
    except (ValueError, RecursionError):
        raise InitDataError("bad_user") from None
    if not isinstance(user, dict):
        raise InitDataError("bad_user")
    user_id, first, last, language = (user.get(k) for k in ("id", "first_name", "last_name", "language_code"))
    if isinstance(user_id, bool) or not isinstance(user_id, int) or not 0 < user_id < 2**63:
        raise InitDataError("bad_user")
    return WebAppUser(
        id=user_id,
        first_name=first if isinstance(first, str) else "",
        last_name=last if isinstance(last, str) else "",
        language_code=language if isinstance(language, str) else None,
        auth_date=auth_date,
    )
