"""PostgreSQL's LISTEN: a callback for every NOTIFY on a channel, from any process on the database.

The outbox table notifies `outbox` when rows are queued (a statement-level trigger, migration
0033), so every process's dispatcher starts on a post at once, wherever it was queued (another
process, a job, `fieldcrm` tools), instead of at its next poll. The poll stays: a notification is a
hint, never the only way a post is found (one sent while the listener reconnects is simply missed).

The listener holds a connection of its own (autocommit, outside the pool, with the same connect
timeouts and keepalives as the pool's) in a thread of its own; after a failure it reconnects every
RECONNECT_S seconds and calls back once connected again."""
import logging
import threading
from collections.abc import Callable

import psycopg
from psycopg import sql

from db.watchdog import Timeouts, own_connection

log = logging.getLogger(__name__)

RECONNECT_S = 5.0
WAKE_S = 1.0  # how often the thread looks whether it should stop


class Listener:
    def __init__(self, url: str, channel: str, notified: Callable[[], None], timeouts: Timeouts):
        self.url = url
        self.channel = channel
        self.notified = notified
        self.timeouts = timeouts
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"listen-{channel}", daemon=True)

    def start(self) -> "Listener":
        self._thread.start()
        return self

    def stop(self) -> None:
        """The thread ends within WAKE_S (it is a daemon: a process on its way out does not wait)."""
        self._stopping.set()

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                self._listen()
            except psycopg.Error as exc:
                log.warning("LISTEN %s: %s; again in %.0f s", self.channel, type(exc).__name__, RECONNECT_S)
                self._stopping.wait(RECONNECT_S)

    def _listen(self) -> None:
        with own_connection(self.url, self.timeouts) as conn:
            conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self.channel)))
            self.notified()  # (re)connected: what was queued meanwhile is looked at now
            while not self._stopping.is_set():
                for _ in conn.notifies(timeout=WAKE_S):
                    self.notified()
