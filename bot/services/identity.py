"""Who is talking: platform identities, invitations, /join, language, /whoami."""
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from bot.config import LOCALES
from bot.errors import UserError
from bot.services import org, outbox
from db.models import InboundEvent, Invitation, PlatformIdentity, User
from db.session import UnitOfWork

# No 0/O/1/I/L: codes are read aloud and typed on phones.
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CODE_LENGTH = 8


def claim_event(uow: UnitOfWork, platform: str, event_id: str) -> bool:
    """Record an inbound event; False when it was seen before (a platform retry)."""
    try:
        with uow.session.begin_nested():
            uow.session.add(InboundEvent(platform=platform, event_id=event_id[:128]))
    except IntegrityError:
        return False
    return True


def resolve_user(uow: UnitOfWork, platform: str, workspace: str, platform_user_id: str) -> User | None:
    return uow.session.scalar(
        select(User)
        .join(PlatformIdentity)
        .where(
            PlatformIdentity.platform == platform,
            PlatformIdentity.workspace == workspace,
            PlatformIdentity.platform_user_id == platform_user_id,
        )
    )


def find_user(uow: UnitOfWork, handle: str) -> User | None:
    return uow.session.scalar(select(User).where(User.handle == handle.lstrip("@").lower()))


def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def normalise_code(code: str) -> str:
    return code.strip().upper().replace("-", "").replace(" ", "")


def create_invitation(uow: UnitOfWork, user_id: int, now: datetime, days: int) -> str:
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
) -> Joined:
    """Link a platform identity to the CRM user the invitation was made for; single use."""
    if resolve_user(uow, platform, workspace, platform_user_id):
        raise UserError("already_linked")
    invitation = uow.session.scalar(
        select(Invitation).where(Invitation.code == normalise_code(code)).with_for_update()
    )
    if invitation is None:
        raise UserError("invitation_unknown")
    if invitation.used_at is not None:
        raise UserError("invitation_used")
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
    )
    uow.session.add(identity)
    uow.session.flush()
    invitation.used_at = now
    invitation.used_by_identity_id = identity.id
    outbox.post_to_unit_channels(
        uow, user.unit_id, "channel/welcome", {"name": user.name, "unit": user.unit.name}, dedupe_key=f"welcome:{identity.id}"
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
class Profile:
    name: str
    handle: str
    role: str
    unit_path: str
    locale: str
    timezone: str
    identities: list[str]


def profile(uow: UnitOfWork, user_id: int) -> Profile:
    user = uow.session.get(User, user_id)
    assert user is not None
    return Profile(
        name=user.name,
        handle=user.handle,
        role=user.role,
        unit_path=" / ".join(unit.name for unit in org.unit_chain(uow, user.unit_id)),
        locale=user.locale,
        timezone=user.timezone,
        identities=sorted(i.platform for i in user.identities),
    )
