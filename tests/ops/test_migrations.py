"""Migrations build an empty database on both backends, and the result matches the models; a renaming
migration keeps the rows it renames."""
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import column, inspect, pool, select, table, text

from db.migrate import alembic_config
from db.models import Base, Deal, Payment
from db.session import Database, make_engine
from tests.conftest import empty_pg_database


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
def scratch_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database of its own, for migrating step by step (sqlite_url and pg_url are at head)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'scratch.sqlite3'}"
        return
    with empty_pg_database("scratch") as url:
        yield url


# Rows written the way 0006_merge named things: the opportunities table, its payments, and the values naming it.
OLD_ROWS = [
    "INSERT INTO org_units (id, name, path, active, created_at) VALUES (1, 'Co', '/1/', true, CURRENT_TIMESTAMP)",
    """INSERT INTO users (id, handle, name, unit_id, role, data_scope, locale, timezone, active, created_at)
       VALUES (1, 'li', 'Li', 1, 'rep', 'self', 'en', 'UTC', true, CURRENT_TIMESTAMP),
              (2, 'boss', 'Boss', 1, 'manager', 'subtree', 'en', 'UTC', true, CURRENT_TIMESTAMP)""",
    """INSERT INTO pools (id, name, max_open_leads, daily_claim_limit, return_no_followup_days,
           return_no_opportunity_days, return_no_deal_days, warn_days_before, reclaim_cooldown_days, level_rules,
           auto_distribute, active, created_at)
       VALUES (1, 'main', 50, 20, 7, 5, 30, 1, 3,
               '{"A": {"return_no_opportunity_days": 9, "return_no_deal_days": 40}, "B": {"return_no_followup_days": 3}}',
               false, true, CURRENT_TIMESTAMP)""",
    """INSERT INTO customers (id, name, name_key, level, status, owner_id, created_at)
       VALUES (1, 'Acme', 'acme', 'A', 'active', 1, CURRENT_TIMESTAMP)""",
    """INSERT INTO leads (id, company, name_key, level, status, pool_id, owner_id, locked, created_at, updated_at)
       VALUES (1, 'Acme', 'acme', 'A', 'following', 1, 1, false, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)""",
    """INSERT INTO opportunities (name, customer_id, lead_id, owner_id, stage, amount, currency, collected_amount,
           created_at, updated_at)
       VALUES ('Acme deal', 1, 1, 1, 'intent', 1000.50, 'CNY', 200, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)""",
    """INSERT INTO deal_payments (opportunity_id, amount, currency, paid_on, owner_id, created_at)
       SELECT id, 200, 'CNY', '2024-03-01', 1, CURRENT_TIMESTAMP FROM opportunities""",
    """INSERT INTO audit_log (at, actor_id, platform, record_type, record_id, action, owner_id)
       SELECT CURRENT_TIMESTAMP, 1, 'console', 'opportunity', id, 'create', 1 FROM opportunities""",
    """INSERT INTO record_members (record_type, record_id, user_id, access, created_at)
       SELECT 'opportunity', id, 2, 'read', CURRENT_TIMESTAMP FROM opportunities""",
    """INSERT INTO handover_batches (id, manager_id, from_user_id, to_user_id, what, deactivated, records, created_at)
       VALUES (1, 2, 2, 1, 'deals', false, 1, CURRENT_TIMESTAMP)""",
    """INSERT INTO handover_items (batch_id, record_type, record_id, from_owner_id)
       SELECT 1, 'opportunity', id, 2 FROM opportunities""",
    # A returned lead's reason is a rule code; an invalid lead's is what the rep typed, and stays as typed.
    """INSERT INTO lead_events (lead_id, at, kind, reason) VALUES (1, CURRENT_TIMESTAMP, 'return', 'no_opportunity'),
                                                                  (1, CURRENT_TIMESTAMP, 'invalid', 'no_opportunity')""",
]


def _rows(url: str, sql: str) -> list[tuple]:
    engine = make_engine(url, poolclass=pool.NullPool)
    try:
        with engine.connect() as conn:
            return [tuple(row) for row in conn.execute(text(sql))]
    finally:
        engine.dispose()


