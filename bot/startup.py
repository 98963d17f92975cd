"""Start-up against services that may not be up yet: the database and the chat platforms.

Whatever is unreachable is named in one log line, without a traceback, and tried again after a
growing pause (1, 2, 4, 8, 15, then every 30 seconds) until it answers. What can never succeed
(a token the platform rejects) is a StartupError: one line, and the process exits.
"""
import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

from db import watchdog
from db.session import make_engine
from db.watchdog import Timeouts

log = logging.getLogger(__name__)

BACKOFF_S = (1.0, 2.0, 4.0, 8.0, 15.0, 30.0)


class StartupError(Exception):
    """Start-up cannot succeed however often it is tried; the message names what and why."""


class Unreachable(Exception):
    """Worth another try: the message names what did not answer and how."""


def pause(attempt: int) -> float:
    """Seconds to wait after the attempt-th failure (0-based)."""
    return BACKOFF_S[min(attempt, len(BACKOFF_S) - 1)]


def reason(exc: BaseException) -> str:
    """The first line of what went wrong, with the library's own exception when it wraps one."""
    inner = getattr(exc, "orig", None) or exc.__cause__ or exc
    first = (str(inner).strip().splitlines() or [""])[0]
    return f"{type(inner).__name__}: {first[:200]}" if first else type(inner).__name__


def database_reachable(url: str, timeouts: Timeouts | None = None) -> None:
    """Unreachable unless the database answers SELECT 1 within the connect timeout, also when it
    accepts and never answers (db.watchdog)."""
    timeouts = timeouts or Timeouts()
    engine = make_engine(url, timeouts, poolclass=NullPool)
    try:
        with watchdog.deadline(timeouts.connect), engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except DBAPIError as exc:
        where = make_url(url).render_as_string(hide_password=True)
        raise Unreachable(f"database {where} unreachable ({reason(exc)})") from None
    finally:
        engine.dispose()


def wait_for_database(url: str, sleep: Callable[[float], object] = time.sleep,
                      attempts: int | None = None, timeouts: Timeouts | None = None) -> None:
    """Return once the database answers; until then one line per try and a growing pause.
    With `attempts`, give up after so many (raising Unreachable)."""
    attempt = 0
    while True:
        try:
            database_reachable(url, timeouts)
            return
        except Unreachable as exc:
            if attempts is not None and attempt + 1 >= attempts:
                raise
            log.error("%s; trying again in %.0f s", exc, pause(attempt))
            sleep(pause(attempt))
            attempt += 1


async def until_reachable(connect: Callable[[], Awaitable[None]],
                          sleep: Callable[[float], Awaitable[object]] = asyncio.sleep) -> None:
    """Call `connect` until it stops raising Unreachable, one line per failure."""
    attempt = 0
    while True:
        try:
            await connect()
            return
        except Unreachable as exc:
            log.error("%s; trying again in %.0f s", exc, pause(attempt))
            await sleep(pause(attempt))
            attempt += 1
