"""Who is talking: platform identities, invitations, /join, language, /whoami."""
import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

from bot.config import LOCALES
from bot.errors import UserError
from bot.services.core import org, outbox
from bot.services.core.text import visible
from db.base import utcnow
from db.models import InboundEvent, Invitation, PlatformIdentity, User
from db.session import UnitOfWork

# No 0/O/1/I/L: codes are read aloud and typed on phones.
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CODE_LENGTH = 8
PLATFORMS = ("slack", "telegram", "console")


# Platforms retry an event for minutes (Slack) up to a day (Telegram keeps undelivered updates 24 h);
# past that an id is new again: Telegram starts update ids afresh after a week without updates.
RETRY_WINDOW = timedelta(hours=24)

# INSERT ... ON CONFLICT DO UPDATE ... WHERE ... RETURNING, spelled alike by PostgreSQL and SQLite
# (3.35+): a row comes back when the event is new, or when its old row is past the retry window (it
# is renewed, its old answer dropped); nothing comes back for a retry. As text, because SQLAlchemy cannot cache the dialect
# insert().on_conflict_do_update() construct and would compile it again for every command.
_CLAIM = text(
    "INSERT INTO inbound_events (platform, workspace, event_id, received_at) "
    "VALUES (:platform, :workspace, :event_id, :received_at) "
    "ON CONFLICT (platform, workspace, event_id) DO UPDATE SET received_at = excluded.received_at, "
    "answer = NULL, answered_at = NULL "
    "WHERE inbound_events.received_at < :expired_before RETURNING id"
).bindparams(bindparam("received_at", type_=InboundEvent.__table__.c.received_at.type),
             bindparam("expired_before", type_=InboundEvent.__table__.c.received_at.type))
_CLAIM_DIALECTS = frozenset({"postgresql", "sqlite"})


def claim_event(uow: UnitOfWork, platform: str, workspace: str, event_id: str) -> bool:
    """Record an inbound event; False when it was seen before within the retry window (a retry).

    One round trip on PostgreSQL and SQLite, no savepoint. A concurrent claim of the same event from
    another process waits on the unique index until that transaction ends, then finds the row (or
    inserts it, if the other rolled back).
    """
    now = utcnow()
    row = {"platform": platform, "workspace": workspace[:64], "event_id": event_id[:128], "received_at": now}
    if uow.dialect not in _CLAIM_DIALECTS:  # another database: a savepoint keeps the caller's transaction usable
        try:
            with uow.session.begin_nested():
                uow.session.add(InboundEvent(**row))
        except IntegrityError:
            return False
        return True
    return uow.session.execute(_CLAIM, {**row, "expired_before": now - RETRY_WINDOW}).first() is not None


def resolve_user(uow: UnitOfWork, platform: str, workspace: str, platform_user_id: str) -> User | None:
    """The linked user, with his unit loaded in the same query (profiles and scopes need it)."""
    return uow.session.scalar(
        select(User)
        .join(PlatformIdentity)
        .options(joinedload(User.unit))
        .where(
            PlatformIdentity.platform == platform,
            PlatformIdentity.workspace == workspace,
            PlatformIdentity.platform_user_id == platform_user_id,
            PlatformIdentity.unlinked_at.is_(None),
        )
    )


def find_user(uow: UnitOfWork, handle: str) -> User | None:
    return uow.session.scalar(select(User).where(User.handle == handle.lstrip("@").lower()))


def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def normalise_code(code: str) -> str:
    return code.strip().upper().replace("-", "").replace(" ", "")


def create_invitation(uow: UnitOfWork, user_id: int, now: datetime, days: int) -> str:
    """A new code for the user; his older unused codes are revoked (the newest one is the one to use)."""
    older = uow.session.scalars(select(Invitation).where(
        Invitation.user_id == user_id, Invitation.used_at.is_(None), Invitation.revoked_at.is_(None)))
    for invitation in older:
        invitation.revoked_at = now
    code = new_code()
    uow.session.add(Invitation(code=code, user_id=user_id, expires_at=now + timedelta(days=days)))
    uow.session.flush()
    return code


@dataclass(frozen=True)
class Joined:
    user_id: int
    name: str
    unit: str
    role: str
    locale: str


