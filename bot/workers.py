"""Command worker processes (COMMAND_WORKERS > 0): each worker runs its own Router on its own
database pool; the bot process keeps the rate limit, the metrics and the users' languages.

A worker that dies breaks the pool: the commands it held fail (the router answers them politely),
the pool is dropped once and started again for the next command.
"""
import asyncio
import logging
import multiprocessing
import os
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import TYPE_CHECKING

from bot import metrics
from bot.config import Settings
from bot.messages import Incoming

if TYPE_CHECKING:
    from bot.router import Outcome, Router

log = logging.getLogger(__name__)

# Workers yield the CPU to the bot process, whose event loop acks Slack and Telegram requests: an
# ack that comes late fails the request (Slack allows 3 s), an answer a moment late does not.
# Measured on 2 cores (bench/slack_path.py, 200 clients): the ack median went from 1.9x to 1.4x bare.
WORKER_NICENESS = 10


class WorkerPool:
    def __init__(self, settings: Settings, size: int):
        self.settings = settings
        self.size = size
        self._pool: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()

    async def run(self, incoming: Incoming) -> "Outcome":
        pool = self._started()
        try:
            return await asyncio.get_running_loop().run_in_executor(pool, run_in_worker, incoming)
        except BrokenProcessPool:
            log.error("command worker died while handling %r; starting new workers", incoming.command)
            metrics.WORKER_RESTARTS.inc()
            self._replace(pool)
            raise
        except Exception:
            log.exception("command %r failed in a worker process", incoming.command)
            raise

    def _started(self) -> ProcessPoolExecutor:
        if self._pool is None:
            with self._lock:
                if self._pool is None:
                    self._pool = ProcessPoolExecutor(
                        self.size, mp_context=multiprocessing.get_context("spawn"),
                        initializer=start_worker, initargs=(self.settings,),
                    )
        return self._pool

    def _replace(self, broken: ProcessPoolExecutor) -> None:
        """Drop a broken pool once (many commands fail together); the next command starts a new one."""
        with self._lock:
            if self._pool is broken:
                self._pool = None
        broken.shutdown(wait=False, cancel_futures=True)

    def close(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)


# ---------------------------------------------------------------- inside a worker process

_WORKER_ROUTER: "Router | None" = None


def start_worker(settings: Settings) -> None:
    """Pool initializer: this worker's own logging, database pool and router, built once."""
    global _WORKER_ROUTER
    from bot.logs import configure_logging
    from bot.ratelimit import disabled
    from bot.router import Router
    from db.session import Database

    configure_logging(settings)
    os.nice(WORKER_NICENESS)
    threading.Thread(target=_exit_with_parent, args=(os.getppid(),), name="parent-watch", daemon=True).start()
    # The bot process rate limits (one bucket per user across workers) and records metrics.
    _WORKER_ROUTER = Router(Database(settings.DATABASE_URL), settings, limiter=disabled())


def _exit_with_parent(parent: int) -> None:
    """A bot process killed outright (SIGKILL, OOM) must not leave its workers holding connections."""
    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(0)


def run_in_worker(incoming: Incoming) -> "Outcome":
    assert _WORKER_ROUTER is not None, "start_worker did not run"
    return _WORKER_ROUTER.measured(incoming, check_limit=False)
