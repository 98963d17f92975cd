"""A platform adapter as the process sees it (Slack, Telegram): its routes, its sender, start and stop;
and `answer`, the one way every front end runs an incoming event and sends its replies."""
from collections.abc import Awaitable, Callable
from typing import Protocol

from aiohttp import web

from bot.delivery import Sender
from bot.messages import Incoming, Reply
from bot.router import Router

# Sends one event's replies; True when every one of them left.
Send = Callable[[list[Reply]], Awaitable[bool]]


class FrontEnd(Protocol):
    platform: str
    sender: Sender
    command_prefix: str
    location_ask: str  # how a rep shares his position here (bot.messages.Incoming.location_ask)

    def add_routes(self, app: web.Application) -> None: ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


async def answer(router: Router, incoming: Incoming, send: Send) -> list[Reply]:
    """Run the event through the router, send its replies, then tell the router whether they left:
    a redelivery of the event is answered again only when they did not (one UPDATE when they did).
    No replies, nothing to report (an ignored retry must not speak for the delivery it repeats)."""
    replies = await router.handle_async(incoming)
    if not replies:
        return replies
    delivered = False
    try:
        delivered = await send(replies)
    finally:
        await router.sent_async(incoming, delivered)
    return replies
