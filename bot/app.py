"""Run one bot process, assembled by bot.bootstrap: the public HTTP listener and the admin one, front ends,
outbox dispatcher (here or in a sender child, bot.sender_process), scheduler; or the sender alone."""
import asyncio
import contextlib
import ipaddress
import logging
import signal
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from aiohttp import web

from bot.adapters.console import ConsoleAdapter
from bot.bootstrap import BotProcess, bot_process
from bot.config import Settings
from bot.sender_process import SenderChild, wanted
from bot.services.core import collector
from bot.web.server import start_server

log = logging.getLogger(__name__)


async def serve(
    settings: Settings,
    console_user: str | None = None,
    stdin: TextIO = sys.stdin,
    stdout: TextIO = sys.stdout,
) -> None:
    """Run until a signal (platforms) or end of input (console only)."""
    counters = None  # the sender child's metrics files, removed however start-up ends
    if wanted(settings, console_user):
        counters = tempfile.TemporaryDirectory(prefix="fieldcrm-sender-", ignore_cleanup_errors=True)
    with counters or contextlib.nullcontext():
        await _serve(settings, Path(counters.name) if counters else None, console_user, stdin, stdout)


async def _serve(settings: Settings, metrics_dir: Path | None, console_user: str | None,
                 stdin: TextIO, stdout: TextIO) -> None:
    process = bot_process(settings, console_out=stdout, outbox_metrics=metrics_dir)
    child = SenderChild(process.settings, metrics_dir) if metrics_dir else None
    platforms_only = bool(process.front_ends) and console_user is None
    inline = child is None and (not platforms_only or settings.outbox_sender != "none")  # "none": `fieldcrm send`
    runners: list[web.AppRunner] = []
    tasks: list[asyncio.Task] = []
    try:
        if process.front_ends:
            runners = await _listen(process, child.health if child else lambda: "inline" if inline else "none")
            for front_end in process.front_ends:
                await front_end.start()
        process.scheduler.start()
        if child is not None:
            tasks.append(asyncio.create_task(child.run()))
        elif inline:
            tasks.append(asyncio.create_task(process.dispatcher.run_forever()))
        collector.freeze_start_up()  # full passes of the cycle collector skip what start-up built
        if platforms_only:
            await _stop_on_signal().wait()
        else:
            console = ConsoleAdapter(process.router, console_user or "admin", out=stdout)
            await console.run(stdin, after_each=process.dispatcher.deliver_due)
            await process.dispatcher.deliver_due()
    finally:
        if child is not None:
            await child.stop()
        await _stop(process, runners, tasks)


async def send_only(settings: Settings) -> None:
    """`fieldcrm send`: the outbox dispatcher alone, until SIGTERM or SIGINT (which a sender child
    also sends itself when its parent's pipe closes, bot.sender_process.leave_with_parent)."""
    stop = _stop_on_signal()
    process = bot_process(settings, console_out=sys.stdout)
    tasks = [asyncio.create_task(process.dispatcher.run_forever())]
    try:
        collector.freeze_start_up()
        await stop.wait()
    finally:
        await _stop(process, [], tasks)


async def _listen(process: BotProcess, outbox_sender: Callable[[], str]) -> list[web.AppRunner]:
    """The public listener (webhooks, check-in pages) and the admin one (/healthz, /metrics)."""
    settings = process.settings
    runner, port = await start_server(process.web_app(), settings.HTTP_HOST, settings.HTTP_PORT)
    log.info("HTTP endpoints on %s:%s", settings.HTTP_HOST, port)
    try:
        admin, admin_port = await start_server(process.admin_app(outbox_sender), settings.ADMIN_HOST,
                                               settings.ADMIN_PORT)
    except BaseException:
        await runner.cleanup()
        raise
    log.info("/healthz and /metrics on %s:%s%s", settings.ADMIN_HOST, admin_port,
             " (bearer token required)" if settings.ADMIN_TOKEN else "")
    if not settings.ADMIN_TOKEN and not _loopback(settings.ADMIN_HOST):
        log.warning("ADMIN_HOST %s is not loopback and ADMIN_TOKEN is unset: /metrics is open to that network",
                    settings.ADMIN_HOST)
    return [runner, admin]


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


async def _stop(process: BotProcess, runners: list[web.AppRunner], tasks: list[asyncio.Task]) -> None:
    process.scheduler.shutdown()
    for task in tasks:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    for front_end in process.front_ends:
        await front_end.stop()
    for runner in runners:
        await runner.cleanup()
    await process.router.aclose()  # commands in flight finish
    process.dispose()
    collector.thaw()


def _stop_on_signal() -> asyncio.Event:
    """An event set by SIGINT or SIGTERM, from now on."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    return stop
