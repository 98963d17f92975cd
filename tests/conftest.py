"""Shared fixtures. Database tests run on SQLite and on PostgreSQL (`db` is parametrised).

PostgreSQL: each test session creates its own database (so parallel runs never collide),
migrates it once, and every test starts from empty tables. With CI=true a missing server
is a failure, not a skip.
"""
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from bot.adapters.console import ConsoleAdapter
from bot.bootstrap import build_router, open_database
from bot.config import Settings, load_settings
from bot.delivery import rendered
from bot.messages import Reply
from bot.router import Router
from bot.services.core import demo
from db.base import utcnow
from db.migrate import upgrade
from db.models import Base, OutboxMessage
from db.session import Database

PG_ADMIN_URL = os.environ.get("TEST_POSTGRES_ADMIN", "postgresql://postgres@127.0.0.1:5432/test")
IN_CI = os.environ.get("CI", "").lower() == "true"


def _pg_reachable() -> bool:
    try:
        with psycopg.connect(PG_ADMIN_URL, connect_timeout=3):
            return True
    except psycopg.OperationalError:
        return False


@contextmanager
def empty_pg_database(label: str) -> Iterator[str]:
    """A PostgreSQL database of its own, with no tables; dropped afterwards. Skips when no server
    answers (fails with CI=true)."""
    if not _pg_reachable():
        if IN_CI:
            pytest.fail(f"PostgreSQL is not reachable at {PG_ADMIN_URL} and CI=true")
        pytest.skip("PostgreSQL not reachable")
    name = f"fieldcrm_{label}_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://") + f"/{name}"
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A fresh, migrated PostgreSQL database for this test session."""
    with empty_pg_database("test") as url:
        upgrade(url)
        yield url


@pytest.fixture(scope="session")
def sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'fieldcrm.sqlite3'}"
    upgrade(url)
    return url


def empty_tables(database: Database) -> None:
    """Every table emptied, children first, and on PostgreSQL every sequence back to 1. DELETE, not
    TRUNCATE: a test leaves a few rows, and TRUNCATE of 45 tables (new files for each) cost 0.3-1.4 s
    a test against DELETE's 5-15 ms. A cycle of references DELETE cannot undo falls back to TRUNCATE."""
    tables = [t.name for t in reversed(Base.metadata.sorted_tables)]
    postgresql = database.engine.dialect.name == "postgresql"
    try:
        with database.engine.begin() as conn:
            for table in tables:
                conn.execute(text(f'DELETE FROM "{table}"'))
            if postgresql:
                conn.execute(text("SELECT setval(c.oid, 1, false) FROM pg_class c WHERE c.relkind = 'S'"))
    except IntegrityError:
        if not postgresql:
            raise
        with database.engine.begin() as conn:
            conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A test marked pg_only runs on PostgreSQL alone: its SQLite variant is not collected."""
    keep, drop = [], []
    for item in items:
        on_sqlite = getattr(item, "callspec", None) is not None and item.callspec.params.get("db_url") == "sqlite"
        (drop if on_sqlite and item.get_closest_marker("pg_only") else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


@pytest.fixture(params=["sqlite", "pg"])
def db_url(request: pytest.FixtureRequest) -> str:
    return request.getfixturevalue(f"{request.param}_url")


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = open_database(db_url)
    empty_tables(database)
    yield database
    database.dispose()


@pytest.fixture
def pg_db(pg_url: str) -> Iterator[Database]:
    """PostgreSQL only: for concurrency tests with real parallel connections."""
    database = open_database(pg_url)
    empty_tables(database)
    yield database
    database.dispose()


@pytest.fixture
def settings(db: Database, tmp_path: Path) -> Settings:
    return load_settings(env_file=None, DATABASE_URL=db.url, SECRET_KEY="test-secret", PHOTO_DIR=tmp_path / "photos")


@pytest.fixture
def router(db: Database, settings: Settings) -> Router:
    return build_router(db, settings)


def load_demo_org(db: Database) -> Database:
    """The demo org (bot.services.core.demo) loaded into an empty database."""
    with db.uow() as uow:
        demo.load_demo(uow, utcnow())
        uow.commit()
    return db


@pytest.fixture
def demo_org(db: Database) -> Database:
    return load_demo_org(db)


@pytest.fixture
def demo_pool(demo_org: Database) -> Database:
    """The demo org; its "demo pool" holds six unassigned leads, #1 to #6."""
    return demo_org


@pytest.fixture
def console(router: Router, demo_org: Database) -> ConsoleAdapter:
    """A console chat on the demo org, speaking as the admin; `/as li` switches."""
    return ConsoleAdapter(router, "admin")


def posted(message: OutboxMessage, command_prefix: str = "/") -> Reply:
    """A queued post as its reader will see it: rendered the way the dispatcher renders it."""
    return rendered(message.payload, command_prefix)


def say(console: ConsoleAdapter, line: str) -> str:
    """Type one line into the console and get everything the bot answered, as one string."""
    return "\n".join(console.handle_line(line))


ROOT = Path(__file__).resolve().parent.parent