def join(
    uow: UnitOfWork,
    code: str,
    platform: str,
    workspace: str,
    platform_user_id: str,
    dm_chat_id: str | None,
    now: datetime,
    display_name: str = "",
) -> Joined:
    """Link a platform identity to the CRM user the invitation was made for; single use.

    An account already linked stays as it is: to the same user that is a friendly no-op
    (already_linked); a code made for someone else is refused (linked_to_other)."""
    invitation = uow.session.scalar(
        select(Invitation).where(Invitation.code == normalise_code(code)).with_for_update()
    )
    linked = resolve_user(uow, platform, workspace, platform_user_id)
    if linked is not None:
        if invitation is not None and invitation.user_id != linked.id:
            raise UserError("linked_to_other", name=linked.name)
        raise UserError("already_linked")
    if invitation is None:
        raise UserError("invitation_unknown")
    if invitation.used_at is not None:
        raise UserError("invitation_used")
    if invitation.revoked_at is not None:
        raise UserError("invitation_revoked")
    if invitation.expires_at <= now:
        raise UserError("invitation_expired")
    user = invitation.user
    if not user.active:
        raise UserError("invitation_unknown")
    identity = PlatformIdentity(
        platform=platform,
        workspace=workspace,
        platform_user_id=platform_user_id,
        dm_chat_id=dm_chat_id,
        user_id=user.id,
        linked_at=now,
        display_name=visible(display_name)[:128] or None,
    )
    uow.session.add(identity)
    uow.session.flush()
    invitation.used_at = now
    invitation.used_by_identity_id = identity.id
    outbox.post_to_unit_channels(
        uow, user.unit_id, "channel/welcome", {"name": user.name, "unit": user.unit.name}, dedupe_key=f"welcome:{identity.id}",
        now=now,
    )
    return Joined(user.id, user.name, user.unit.name, user.role, user.locale)


def set_locale(uow: UnitOfWork, user_id: int, locale: str) -> str:
    if locale not in LOCALES:
        raise UserError("unknown_locale", locale=locale[:20], choices=", ".join(LOCALES))
    user = uow.session.get(User, user_id)
    assert user is not None
    user.locale = locale
    return locale


@dataclass(frozen=True)
class Link:
    """One linked account, as /whoami shows it."""
    platform: str
    workspace: str
    account: str
    display_name: str | None
    linked_on: date  # in the user's own time zone


def live_links(uow: UnitOfWork, user_id: int, platform: str | None = None) -> list[PlatformIdentity]:
    query = select(PlatformIdentity).where(PlatformIdentity.user_id == user_id, PlatformIdentity.unlinked_at.is_(None))
    if platform is not None:
        query = query.where(PlatformIdentity.platform == platform)
    return list(uow.session.scalars(query.order_by(PlatformIdentity.linked_at, PlatformIdentity.id)))


def unlink(uow: UnitOfWork, user_id: int, platform: str, now: datetime) -> list[PlatformIdentity]:
    """End the user's links on a platform (every workspace); the rows are kept with unlinked_at.
    An empty list: he had no live link there."""
    links = live_links(uow, user_id, platform)
    for link in links:
        link.unlinked_at = now
    return links


@dataclass(frozen=True)
class Profile:
    name: str
    handle: str
    role: str
    unit_path: str
    locale: str
    timezone: str
    identities: list[Link]


def profile(uow: UnitOfWork, user_id: int) -> Profile:
    user = uow.session.get(User, user_id)
    assert user is not None
    # Plain rows, not identity objects: nothing to track for a read.
    rows = uow.session.execute(
        select(PlatformIdentity.platform, PlatformIdentity.workspace, PlatformIdentity.platform_user_id,
               PlatformIdentity.display_name, PlatformIdentity.linked_at)
        .where(PlatformIdentity.user_id == user_id, PlatformIdentity.unlinked_at.is_(None))
        .order_by(PlatformIdentity.linked_at, PlatformIdentity.id)
    )
    return Profile(
        name=user.name,
        handle=user.handle,
        role=user.role,
        unit_path=" / ".join(unit.name for unit in org.unit_chain(uow, user.unit_id)),
        locale=user.locale,
        timezone=user.timezone,
        identities=[Link(p, w, account, name, linked.astimezone(ZoneInfo(user.timezone)).date())
                    for p, w, account, name, linked in rows],
    )


def private_chats(uow: UnitOfWork, platform: str, workspace: str, roles: tuple[str, ...],
                  platform_user_id: str | None = None) -> list[tuple[str, str, str]]:
    """(private chat, role, locale) of the active users with one of `roles` linked on this bot (or of one
    platform user): where a per-person command menu goes."""
    query = (
        select(PlatformIdentity.dm_chat_id, User.role, User.locale).join(User, PlatformIdentity.user_id == User.id)
        .where(PlatformIdentity.platform == platform, PlatformIdentity.workspace == workspace,
               PlatformIdentity.dm_chat_id.is_not(None), User.active.is_(True), User.role.in_(roles))
        .order_by(PlatformIdentity.id)
    )
    if platform_user_id is not None:
        query = query.where(PlatformIdentity.platform_user_id == platform_user_id)
    return [(str(chat), role, locale) for chat, role, locale in uow.session.execute(query)]
