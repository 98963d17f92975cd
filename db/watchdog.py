"""Bounded waits on PostgreSQL, so a database that hangs costs a user a "try again", not a stuck process.

A refused connection fails at once; a database that accepts and never answers (a stopped server, a
stalled disk, a network that drops packets, a hung proxy) would hold the waiting thread forever.
Three layers bound every wait (`Timeouts`, applied by db.session.make_engine):

- the server bounds its own work: `statement_timeout`, `lock_timeout` and
  `idle_in_transaction_session_timeout`, sent as startup options;
- the kernel bounds a dead network: libpq's `connect_timeout` (the whole handshake), TCP
  keepalives for idle pooled connections, and `tcp_user_timeout` for data never acknowledged;
- this module bounds a live host whose server does not answer, which the first two cannot see:
  the server-side timers stop with the server, and its kernel still acknowledges every packet.
  libpq has no read timeout, and a cancel request (`Connection.cancel_safe`) travels over a new
  connection to the same unanswering server (a late one may even cancel a later statement).

So every request on a connection (execute, fetch from a server-side cursor, commit, rollback, the
pool's pre-ping) is armed with a deadline: the one of the enclosing `deadline()` block (a user's
command: all of its database work must be done by then), else `Timeouts.command` for that request
alone (background work: jobs, delivery). One watchdog thread shuts the connection's socket down
when a deadline passes. shutdown(2) on a duplicate of the descriptor, not close(): libpq keeps its
descriptor, so no other connection can be handed that number meanwhile. libpq then reads end of
file, psycopg raises OperationalError (here `NoAnswer`) with the connection broken, SQLAlchemy
counts it a disconnect and drops the connection from the pool, and the next request opens a fresh
one: recovery needs no restart. Nothing is half-written: the transaction never committed here; the
server rolls it back when it reads the end of file, or, if our COMMIT had already reached it, commits
it whole.
"""
import itertools
import math
import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import psycopg
from sqlalchemy.engine import make_url

# A request started after its command's deadline still gets this long: a command that is still
# working (a long export streaming batches) goes on while the database answers.
MIN_ANSWER_S = 1.0
# libpq ignores a connect_timeout under 2 s.
MIN_CONNECT_S = 2
KEEPALIVE = {"keepalives": 1, "keepalives_idle": 30, "keepalives_interval": 10, "keepalives_count": 3}

_DEADLINE: ContextVar[float | None] = ContextVar("database_deadline", default=None)


@dataclass(frozen=True)
class Timeouts:
    """Seconds. statement, lock and idle_in_transaction: 0 leaves PostgreSQL's own (no limit)."""

    connect: int = 5
    statement: float = 15.0
    lock: float = 10.0
    idle_in_transaction: float = 60.0
    command: float = 20.0
    pool: float = 10.0

    def server_options(self) -> str:
        values = {"statement_timeout": self.statement, "lock_timeout": self.lock,
                  "idle_in_transaction_session_timeout": self.idle_in_transaction}
        return " ".join(f"-c {name}={round(seconds * 1000)}" for name, seconds in values.items())

    def connect_args(self) -> dict[str, Any]:
        args: dict[str, Any] = {"options": f"-c jit=off {self.server_options()}", "connect_timeout": self.connect,
                                **KEEPALIVE}
        if psycopg.pq.version() >= 120000:  # tcp_user_timeout came with libpq 12
            args["tcp_user_timeout"] = round(self.command * 1000)
        return args


class NoAnswer(psycopg.OperationalError):
    """The database did not answer in time; the connection was cut (SQLAlchemy: OperationalError)."""


@contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Database work in this block (this thread or context) must be done within `seconds`; a
    nested block cannot extend its parent's deadline."""
    at = time.monotonic() + seconds
    outer = _DEADLINE.get()
    token = _DEADLINE.set(at if outer is None else min(at, outer))
    try:
        yield
    finally:
        _DEADLINE.reset(token)


def deadline_at(at: float) -> AbstractContextManager[None]:
    """deadline() for an instant on time.monotonic()'s clock."""
    return deadline(at - time.monotonic())


def connect_timeout(configured: int) -> int:
    """The connect_timeout for a connection opened now: what is left of the deadline, if less."""
    at = _DEADLINE.get()
    if at is None:
        return configured
    left = at - time.monotonic()
    if left <= 0:
        raise NoAnswer("no time left to connect to the database")
    return max(MIN_CONNECT_S, min(configured, math.ceil(left)))


@dataclass
class _Armed:
    at: float
    fd: int
    fired: bool = False


