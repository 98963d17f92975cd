"""Command worker processes (COMMAND_WORKERS > 0): each worker runs its own Router on its own
database pool; the bot process keeps the rate limit, the metrics and the users' languages.

A worker is `python -m bot.workers`, spoken to over its stdin and stdout: length-prefixed pickles,
read and written by the bot process's event loop itself. (concurrent.futures' process pool moves
every call through two extra threads of the bot process, which then compete for the interpreter
lock with the loop that acks Slack and Telegram: on 2 cores that cost the acks more than the
commands did; bench/slack_path.py.) Each worker runs its commands one after another.

A worker that dies costs the commands it held a polite reply (the router's); the next command
starts a new one in its place.
"""
import asyncio
import itertools
import logging
import os
import pickle
import signal
import struct
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from typing import IO, TYPE_CHECKING, Any

from bot import metrics
from bot.config import Settings
from bot.messages import Incoming, Reply

if TYPE_CHECKING:
    from bot.router import Outcome, Router

log = logging.getLogger(__name__)

# Workers yield the CPU to the bot process, whose event loop acks Slack and Telegram requests: an
# ack that comes late fails the request (Slack allows 3 s), an answer a moment late does not.
WORKER_NICENESS = 10
# A worker told to stop finishes the commands it holds and its answers' posts first, at most this long.
STOP_TIMEOUT_S = 60

# Posts a command's replies from the worker itself (a front end's picklable callable; see
# bot.adapters.slack.answer_from_worker), so the process that acks does not spend its CPU on them.
Answer = Callable[[list[Reply]], None]

_HEADER = struct.Struct(">I")


class WorkerDied(Exception):
    """The worker process ended while it held this command."""


def _frame(message: object) -> bytes:
    body = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    return _HEADER.pack(len(body)) + body


# ---------------------------------------------------------------- in the bot process


class _Worker:
    """One worker process and the commands it holds, by request id."""

    def __init__(self, process: asyncio.subprocess.Process):
        self.process = process
        self.pending: dict[int, asyncio.Future] = {}
        self.stopping = False
        self._ids = itertools.count()
        self._reader = asyncio.ensure_future(self._read_answers())

    @property
    def alive(self) -> bool:
        return self.process.returncode is None and not self._reader.done()

    async def call(self, incoming: Incoming, answer: Answer | None) -> "Outcome":
        if not self.alive:  # it ended while another worker was starting
            raise WorkerDied(f"worker {self.process.pid} ended")
        request_id = next(self._ids)
        outcome = self.pending[request_id] = asyncio.get_running_loop().create_future()
        assert self.process.stdin is not None
        try:
            self.process.stdin.write(_frame((request_id, incoming, answer)))
            await self.process.stdin.drain()
        except (ConnectionError, RuntimeError) as exc:
            self.pending.pop(request_id, None)
            raise WorkerDied(str(exc)) from exc
        return await outcome

    async def _read_answers(self) -> None:
        assert self.process.stdout is not None
        try:
            while True:
                (size,) = _HEADER.unpack(await self.process.stdout.readexactly(_HEADER.size))
                request_id, outcome = pickle.loads(await self.process.stdout.readexactly(size))
                waiting = self.pending.pop(request_id, None)
                if waiting is not None and not waiting.done():
                    waiting.set_result(outcome)
        except (asyncio.IncompleteReadError, ConnectionError):
            if not self.stopping:
                metrics.WORKER_RESTARTS.inc()  # replaced by the next command (WorkerPool._least_busy)
        finally:
            for waiting in self.pending.values():
                if not waiting.done():
                    waiting.set_exception(WorkerDied(f"worker {self.process.pid} ended"))
            self.pending.clear()

    async def stop(self) -> None:
        """End of input: the worker finishes what it holds, then exits."""
        assert self.process.stdin is not None
        self.stopping = True
        if self.process.returncode is None:
            self.process.stdin.close()
            try:
                await asyncio.wait_for(self.process.wait(), STOP_TIMEOUT_S)
            except TimeoutError:
                log.error("command worker %s did not stop in %ss; killed", self.process.pid, STOP_TIMEOUT_S)
                self.process.kill()
                await self.process.wait()
        await self._reader


