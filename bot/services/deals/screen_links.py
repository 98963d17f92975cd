"""Office-screen links (`/board screen`): a manager's long-lived, revocable link to a full-screen
page of his team's leaderboard (bot.web.screen).

A link is `<body>.<signature>`: the body carries the row's id and a random secret, signed with
SECRET_KEY the way check-in links are (bot.services.visits.checkin_links). The row keeps only the
secret's SHA-256, so neither the database nor the key alone makes a working link. A link is valid
until revoked: no expiry. Revoking marks the row (`revoked_at`, `revoked_by`); nothing is deleted.
Every write goes through the ORM, so the audit listener logs it.
"""
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select

from bot.errors import UserError
from bot.services.core import org

# One signing scheme for every signed link: the check-in links' HMAC and base64 helpers.
from bot.services.core.signing import b64, genuine, secret_bytes, sign, unb64
from bot.services.deals import office_screen
from bot.services.manager import scope as scopes
from db.models import OrgUnit, Role, User
from db.models.screen import ScreenLink
from db.session import UnitOfWork

VERSION = "s1"
UTC_ZONE = ZoneInfo("UTC")
MAX_TOKEN_CHARS = 200
# Words that name what to do rather than a unit: /board screen list, /board screen revoke ID|UNIT|all.
LIST_WORDS = ("list", "列表")
REVOKE_WORDS = ("revoke", "撤销")
ALL_WORDS = ("all", "全部")


class ScreenLinkError(UserError):
    """A screen link that is not (or no longer) one: `problem` is unknown (altered, malformed, never
    issued) or revoked."""

    def __init__(self, problem: str):
        super().__init__(f"deals/screen_link_{problem}")
        self.problem = problem


@dataclass(frozen=True)
class LinkView:
    id: int
    unit_id: int
    unit_name: str
    created_at: datetime
    last_seen_at: datetime | None
    revoked_at: datetime | None = None


@dataclass(frozen=True)
class Issued:
    link: LinkView
    token: str
    has_channel: bool


@dataclass(frozen=True)
class Revoked:
    links: list[LinkView]


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def make_token(secret_key: str | None, link_id: int, secret: str) -> str:
    body = b64(f"{VERSION}:{link_id}:{secret}".encode())
    return f"{body}.{sign(secret_bytes(secret_key), body)}"


def read_token(secret_key: str | None, token: str) -> tuple[int, str]:
    """(link id, secret) of a genuinely signed token; ScreenLinkError("unknown") for anything else."""
    body, _, signature = token.partition(".")
    if (len(token) > MAX_TOKEN_CHARS or not token.isascii() or not body or not signature
            or not genuine(secret_bytes(secret_key), body, signature)):
        raise ScreenLinkError("unknown")
    try:
        version, link_id, secret = unb64(body).decode().split(":")
        claims = (int(link_id), secret)
    except (ValueError, UnicodeDecodeError):
        raise ScreenLinkError("unknown") from None
    if version != VERSION:
        raise ScreenLinkError("unknown")
    return claims


def link_of(uow: UnitOfWork, secret_key: str | None, token: str) -> ScreenLink:
    """The live link a token names; ScreenLinkError("unknown" | "revoked") otherwise."""
    link_id, secret = read_token(secret_key, token)
    link = uow.session.get(ScreenLink, link_id)
    if link is None or not hmac.compare_digest(link.token_hash, _hash(secret)):
        raise ScreenLinkError("unknown")
    if link.revoked_at is not None:
        raise ScreenLinkError("revoked")
    return link


def _view(uow: UnitOfWork, link: ScreenLink, zone: ZoneInfo = UTC_ZONE) -> LinkView:
    """The link as its manager reads it: its moments in his time zone."""
    unit = uow.session.get(OrgUnit, link.unit_id)
    assert unit is not None
    seen = link.last_seen_at.astimezone(zone) if link.last_seen_at else None
    return LinkView(link.id, link.unit_id, unit.name, link.created_at.astimezone(zone), seen, link.revoked_at)


def _manager(uow: UnitOfWork, user_id: int) -> User:
    user = uow.session.get(User, user_id)
    if user is None or user.role not in (Role.MANAGER, Role.ADMIN):
        raise UserError("deals/target_managers_only")
    return user


def _unit_in_scope(uow: UnitOfWork, user: User, name: str | None) -> OrgUnit:
    """The named unit (his own when unnamed) if his scope covers it; out of scope reads as not found."""
    visible = scopes.of(uow, user.id)
    if not name:
        own = uow.session.get(OrgUnit, user.unit_id)
        assert own is not None
        if not scopes.covers_unit(uow, visible, own.id):
            raise scopes.not_found("unit", own.name)
        return own
    found = [u for u in org.units_by_name(uow, name) if scopes.covers_unit(uow, visible, u.id)]
    if not found:
        raise scopes.not_found("unit", name)
    if len(found) != 1:
        raise UserError("deals/rank_unknown_unit", name=name[:60], count=len(found))
    return found[0]


def issue(uow: UnitOfWork, user_id: int, unit_name: str | None, secret_key: str | None, now: datetime) -> Issued:
    """A new link to the screen of the named unit (or his own) for a manager whose scope covers it."""
    user = _manager(uow, user_id)
    unit = _unit_in_scope(uow, user, unit_name)
    secret = secrets.token_urlsafe(24)
    link = ScreenLink(unit_id=unit.id, token_hash=_hash(secret), created_by=user.id, created_at=now)
    uow.session.add(link)
    uow.session.flush()
    return Issued(_view(uow, link), make_token(secret_key, link.id, secret),
                  has_channel=office_screen.team_channel(uow, unit.id) is not None)


def live_links(uow: UnitOfWork, user_id: int) -> list[LinkView]:
    """The links he made that still work, newest first."""
    zone = ZoneInfo(_manager(uow, user_id).timezone)
    rows = uow.session.scalars(select(ScreenLink).where(ScreenLink.created_by == user_id,
                                                        ScreenLink.revoked_at.is_(None))
                               .order_by(ScreenLink.id.desc()))
    return [_view(uow, link, zone) for link in rows]


def revoke(uow: UnitOfWork, user_id: int, ref: str, now: datetime) -> Revoked:
    """Revoke one of his links (`ID`, `#ID`), all of his links to a unit (`UNIT`) or all of his
    links (`all`). Another manager's link, or one never issued, reads as not found."""
    user = _manager(uow, user_id)
    ref = ref.strip()
    if not ref:
        raise UserError("deals/screen_usage")
    mine = select(ScreenLink).where(ScreenLink.created_by == user.id, ScreenLink.revoked_at.is_(None))
    number = ref.lstrip("#")
    if number.isdigit():
        link = uow.session.get(ScreenLink, int(number)) if len(number) < 12 else None
        if link is None or link.created_by != user.id or link.revoked_at is not None:
            raise UserError("deals/screen_link_not_found", link_id=number[:12])
        links = [link]
    elif ref.lower() in ALL_WORDS:
        links = list(uow.session.scalars(mine.order_by(ScreenLink.id)))
    else:
        unit = _unit_in_scope(uow, user, ref)
        links = list(uow.session.scalars(mine.where(ScreenLink.unit_id == unit.id).order_by(ScreenLink.id)))
    for link in links:
        link.revoked_at, link.revoked_by = now, user.id
    uow.session.flush()
    return Revoked([_view(uow, link) for link in links])
