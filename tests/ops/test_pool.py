"""The connection pool on PostgreSQL: a connection the server dropped while it sat idle in the pool
is replaced before anyone uses it (a database restart, an idle timeout, an administrator)."""
import time

import psycopg
from sqlalchemy import text

import db.session
from db.session import Database
from tests.conftest import PG_ADMIN_URL


def server_pid(database: Database) -> int:
    with database.engine.connect() as connection:
        return connection.execute(text("SELECT pg_backend_pid()")).scalar_one()


def test_a_connection_cut_while_idle_is_replaced_before_use(pg_db: Database, monkeypatch):
    monkeypatch.setattr(db.session, "PING_AFTER_IDLE_S", 0.2)
    first = server_pid(pg_db)
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [first])
    time.sleep(0.3)
    second = server_pid(pg_db)  # no error: the ping found it dead, the pool made a new one
    assert second != first


def test_only_a_connection_idle_for_a_while_costs_a_ping(pg_db: Database, monkeypatch):
    # pool_pre_ping paid a round trip on every checkout: several per outbox post in a fan-out.
    monkeypatch.setattr(db.session, "PING_AFTER_IDLE_S", 0.2)
    pings, real_ping = [], pg_db.engine.dialect.do_ping
    monkeypatch.setattr(pg_db.engine.dialect, "do_ping", lambda conn: pings.append(1) or real_ping(conn))
    server_pid(pg_db)
    for _ in range(20):
        server_pid(pg_db)
    assert pings == []
    time.sleep(0.3)
    server_pid(pg_db)
    assert pings == [1]
