"""Run one bot process, assembled by bot.bootstrap: HTTP server, front ends, outbox dispatcher, scheduler."""
import asyncio
import contextlib
import logging
import signal
import sys
from typing import TextIO

from aiohttp import web

from bot.adapters.console import ConsoleAdapter
from bot.bootstrap import BotProcess, bot_process
from bot.config import Settings
from bot.web.server import start_server

log = logging.getLogger(__name__)


async def serve(
    settings: Settings,
    console_user: str | None = None,
    stdin: TextIO = sys.stdin,
    stdout: TextIO = sys.stdout,
) -> None:
    """Run until a signal (platforms) or end of input (console only)."""
    process = bot_process(settings, console_out=stdout)
    runner: web.AppRunner | None = None
    tasks: list[asyncio.Task] = []
    try:
        if process.front_ends:
            runner, port = await start_server(process.web_app(), settings.HTTP_HOST, settings.HTTP_PORT)
            log.info("HTTP endpoints on %s:%s", settings.HTTP_HOST, port)
            for front_end in process.front_ends:
                await front_end.start()
        process.scheduler.start()
        tasks.append(asyncio.create_task(process.dispatcher.run_forever()))
        if process.front_ends and console_user is None:
            await _until_signal()
        else:
            console = ConsoleAdapter(process.router, console_user or "admin", out=stdout)
            await console.run(stdin, after_each=process.dispatcher.deliver_due)
            await process.dispatcher.deliver_due()
    finally:
        await _stop(process, runner, tasks)


async def _stop(process: BotProcess, runner: web.AppRunner | None, tasks: list[asyncio.Task]) -> None:
    process.scheduler.shutdown()
    for task in tasks:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    for front_end in process.front_ends:
        await front_end.stop()
    if runner:
        await runner.cleanup()
    await process.router.aclose()  # commands in flight finish
    process.dispose()


async def _until_signal() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
