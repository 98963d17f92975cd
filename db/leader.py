"""One holder at a time of a named role on a PostgreSQL database: a session-level advisory lock,
taken on a connection of its own (autocommit, outside the pool) and held while that connection
lives. A process that dies, or whose connection breaks, lets go at once: PostgreSQL ends its
session and its locks with it, and the next process to ask takes the role.

The outbox sender is such a role (bot.delivery): one sender saturates a bot account's budget, and
several only contend for it (three senders on one database spent half as much CPU again on the
same 27 posts a second, asking the database for slots another had just taken).
"""
import contextlib
import hashlib
import logging
from collections.abc import Iterator

import psycopg

from db import watchdog
from db.watchdog import Timeouts

log = logging.getLogger(__name__)


def lock_key(role: str) -> int:
    """The role's advisory lock key: a stable signed 64-bit number from its name."""
    return int.from_bytes(hashlib.sha256(f"fieldcrm:{role}".encode()).digest()[:8], "big", signed=True)


class Leadership:
    """Blocking calls (run them in a thread): `take` tries once, `held` checks the connection."""

    def __init__(self, url: str, role: str, timeouts: Timeouts):
        self.url = url
        self.role = role
        self.key = lock_key(role)
        self.timeouts = timeouts
        self._conn: psycopg.Connection | None = None

    def take(self) -> bool:
        """True when this process holds the role (now or already); False when another does or the
        database does not answer."""
        try:
            if self._conn is None or self._conn.closed:
                self._conn = watchdog.own_connection(self.url, self.timeouts)
            with self._answer_within():
                row = self._conn.execute("SELECT pg_try_advisory_lock(%s)", [self.key]).fetchone()
            return bool(row and row[0])
        except psycopg.Error as exc:
            log.warning("%s: cannot ask the database for the role (%s)", self.role, type(exc).__name__)
            self.release()
            return False

    def held(self) -> bool:
        """Whether the connection holding the role still answers (the lock lives with it)."""
        if self._conn is None or self._conn.closed:
            return False
        try:
            with self._answer_within():
                self._conn.execute("SELECT 1")
            return True
        except psycopg.Error:
            self.release()
            return False

    @contextlib.contextmanager
    def _answer_within(self) -> Iterator[None]:
        """A hung server cuts the request after the connect timeout (db.watchdog), as any other."""
        assert self._conn is not None
        with watchdog.deadline(self.timeouts.connect), watchdog.watched(self._conn):
            yield

    def release(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(psycopg.Error):
                self._conn.close()
            self._conn = None
