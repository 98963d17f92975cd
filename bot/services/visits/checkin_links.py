"""One-time check-in links for front ends without location sharing (Slack).

A token carries the user, the visit, an expiry and a random nonce, signed with HMAC-SHA256.
It is single-use: using it inserts the nonce into used_checkin_links (unique) in the same
transaction that pins the position, so two tabs racing with one link pin it once.

Secret: settings.SECRET_KEY; when the settings leave it unset, bot.bootstrap fills it from the
database (made once), so every process signs and checks links with the same key.
"""
import base64
import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from bot.errors import UserError
from db.models.visit import UsedCheckinLink
from db.session import UnitOfWork

log = logging.getLogger(__name__)

LINK_LIFETIME = timedelta(minutes=10)
VERSION = "v1"


@dataclass(frozen=True)
class LinkClaims:
    user_id: int
    visit_id: int
    expires_at: datetime
    nonce: str


class LinkError(UserError):
    """The link is altered, expired or used: `problem` names which (errors/visits/link_<problem>)."""

    def __init__(self, problem: str):
        super().__init__(f"visits/link_{problem}")
        self.problem = problem


def secret_bytes(secret_key: str | None) -> bytes:
    if not secret_key:
        raise ValueError("SECRET_KEY is empty: bot.bootstrap fills it before anything signs a link")
    return secret_key.encode()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sign(secret: bytes, body: str) -> str:
    return _b64(hmac.new(secret, body.encode(), hashlib.sha256).digest()[:20])


def issue(secret_key: str | None, user_id: int, visit_id: int, now: datetime) -> str:
    expires = int((now + LINK_LIFETIME).timestamp())
    body = _b64(f"{VERSION}:{user_id}:{visit_id}:{expires}:{secrets.token_hex(12)}".encode())
    return f"{body}.{_sign(secret_bytes(secret_key), body)}"


def url(base_url: str, secret_key: str | None, user_id: int, visit_id: int, now: datetime) -> str:
    return f"{base_url.rstrip('/')}/checkin/{issue(secret_key, user_id, visit_id, now)}"


def read_signed(secret_key: str | None, token: str) -> LinkClaims:
    """The claims of a genuine link, expired or not; LinkError("altered") otherwise."""
    body, _, signature = token.partition(".")
    if not token.isascii() or not body or not signature or not hmac.compare_digest(_sign(secret_bytes(secret_key), body), signature):
        raise LinkError("altered")
    try:
        version, user_id, visit_id, expires, nonce = _unb64(body).decode().split(":")
        claims = LinkClaims(int(user_id), int(visit_id), datetime.fromtimestamp(int(expires), UTC), nonce)
    except (ValueError, UnicodeDecodeError):
        raise LinkError("altered") from None
    if version != VERSION:
        raise LinkError("altered")
    return claims


def verify(secret_key: str | None, token: str, now: datetime) -> LinkClaims:
    """Check the signature, then the expiry; raises LinkError("altered" | "expired")."""
    claims = read_signed(secret_key, token)
    if now >= claims.expires_at:
        raise LinkError("expired")
    return claims


def is_used(uow: UnitOfWork, claims: LinkClaims) -> bool:
    return uow.session.scalar(select(UsedCheckinLink.id).where(UsedCheckinLink.nonce == claims.nonce)) is not None


def consume(uow: UnitOfWork, claims: LinkClaims, now: datetime) -> None:
    """Mark the link used, in the caller's transaction; LinkError("used") when it already was."""
    try:
        with uow.session.begin_nested():
            uow.session.add(UsedCheckinLink(nonce=claims.nonce, visit_id=claims.visit_id, used_at=now))
    except IntegrityError:
        raise LinkError("used") from None
