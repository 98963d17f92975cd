"""Writing posts into the outbox, in the caller's transaction; the dispatcher delivers them.

A post is kept as a template, the recipient's language and its data (bot.messages.Templated); the
dispatcher renders it in the words of the platform it goes to (command spelling, format).
"""
from datetime import datetime

from sqlalchemy import select

from bot.messages import Templated
from bot.services.core import org
from db.models import OutboxMessage, PlatformIdentity, TeamChannel, User
from db.session import UnitOfWork


def channels_for_unit(uow: UnitOfWork, unit_id: int) -> list[TeamChannel]:
    """The unit's own channels, plus ancestors' channels that ask for news from below."""
    chain = org.unit_chain(uow, unit_id)
    ids = [unit.id for unit in chain]
    channels = uow.session.scalars(
        select(TeamChannel).where(TeamChannel.unit_id.in_(ids), TeamChannel.active.is_(True))
    ).all()
    return [c for c in channels if c.unit_id == unit_id or c.include_subunits]


def already_queued(uow: UnitOfWork, dedupe_key: str | None) -> bool:
    """A post with this key was queued before (a double tap or a retried event): queue nothing."""
    return bool(dedupe_key) and uow.session.scalar(
        select(OutboxMessage.id).where(OutboxMessage.dedupe_key == dedupe_key)
    ) is not None


def post_to_channel(
    uow: UnitOfWork, channel: TeamChannel, template: str, context: dict, kind: str = "post",
    dedupe_key: str | None = None, *, now: datetime,
) -> OutboxMessage | None:
    """Queue a post in the channel's language, due from `now` (the caller's clock, which a test
    sets too); a dedupe_key seen before queues nothing (a double tap announces once)."""
    if already_queued(uow, dedupe_key):
        return None
    message = OutboxMessage(
        platform=channel.platform,
        workspace=channel.workspace,
        chat_id=channel.chat_id,
        channel_id=channel.id,
        kind=kind,
        payload=Templated(template, channel.locale, context).to_json(),
        dedupe_key=dedupe_key,
        created_at=now,
        next_attempt_at=now,
    )
    uow.session.add(message)
    return message


def post_to_unit_channels(
    uow: UnitOfWork, unit_id: int, template: str, context: dict, kind: str = "post", dedupe_key: str | None = None,
    *, now: datetime,
) -> int:
    """Queue a post for each of the unit's channels (each in its own language); returns posts queued."""
    queued = 0
    for channel in channels_for_unit(uow, unit_id):
        key = f"{dedupe_key}:{channel.id}" if dedupe_key else None
        if post_to_channel(uow, channel, template, context, kind, key, now=now):
            queued += 1
    return queued


def direct_route(uow: UnitOfWork, user_id: int) -> PlatformIdentity | None:
    """Where a direct message reaches a user: his most recently linked identity with a DM chat."""
    return uow.session.scalar(
        select(PlatformIdentity)
        .where(PlatformIdentity.user_id == user_id, PlatformIdentity.dm_chat_id.is_not(None),
               PlatformIdentity.unlinked_at.is_(None))
        .order_by(PlatformIdentity.linked_at.desc(), PlatformIdentity.id.desc())
        .limit(1)
    )


def queue_direct(uow: UnitOfWork, user_id: int, template: str, context: dict, dedupe_key: str | None = None,
                 buttons: tuple[dict, ...] = (), *, now: datetime) -> bool:
    """Queue a direct message to a CRM user, in his own language, with its buttons (Templated.buttons),
    due from `now`; False when he has no chat the bot can reach."""
    user = uow.session.get(User, user_id)
    route = direct_route(uow, user_id)
    if user is None or route is None or route.dm_chat_id is None:
        return False
    if already_queued(uow, dedupe_key):
        return True
    uow.session.add(
        OutboxMessage(
            platform=route.platform,
            workspace=route.workspace,
            chat_id=route.dm_chat_id,
            kind="direct",
            payload=Templated(template, user.locale, context, buttons).to_json(),
            dedupe_key=dedupe_key,
            created_at=now,
            next_attempt_at=now,
        )
    )
    return True