class Watchdog:
    """One thread that shuts down the socket of every request whose deadline passed."""

    def __init__(self) -> None:
        self._forget()
        self._tickets = itertools.count()
        os.register_at_fork(after_in_child=self._forget)  # a forked child has no watchdog thread

    def _forget(self) -> None:
        self._cond = threading.Condition()
        self._armed: dict[int, _Armed] = {}
        self._wake_at = math.inf
        self._thread: threading.Thread | None = None

    def arm(self, fd: int, at: float) -> int:
        armed = _Armed(at, os.dup(fd))
        with self._cond:
            ticket = next(self._tickets)
            self._armed[ticket] = armed
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="db-watchdog", daemon=True)
                self._thread.start()
            if at < self._wake_at:  # most deadlines come after the one it sleeps towards: no wake-up
                self._wake_at = at
                self._cond.notify()
        return ticket

    def disarm(self, ticket: int) -> bool:
        """Stop watching; True when the deadline had passed and the socket was cut. Idempotent."""
        with self._cond:
            armed = self._armed.pop(ticket, None)
        if armed is None:
            return False
        os.close(armed.fd)
        return armed.fired

    def _run(self) -> None:
        with self._cond:
            while True:
                now = time.monotonic()
                waiting = [armed for armed in self._armed.values() if not armed.fired]
                for armed in waiting:
                    if armed.at <= now:
                        _cut(armed.fd)
                        armed.fired = True
                self._wake_at = min((a.at for a in waiting if not a.fired), default=math.inf)
                self._cond.wait(None if self._wake_at == math.inf else min(self._wake_at - now, 60.0))


def _cut(fd: int) -> None:
    try:
        sock = socket.socket(fileno=fd)
    except OSError:
        return
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass  # already gone
    finally:
        sock.detach()  # the descriptor is closed by disarm()


WATCHDOG = Watchdog()


@contextmanager
def watched(conn: psycopg.Connection) -> Iterator[None]:
    """One request on `conn`, cut when its deadline passes."""
    try:
        fd = conn.fileno()
    except psycopg.Error:  # already broken: psycopg will say so itself
        yield
        return
    now = time.monotonic()
    scope = _DEADLINE.get()
    at = now + getattr(conn, "answer_within", Timeouts.command) if scope is None else max(scope, now + MIN_ANSWER_S)
    ticket = WATCHDOG.arm(fd, at)
    try:
        yield
    except psycopg.OperationalError as exc:
        if WATCHDOG.disarm(ticket):
            raise NoAnswer(f"no answer from the database within {at - now:.1f} s") from exc
        raise
    finally:
        WATCHDOG.disarm(ticket)


class _WatchedRequests:
    """The requests a cursor sends; mixed into psycopg's cursor classes."""

    connection: psycopg.Connection

    def execute(self, *args: Any, **kwargs: Any) -> Any:
        with watched(self.connection):
            return super().execute(*args, **kwargs)  # type: ignore[misc]

    def executemany(self, *args: Any, **kwargs: Any) -> Any:
        with watched(self.connection):
            return super().executemany(*args, **kwargs)  # type: ignore[misc]


class WatchedCursor(_WatchedRequests, psycopg.Cursor):
    """Client-side cursor: the rows arrive with execute()."""


class WatchedServerCursor(_WatchedRequests, psycopg.ServerCursor):
    """Server-side cursor (yield_per): every fetch is a request too."""

    def fetchone(self) -> Any:
        with watched(self.connection):
            return super().fetchone()

    def fetchmany(self, size: int = 0) -> Any:
        with watched(self.connection):
            return super().fetchmany(size)

    def fetchall(self) -> Any:
        with watched(self.connection):
            return super().fetchall()

    def close(self) -> None:
        with watched(self.connection):
            super().close()


class WatchedConnection(psycopg.Connection):
    """psycopg's connection whose cursors, commit and rollback are watched."""

    answer_within: float = Timeouts.command

    def commit(self) -> None:
        with watched(self):
            super().commit()

    def rollback(self) -> None:
        with watched(self):
            super().rollback()


def own_connection(url: str, timeouts: Timeouts) -> psycopg.Connection:
    """A connection outside the pool, autocommit, for a session-long job (LISTEN, an advisory lock):
    the pool's connect timeout and keepalives, none of its server options (a LISTEN waits idle
    between notifications, which no statement or idle timeout must end)."""
    conninfo = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    args = {key: value for key, value in timeouts.connect_args().items() if key != "options"}
    return psycopg.connect(conninfo, autocommit=True, **args)


def connect(timeouts: Timeouts, cargs: tuple, cparams: dict[str, Any]) -> WatchedConnection:
    """What the engine's do_connect hook returns: a watched connection, its connect_timeout
    shortened to what is left of the deadline."""
    cparams = {**cparams, "cursor_factory": WatchedCursor}
    cparams["connect_timeout"] = connect_timeout(int(cparams.get("connect_timeout", timeouts.connect)))
    conn = WatchedConnection.connect(*cargs, **cparams)
    conn.server_cursor_factory = WatchedServerCursor
    conn.answer_within = timeouts.command
    return conn
