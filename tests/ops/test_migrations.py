"""Migrations build an empty database on both backends, and the result matches the models."""
import uuid
from collections.abc import Iterator

import psycopg
import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import column, inspect, select, table

from db.migrate import alembic_config
from db.models import Base
from db.session import Database, make_engine
from tests.conftest import PG_ADMIN_URL


def test_migrated_schema_matches_models(db: Database):
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": False})
        differences = compare_metadata(context, Base.metadata)
    assert differences == [], f"models and migrations disagree: {differences}"


def test_every_model_table_exists(db: Database):
    existing = set(inspect(db.engine).get_table_names())
    assert set(Base.metadata.tables) <= existing


def test_the_history_is_one_line():
    """One head, and every revision after the merge has exactly one parent."""
    from alembic.script import ScriptDirectory

    from db.migrate import alembic_config

    scripts = ScriptDirectory.from_config(alembic_config("sqlite://"))
    assert len(scripts.get_heads()) == 1, f"several heads: {scripts.get_heads()}"
    merge_seen = False
    for revision in reversed(list(scripts.walk_revisions())):
        if merge_seen:
            assert not isinstance(revision.down_revision, tuple), f"{revision.revision} merges again"
        merge_seen = merge_seen or revision.revision == "0006_merge"


@pytest.fixture(params=["sqlite", "pg"])
def empty_url(request: pytest.FixtureRequest, tmp_path) -> Iterator[str]:
    """A database of its own with no tables, for stepping through revisions."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'steps.sqlite3'}"
        return
    request.getfixturevalue("pg_url")  # skips (or fails in CI) like the other PostgreSQL tests
    name = f"fieldcrm_steps_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://") + f"/{name}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


DIGIT_KEYED = [("+86 138 0013 8000", "13800138000"), ("021-6234 5678", "02162345678"),
               ("+44 20 7946 0958", "0442079460958"), ("1" * 20, "1" * 20)]
E164_KEYED = ["+8613800138000", "+862162345678", "+442079460958", "1" * 20]


def _phone_keys(engine, name: str) -> list[str]:
    rows = table(name, column("id"), column("phone_key"))
    with engine.connect() as conn:
        return list(conn.scalars(select(rows.c.phone_key).order_by(rows.c.id)))


def test_0008_re_keys_every_stored_phone_and_its_downgrade_restores_the_digits(empty_url, monkeypatch):
    monkeypatch.delenv("DEFAULT_PHONE_REGION", raising=False)
    config = alembic_config(empty_url)
    command.upgrade(config, "0006_merge")
    engine = make_engine(empty_url)
    with engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO customers (id, name, name_key, level, status, created_at) "
                             "VALUES (1, 'Acme', 'acme', 'C', 'active', CURRENT_TIMESTAMP)")
        for number, (phone, key) in enumerate(DIGIT_KEYED, start=1):
            conn.exec_driver_sql(
                "INSERT INTO leads (id, company, name_key, phone, phone_key, level, status, locked, created_at, "
                f"updated_at) VALUES ({number}, 'L', 'l', '{phone}', '{key}', 'C', 'unassigned', false, "
                "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)")
            conn.exec_driver_sql(f"INSERT INTO contacts (id, customer_id, name, phone, phone_key, status, created_at) "
                                 f"VALUES ({number}, 1, 'C', '{phone}', '{key}', 'active', CURRENT_TIMESTAMP)")
        conn.exec_driver_sql("UPDATE customers SET phone = '+86 138 0013 8000', phone_key = '13800138000'")
    try:
        command.upgrade(config, "0008_phone_keys")
        assert _phone_keys(engine, "leads") == E164_KEYED and _phone_keys(engine, "contacts") == E164_KEYED
        assert _phone_keys(engine, "customers") == ["+8613800138000"]
        command.downgrade(config, "0006_merge")
        assert _phone_keys(engine, "leads") == [key for _, key in DIGIT_KEYED]
        assert _phone_keys(engine, "customers") == ["13800138000"]
    finally:
        engine.dispose()
