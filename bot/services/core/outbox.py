"""Writing posts into the outbox, in the caller's transaction; the dispatcher delivers them."""
from sqlalchemy import select

from bot.i18n import render
from bot.messages import Reply
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
    uow: UnitOfWork, channel: TeamChannel, reply: Reply, kind: str = "post", dedupe_key: str | None = None
) -> OutboxMessage | None:
    """Queue a post; a dedupe_key seen before queues nothing (a double tap announces once)."""
    if already_queued(uow, dedupe_key):
        return None
    message = OutboxMessage(
        platform=channel.platform,
        workspace=channel.workspace,
        chat_id=channel.chat_id,
        channel_id=channel.id,
        kind=kind,
        payload=reply.to_json(),
        dedupe_key=dedupe_key,
    )
    uow.session.add(message)
    return message


def post_to_unit_channels(
    uow: UnitOfWork, unit_id: int, template: str, context: dict, kind: str = "post", dedupe_key: str | None = None
) -> int:
    """Render a template per channel (each in its own language) and queue it; returns posts queued."""
    queued = 0
    for channel in channels_for_unit(uow, unit_id):
        key = f"{dedupe_key}:{channel.id}" if dedupe_key else None
        if post_to_channel(uow, channel, render(template, channel.locale, **context), kind, key):
            queued += 1
    return queued


def direct_route(uow: UnitOfWork, user_id: int) -> PlatformIdentity | None:
    """Where a direct message reaches a user: his most recently linked identity with a DM chat."""
    return uow.session.scalar(
        select(PlatformIdentity)
        .where(PlatformIdentity.user_id == user_id, PlatformIdentity.dm_chat_id.is_not(None))
        .order_by(PlatformIdentity.linked_at.desc(), PlatformIdentity.id.desc())
        .limit(1)
    )


def send_direct(uow: UnitOfWork, user_id: int, reply: Reply, dedupe_key: str | None = None) -> bool:
    """Queue a direct message to a CRM user; False when he has no chat the bot can reach."""
    route = direct_route(uow, user_id)
    if route is None or route.dm_chat_id is None:
        return False
    if already_queued(uow, dedupe_key):
        return True
    uow.session.add(
        OutboxMessage(
            platform=route.platform,
            workspace=route.workspace,
            chat_id=route.dm_chat_id,
            kind="direct",
            payload=reply.to_json(),
            dedupe_key=dedupe_key,
        )
    )
    return True


def render_direct(uow: UnitOfWork, user_id: int, template: str, context: dict, dedupe_key: str | None = None) -> bool:
    """Render a template in the recipient's own language and queue it as a direct message."""
    user = uow.session.get(User, user_id)
    if user is None:
        return False
    return send_direct(uow, user_id, render(template, user.locale, **context), dedupe_key)


def queue_direct_replies(uow: UnitOfWork, replies: list[Reply]) -> list[Reply]:
    """Replies addressed to another user go through the outbox; the rest answer the caller now."""
    answer_now = []
    for reply in replies:
        if reply.to_user_id is None:
            answer_now.append(reply)
        else:
            send_direct(uow, reply.to_user_id, reply)
    return answer_now
