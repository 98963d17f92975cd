"""Engine, session factory and the unit of work every service receives."""
import math
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Self

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session, sessionmaker

from db import json_values, watchdog
from db.leader import Leadership
from db.listen import Listener
from db.watchdog import Timeouts

PING_AFTER_IDLE_S = 1.0


def make_engine(url: str, timeouts: Timeouts | None = None, **kwargs: object) -> Engine:
    """SQLite: its busy timeout. PostgreSQL: every wait bounded by `timeouts` (db.watchdog). Both: JSON
    columns written by db.json_values."""
    kwargs.setdefault("json_serializer", json_values.dumps)
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record) -> None:
            # Let SQLAlchemy, not pysqlite, emit BEGIN (documented SQLite recipe).
            dbapi_conn.isolation_level = None
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin_immediate(conn) -> None:
            # Writers queue on the database lock instead of failing halfway with "database is locked".
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    timeouts = timeouts or Timeouts()
    # OLTP queries of a few ms: JIT compiling (tens of ms, triggered by misestimates) never pays off.
    kwargs["connect_args"] = {**timeouts.connect_args(), **kwargs.get("connect_args", {})}  # type: ignore[dict-item]
    if "poolclass" not in kwargs:
        kwargs.setdefault("pool_size", 10)
        kwargs.setdefault("max_overflow", 20)
        kwargs.setdefault("pool_timeout", timeouts.pool)
    engine = create_engine(url, **kwargs)

    @event.listens_for(engine, "do_connect")
    def _watched_connection(_dialect, _record, cargs, cparams):  # noqa: ANN001, ANN202
        return watchdog.connect(timeouts, tuple(cargs), cparams)

    _ping_when_idle(engine)
    return engine


def _ping_when_idle(engine: Engine) -> None:
    """pool_pre_ping's check (a dead connection is replaced before anyone uses it, after a database
    restart say), for connections idle longer than PING_AFTER_IDLE_S only: pre_ping cost a round
    trip on every checkout, several per outbox post. One used again sooner, whose server went away
    meanwhile, fails its first statement like any mid-transaction outage, and the pool then drops
    every connection older than the failure (SQLAlchemy's disconnect handling)."""

    @event.listens_for(engine, "checkin")
    def _idle_from(_dbapi_connection, record) -> None:  # noqa: ANN001
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping(dbapi_connection, record, _proxy) -> None:  # noqa: ANN001
        if time.monotonic() - record.info.get("idle_since", math.inf) < PING_AFTER_IDLE_S:
            return  # in use a moment ago (a new connection has no idle_since: it was just made)
        try:
            engine.dialect.do_ping(dbapi_connection)
        except watchdog.NoAnswer:
            raise  # the deadline cut the ping: no time is left to connect again (the pool drops this one)
        except engine.dialect.loaded_dbapi.Error as exc:
            raise DisconnectionError(str(exc)) from exc  # the pool reconnects and checks out again


class UnitOfWork:
    """One transaction. `with uow:` opens it; commit() is explicit; leaving without commit rolls back."""

    def __init__(self, session_factory: Callable[[], Session]):
        self._session_factory = session_factory
        self.session: Session

    def __enter__(self) -> Self:
        self.session = self._session_factory()
        return self

    def __exit__(self, *exc_info: object) -> None:
        # close() rolls back anything uncommitted and detaches objects without expiring them.
        self.session.close()

    def commit(self) -> None:
        self.session.commit()

    def rollback(self) -> None:
        self.session.rollback()

    @property
    def dialect(self) -> str:
        return self.session.get_bind().dialect.name


class Database:
    """What the process holds: the engine and a factory of units of work."""

    def __init__(self, url: str, timeouts: Timeouts | None = None, **engine_kwargs: object):
        self.url = url
        self.timeouts = timeouts or Timeouts()
        self.engine = make_engine(url, self.timeouts, **engine_kwargs)
        self.session_factory = sessionmaker(self.engine, expire_on_commit=False)

    def uow(self) -> UnitOfWork:
        return UnitOfWork(self.session_factory)

    def deadline(self, seconds: float | None = None) -> AbstractContextManager[None]:
        """The database work in this block must be done within `seconds` (default: the command
        timeout), or it fails with OperationalError (PostgreSQL; see db.watchdog)."""
        return watchdog.deadline(self.timeouts.command if seconds is None else seconds)

    def listen(self, channel: str, notified: Callable[[], None]) -> "Listener | None":
        """Call `notified` (from another thread) on every NOTIFY on `channel`; None on SQLite."""
        if self.engine.dialect.name != "postgresql":
            return None
        return Listener(self.url, channel, notified, self.timeouts).start()

    def leadership(self, role: str) -> "Leadership | None":
        """One process at a time in `role` on this database (db.leader); None on SQLite, where one
        process is all there is."""
        if self.engine.dialect.name != "postgresql":
            return None
        return Leadership(self.url, role, self.timeouts)

    def dispose(self) -> None:
        self.engine.dispose()
