"""A platform adapter as the process sees it (Slack, Telegram): its routes, its sender, start and stop."""
from typing import Protocol

from aiohttp import web

from bot.delivery import Sender


class FrontEnd(Protocol):
    platform: str
    sender: Sender
    command_prefix: str
    location_ask: str  # how a rep shares his position here (bot.messages.Incoming.location_ask)

    def add_routes(self, app: web.Application) -> None: ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...
