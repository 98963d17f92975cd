"""The outbox sender of a `fieldcrm run` in a child process of its own (OUTBOX_SENDER=child, the
default on PostgreSQL with a platform configured).

Why a process: a fan-out's sends (each a budget attempt, a call to the platform and two small
writes) took about a fifth of the interpreter's time in the process that answers people, and a person's answer
waited for them at the interpreter lock, which threads cannot share out. In a process of its own,
at a lower CPU priority (SENDER_NICE: the machine's scheduler, too, serves a person first), the
posts leave at the same rate and the answers during a fan-out stay near their idle times (see the
benchmarks page).

The child is `fieldcrm send --child` with its parent's settings: its own database pool, senders and
dispatcher, sharing the outbox and the send budget through PostgreSQL as any other process does,
woken by the outbox's NOTIFY. It leaves when its parent's pipe closes (the parent stopped, or died),
and the parent starts it again when it dies. Its counters reach the parent's /metrics through
prometheus-client's multiprocess files (bot.metrics).
"""
import asyncio
import contextlib
import logging
import os
import signal
import sys
import threading
import time
from pathlib import Path

from prometheus_client.multiprocess import mark_process_dead

from bot.config import Settings

log = logging.getLogger(__name__)

RESTART_FIRST_S = 1.0  # a child that died is started again after this, doubling up to RESTART_MAX_S
RESTART_MAX_S = 30.0
STOP_GRACE_S = 15.0  # to finish its sends in flight and give back the posts it leased


def wanted(settings: Settings, console_user: str | None) -> bool:
    """Whether `fieldcrm run` sends through a child: never for the console, which sends after each line."""
    return settings.outbox_sender == "child" and console_user is None


class SenderChild:
    """Starts the child, starts it again when it dies, and stops it with the process."""

    def __init__(self, settings: Settings, metrics_dir: Path):
        self.settings = settings
        self.metrics_dir = metrics_dir
        self.state = "starting"
        self._proc: asyncio.subprocess.Process | None = None
        self._stopping = False

    def health(self) -> str:
        return f"child {self.state}"

    def _env(self) -> dict[str, str]:
        """The parent's settings as it holds them (the shared SECRET_KEY included), not as the
        environment spells them; the multiprocess directory for its counters."""
        values = {name: str(value) for name, value in self.settings.model_dump().items() if value is not None}
        inherited = {key: value for key, value in os.environ.items() if key not in Settings.model_fields}
        return {**inherited, **values, "PROMETHEUS_MULTIPROC_DIR": str(self.metrics_dir)}

    async def run(self) -> None:
        delay = RESTART_FIRST_S
        while not self._stopping:
            started = time.monotonic()
            self._proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot.cli", "send", "--child", stdin=asyncio.subprocess.PIPE, env=self._env())
            self.state = "running"
            code = await self._proc.wait()
            mark_process_dead(self._proc.pid, str(self.metrics_dir))  # its gauge no longer counts
            if self._stopping:
                return
            self.state = "restarting"
            if time.monotonic() - started > RESTART_MAX_S:
                delay = RESTART_FIRST_S  # it had been running well: not a crash loop
            log.warning("outbox sender child exited (code %s); starting it again in %ss", code, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, RESTART_MAX_S)

    async def stop(self) -> None:
        """Close its pipe, its signal to leave; kill it when it has not left within STOP_GRACE_S."""
        self._stopping = True
        proc = self._proc
        if proc is None or proc.returncode is not None:
            return
        if proc.stdin is not None:
            proc.stdin.close()
        try:
            async with asyncio.timeout(STOP_GRACE_S):
                await proc.wait()
        except TimeoutError:
            log.warning("outbox sender child did not stop within %ss; killed", STOP_GRACE_S)
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()


def leave_with_parent(nice: int) -> None:
    """In the child, first thing: lower its CPU priority by `nice`, and send itself SIGTERM once its
    standard input (the pipe from its parent) reaches its end, whatever it is doing then (waiting
    for the database, sending): the parent stopped, or died."""
    try:
        os.nice(nice)
    except OSError as exc:  # a container may refuse it: the child still sends, at the same priority
        log.warning("outbox sender child: could not lower its priority (%s)", exc)

    def watch() -> None:
        with contextlib.suppress(OSError, ValueError):
            while sys.stdin.buffer.read(4096):
                pass
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="parent-pipe", daemon=True).start()
