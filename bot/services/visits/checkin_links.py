"""One-time check-in links for front ends without location sharing (Slack).

A token carries the user, what waits for the position, an expiry and a random nonce, signed with
HMAC-SHA256. What waits is a visit or check-in ("v1" tokens: user:visit:expiry:nonce, as they always
were, so a link in flight across a deploy still works) or a position request of the user, a /nearby
or /setloc waiting for where he is ("v2" tokens: user:kind:id:expiry:nonce, kind "request").
It is single-use: using it inserts the nonce into used_checkin_links (unique) in the same
transaction that pins the position, so two tabs racing with one link pin it once.

Secret: settings.SECRET_KEY; when the settings leave it unset, bot.bootstrap fills it from the
database (made once), so every process signs and checks links with the same key.
"""
import logging
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from bot.errors import UserError
from bot.services.core.signing import b64, genuine, secret_bytes, sign, unb64
from db.models.visit import UsedCheckinLink
from db.session import UnitOfWork

log = logging.getLogger(__name__)

LINK_LIFETIME = timedelta(minutes=10)
VERSION = "v1"  # a link naming a visit
REQUEST_VERSION = "v2"  # a link naming a kind of record and its id: a position request
REQUEST = "request"


@dataclass(frozen=True)
class LinkClaims:
    user_id: int
    visit_id: int | None  # the visit or check-in waiting for the position
    expires_at: datetime
    nonce: str
    request_id: int | None = None  # or the /nearby or /setloc waiting for it (db CustomerLocationRequest)


class LinkError(UserError):
    """The link is altered, expired or used: `problem` names which (errors/visits/link_<problem>)."""

    def __init__(self, problem: str):
        super().__init__(f"visits/link_{problem}")
        self.problem = problem


def issue(secret_key: str | None, user_id: int, visit_id: int | None, now: datetime,
          request_id: int | None = None) -> str:
    """A link for the visit, or (visit_id None) for the user's position request `request_id`."""
    expires = int((now + LINK_LIFETIME).timestamp())
    nonce = secrets.token_hex(12)
    if visit_id is not None:
        claims = f"{VERSION}:{user_id}:{visit_id}:{expires}:{nonce}"
    else:
        assert request_id is not None
        claims = f"{REQUEST_VERSION}:{user_id}:{REQUEST}:{request_id}:{expires}:{nonce}"
    body = b64(claims.encode())
    return f"{body}.{sign(secret_bytes(secret_key), body)}"


def url(base_url: str, secret_key: str | None, user_id: int, visit_id: int | None, now: datetime,
        request_id: int | None = None) -> str:
    return f"{base_url.rstrip('/')}/checkin/{issue(secret_key, user_id, visit_id, now, request_id)}"


def _claims(fields: list[str]) -> LinkClaims:
    """The signed fields of a v1 or v2 token; ValueError for anything else."""
    if fields[0] == VERSION and len(fields) == 5:
        _, user_id, visit_id, expires, nonce = fields
        return LinkClaims(int(user_id), int(visit_id), datetime.fromtimestamp(int(expires), UTC), nonce)
    if fields[0] == REQUEST_VERSION and len(fields) == 6 and fields[2] == REQUEST:
        _, user_id, _, request_id, expires, nonce = fields
        return LinkClaims(int(user_id), None, datetime.fromtimestamp(int(expires), UTC), nonce, int(request_id))
    raise ValueError("not a link this version reads")


def read_signed(secret_key: str | None, token: str) -> LinkClaims:
    """The claims of a genuine link, expired or not; LinkError("altered") otherwise."""
    body, _, signature = token.partition(".")
    if not token.isascii() or not body or not signature or not genuine(secret_bytes(secret_key), body, signature):
        raise LinkError("altered")
    try:
        return _claims(unb64(body).decode().split(":"))
    except (ValueError, UnicodeDecodeError, OverflowError):
        raise LinkError("altered") from None


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
            uow.session.add(UsedCheckinLink(nonce=claims.nonce, visit_id=claims.visit_id,
                                            request_id=claims.request_id, used_at=now))
    except IntegrityError:
        raise LinkError("used") from None