def test_deal_names_migration_keeps_deals_payments_and_the_values_naming_them(scratch_url: str):
    config = alembic_config(scratch_url)
    command.upgrade(config, "0006_merge")
    engine = make_engine(scratch_url, poolclass=pool.NullPool)
    with engine.begin() as conn:
        for statement in OLD_ROWS:
            conn.execute(text(statement))
    engine.dispose()
    (deal_id,) = _rows(scratch_url, "SELECT id FROM opportunities")[0]

    command.upgrade(config, "head")

    tables = set(inspect(make_engine(scratch_url, poolclass=pool.NullPool)).get_table_names())
    assert "deals" in tables and "opportunities" not in tables
    assert _rows(scratch_url, "SELECT id, name, lead_id, stage FROM deals") == [(deal_id, "Acme deal", 1, "intent")]
    assert _rows(scratch_url, "SELECT deal_id, amount FROM deal_payments") == [(deal_id, 200)]
    assert _rows(scratch_url, "SELECT record_type, record_id FROM audit_log") == [("deal", deal_id)]
    assert _rows(scratch_url, "SELECT record_type, record_id FROM record_members") == [("deal", deal_id)]
    assert _rows(scratch_url, "SELECT record_type, record_id FROM handover_items") == [("deal", deal_id)]
    assert _rows(scratch_url, "SELECT kind, reason FROM lead_events ORDER BY id") == [
        ("return", "no_deal_created"), ("invalid", "no_opportunity")]
    assert _rows(scratch_url, "SELECT return_no_deal_created_days, return_no_deal_days FROM pools") == [(5, 30)]
    database = Database(scratch_url)
    try:
        with database.uow() as uow:
            rules = uow.session.execute(text("SELECT level_rules FROM pools")).scalar_one()
            assert isinstance(rules, dict | str)
            deal = uow.session.get(Deal, deal_id)
            assert deal is not None and deal.amount == 1000.50 and deal.collected_amount == 200
            assert [p.amount for p in uow.session.scalars(select(Payment).where(Payment.deal_id == deal_id))] == [200]
            # The id sequence carried over: the next deal follows the migrated one.
            uow.session.add(Deal(name="next", customer_id=1, owner_id=1, created_at=deal.created_at,
                                 updated_at=deal.created_at))
            uow.commit()
        with database.uow() as uow:
            assert uow.session.scalar(select(Deal.id).where(Deal.name == "next")) == deal_id + 1
            from db.models import Pool

            assert uow.session.get(Pool, 1).level_rules == {
                "A": {"return_no_deal_created_days": 9, "return_no_deal_days": 40}, "B": {"return_no_followup_days": 3}}
            assert uow.session.get(Pool, 1).return_no_deal_created_days == 5
        if database.engine.dialect.name == "postgresql":
            assert _rows(scratch_url, "SELECT pg_get_serial_sequence('deals', 'id')") == [("public.deals_id_seq",)]
    finally:
        database.dispose()

    command.downgrade(config, "0006_merge")

    assert _rows(scratch_url, "SELECT id, name FROM opportunities ORDER BY id") == [
        (deal_id, "Acme deal"), (deal_id + 1, "next")]
    assert _rows(scratch_url, "SELECT opportunity_id FROM deal_payments") == [(deal_id,)]
    assert _rows(scratch_url, "SELECT DISTINCT record_type FROM audit_log WHERE record_id = 1 AND record_type <> "
                              "'pool'") == [("opportunity",)]
    assert _rows(scratch_url, "SELECT record_type FROM record_members") == [("opportunity",)]
    assert _rows(scratch_url, "SELECT reason FROM lead_events ORDER BY id") == [("no_opportunity",), ("no_opportunity",)]
    assert _rows(scratch_url, "SELECT return_no_opportunity_days FROM pools") == [(5,)]



DIGIT_KEYED = [("+86 138 0013 8000", "13800138000"), ("021-6234 5678", "02162345678"),
               ("+44 20 7946 0958", "0442079460958"), ("1" * 20, "1" * 20)]
E164_KEYED = ["+8613800138000", "+862162345678", "+442079460958", "1" * 20]


def _phone_keys(engine, name: str) -> list[str]:
    rows = table(name, column("id"), column("phone_key"))
    with engine.connect() as conn:
        return list(conn.scalars(select(rows.c.phone_key).order_by(rows.c.id)))


def test_0008_re_keys_every_stored_phone_and_its_downgrade_restores_the_digits(scratch_url, monkeypatch):
    monkeypatch.delenv("DEFAULT_PHONE_REGION", raising=False)
    config = alembic_config(scratch_url)
    command.upgrade(config, "0006_merge")
    engine = make_engine(scratch_url)
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


def test_trusted_places_migration_trusts_imported_and_owner_places_only(scratch_url: str):
    """0018: imported and /setloc places become trusted, a first visit's place (and a lead's) tentative."""
    config = alembic_config(scratch_url)
    command.upgrade(config, "0017_lead_events_refs")
    engine = make_engine(scratch_url, poolclass=pool.NullPool)
    with engine.begin() as conn:
        conn.execute(text(OLD_ROWS[0]))
        conn.execute(text(OLD_ROWS[1]))
        for cid, source, lat in ((1, "import", 30.1), (2, "owner", 30.2), (3, "visit", 30.3), (4, None, None)):
            conn.execute(text(
                "INSERT INTO customers (id, name, name_key, level, status, owner_id, latitude, longitude, "
                "location_source, created_at) VALUES (:id, :name, :name, 'C', 'active', 1, :lat, :lat, :source, "
                "CURRENT_TIMESTAMP)"), {"id": cid, "name": f"c{cid}", "lat": lat, "source": source})
        conn.execute(text(
            "INSERT INTO leads (id, company, name_key, level, status, locked, latitude, longitude, "
            "created_at, updated_at) VALUES (1, 'L', 'l', 'C', 'pending', false, 31, 121, CURRENT_TIMESTAMP, "
            "CURRENT_TIMESTAMP), (2, 'M', 'm', 'C', 'pending', false, NULL, NULL, CURRENT_TIMESTAMP, "
            "CURRENT_TIMESTAMP)"))
    engine.dispose()
    command.upgrade(config, "head")
    assert _rows(scratch_url, "SELECT id, location_source, location_trust FROM customers ORDER BY id") == [
        (1, "import", "trusted"), (2, "owner", "trusted"), (3, "visit", "tentative"), (4, None, None)]
    assert _rows(scratch_url, "SELECT id, location_source, location_trust FROM leads ORDER BY id") == [
        (1, "visit", "tentative"), (2, None, None)]
    command.downgrade(config, "0017_lead_events_refs")
    assert "location_trust" not in {c["name"] for c in inspect(make_engine(scratch_url, poolclass=pool.NullPool))
                                    .get_columns("customers")}
