"""Assemble one bot process: database, router, front ends, outbox dispatcher, scheduler, HTTP server."""
import asyncio
import contextlib
import logging
import signal
import sys
from typing import Protocol, TextIO

from aiohttp import web

from bot import checkin_page
from bot.adapters.console import ConsoleAdapter, ConsoleSender
from bot.config import Settings
from bot.delivery import Dispatcher, Sender
from bot.metrics import watch_dispatcher
from bot.router import Router
from bot.scheduler import Scheduler
from bot.web import build_web_app, start_server
from db.session import Database

log = logging.getLogger(__name__)


class FrontEnd(Protocol):
    """A platform adapter as the process sees it (Slack, Telegram)."""

    platform: str
    sender: Sender

    def add_routes(self, app: web.Application) -> None: ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


def platform_front_ends(settings: Settings, router: Router) -> list[FrontEnd]:
    front_ends: list[FrontEnd] = []
    if settings.slack_enabled:
        from bot.adapters.slack import SlackFrontEnd

        front_ends.append(SlackFrontEnd(settings, router))
    if settings.telegram_enabled:
        from bot.adapters.telegram import TelegramFrontEnd

        front_ends.append(TelegramFrontEnd(settings, router))
    return front_ends


async def serve(
    settings: Settings,
    console_user: str | None = None,
    stdin: TextIO = sys.stdin,
    stdout: TextIO = sys.stdout,
) -> None:
    """Run until a signal (platforms) or end of input (console only)."""
    db = Database(settings.DATABASE_URL)
    router = Router(db, settings)
    front_ends = platform_front_ends(settings, router)
    senders: dict[str, Sender] = {fe.platform: fe.sender for fe in front_ends}
    senders["console"] = ConsoleSender(stdout)
    dispatcher = Dispatcher(db, senders)
    watch_dispatcher(dispatcher)
    scheduler = Scheduler(db, settings)
    runner: web.AppRunner | None = None
    tasks: list[asyncio.Task] = []
    try:
        if front_ends:
            web_app = build_web_app(db)
            web_app[checkin_page.SETTINGS_KEY] = settings
            for front_end in front_ends:
                front_end.add_routes(web_app)
            runner, port = await start_server(web_app, settings.HTTP_HOST, settings.HTTP_PORT)
            log.info("HTTP endpoints on %s:%s", settings.HTTP_HOST, port)
            for front_end in front_ends:
                await front_end.start()
        scheduler.start()
        tasks.append(asyncio.create_task(dispatcher.run_forever()))
        if front_ends and console_user is None:
            await _until_signal()
        else:
            console = ConsoleAdapter(router, console_user or "admin", out=stdout)
            await console.run(stdin, after_each=dispatcher.deliver_due)
            await dispatcher.deliver_due()
    finally:
        scheduler.shutdown()
        for task in tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for front_end in front_ends:
            await front_end.stop()
        if runner:
            await runner.cleanup()
        await router.aclose()  # the worker processes (COMMAND_WORKERS > 0)
        db.dispose()


async def _until_signal() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