class WorkerPool:
    def __init__(self, settings: Settings, size: int):
        self.settings = settings
        self.size = size
        self._workers: list[_Worker] = []
        self._starting = asyncio.Lock()  # bound to the running loop at first use

    async def run(self, incoming: Incoming, answer: Answer | None = None) -> "Outcome":
        worker = await self._least_busy()
        try:
            return await worker.call(incoming, answer)
        except WorkerDied:
            log.error("command worker %s died while handling %r", worker.process.pid, incoming.command)
            raise
        except Exception:
            log.exception("command %r could not be run in a worker process", incoming.command)
            raise

    def pids(self) -> list[int]:
        return [worker.process.pid for worker in self._workers if worker.alive]

    async def _least_busy(self) -> _Worker:
        async with self._starting:
            for worker in [worker for worker in self._workers if not worker.alive]:
                self._workers.remove(worker)
                await worker.stop()
                log.warning("command worker %s ended (%s); starting another", worker.process.pid,
                            worker.process.returncode)
            while len(self._workers) < self.size:
                self._workers.append(await self._start())
        return min(self._workers, key=lambda worker: len(worker.pending))

    async def _start(self) -> _Worker:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot.workers", stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        )
        assert process.stdin is not None
        process.stdin.write(_frame(self.settings))
        return _Worker(process)

    async def close(self) -> None:
        """Stop every worker; the commands they hold are answered first."""
        workers, self._workers = self._workers, []
        await asyncio.gather(*(worker.stop() for worker in workers))


# ---------------------------------------------------------------- inside a worker process

_WORKER_ROUTER: "Router | None" = None
_WORKER_SETTINGS: Settings | None = None


def worker_settings() -> Settings:
    """The settings this worker process was started with."""
    assert _WORKER_SETTINGS is not None, "start_worker did not run"
    return _WORKER_SETTINGS


def start_worker(settings: Settings) -> None:
    """This worker's own logging, database pool and router, built once."""
    global _WORKER_ROUTER, _WORKER_SETTINGS
    from bot.logs import configure_logging
    from bot.ratelimit import disabled
    from bot.router import Router
    from db.session import Database

    configure_logging(settings)
    _WORKER_SETTINGS = settings
    os.nice(WORKER_NICENESS)
    # Ctrl-C in a terminal and systemd's stop signal reach the whole process group: the bot process
    # stops its workers itself (end of input), after they have answered what they hold.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    threading.Thread(target=_exit_with_parent, args=(os.getppid(),), name="parent-watch", daemon=True).start()
    # The bot process rate limits (one bucket per user across workers) and records metrics.
    _WORKER_ROUTER = Router(Database(settings.DATABASE_URL), settings, limiter=disabled())


def _exit_with_parent(parent: int) -> None:
    """A bot process killed outright (SIGKILL, OOM) must not leave its workers holding connections,
    even in the middle of a long command (otherwise the end of its input would stop the worker)."""
    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(0)


def run_in_worker(incoming: Incoming, answer: Answer | None = None) -> "Outcome":
    assert _WORKER_ROUTER is not None, "start_worker did not run"
    outcome = _WORKER_ROUTER.measured(incoming, check_limit=False)
    if answer is None or not outcome.replies:
        return outcome
    try:
        answer(outcome.replies)
    except Exception:  # the bot process posts them instead
        log.exception("could not hand %r's replies to the worker's poster", incoming.command)
        return outcome
    return replace(outcome, replies=[])


def _read(stream: IO[bytes]) -> Any:
    header = stream.read(_HEADER.size)
    if len(header) < _HEADER.size:
        return None  # the bot process closed our input: stop
    (size,) = _HEADER.unpack(header)
    return pickle.loads(stream.read(size))


def main() -> None:
    commands, answers = sys.stdin.buffer, os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # a stray print() must not corrupt the answers
    start_worker(_read(commands))
    while (message := _read(commands)) is not None:
        request_id, incoming, answer = message
        answers.write(_frame((request_id, run_in_worker(incoming, answer))))
        answers.flush()


if __name__ == "__main__":
    # Run as the imported module, so that code asking bot.workers (worker_settings) finds this state.
    from bot.workers import main as worker_main

    worker_main()
