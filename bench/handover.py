"""Handover of 10,000 records on PostgreSQL (leads, customers with contacts, open deals), one transaction,
and its undo. The floor is one set-based UPDATE of the same rows with nothing else (no history, no audit)."""
import time
from datetime import UTC, datetime

from sqlalchemy import text

from bench.common import BULK, Row, run_statements, scratch_database
from bot.bootstrap import open_database
from bot.services.manager import handover
from db.session import Database

NOW = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)


def load(db: Database, leads: int, customers: int, deals: int) -> None:
    statements = [
        "INSERT INTO org_units (id, name, path, active, created_at) VALUES (1, 'Company', '/1/', true, now())",
        """INSERT INTO users (id, handle, name, unit_id, role, data_scope, locale, timezone, active, created_at) VALUES
           (1, 'boss', 'Boss', 1, 'manager', 'subtree', 'en', 'UTC', true, now()),
           (2, 'leaver', 'Leaver', 1, 'rep', 'self', 'en', 'UTC', true, now()),
           (3, 'heir', 'Heir', 1, 'rep', 'self', 'en', 'UTC', true, now()),
           (4, 'other', 'Other', 1, 'rep', 'self', 'en', 'UTC', true, now())""",
        "SELECT setval(pg_get_serial_sequence('users', 'id'), 100)",
        """INSERT INTO pools (name, max_open_leads, daily_claim_limit, warn_days_before, reclaim_cooldown_days,
                              level_rules, auto_distribute, active, created_at)
           VALUES ('Big pool', 1000000, 20, 1, 3, '{}', false, true, now())""",
        "INSERT INTO pool_members (pool_id, user_id, is_admin) SELECT id, 3, false FROM pools",
        f"""INSERT INTO leads (company, name_key, level, status, owner_id, locked, created_at, updated_at)
            SELECT 'Lead ' || g, 'lead' || g, 'C', 'following', CASE WHEN g <= {leads} THEN 2 ELSE 4 END, false, now(), now()
            FROM generate_series(1, {leads * 3}) g""",
        f"""INSERT INTO customers (name, name_key, level, status, owner_id, created_at)
            SELECT 'Customer ' || g, 'customer' || g, 'C', 'active', CASE WHEN g <= {customers} THEN 2 ELSE 4 END, now()
            FROM generate_series(1, {customers * 3}) g""",
        f"""INSERT INTO contacts (customer_id, name, owner_id, status, created_at)
            SELECT g, 'Contact ' || g, CASE WHEN g <= {customers} THEN 2 ELSE 4 END, 'active', now()
            FROM generate_series(1, {customers * 3}) g""",
        f"""INSERT INTO deals (name, customer_id, owner_id, stage, amount, currency, collected_amount,
                               created_at, updated_at)
            SELECT 'Deal ' || g, 1 + g % {customers}, CASE WHEN g <= {deals} THEN 2 ELSE 4 END, 'intent', 1000, 'CNY', 0,
                   now(), now()
            FROM generate_series(1, {deals * 3}) g""",
        "ANALYZE",
    ]
    run_statements(db, statements)


def run(quick: bool) -> list[Row]:
    leads, customers, deals = (400, 150, 150) if quick else (4000, 2000, 2000)  # + as many contacts as customers
    records = leads + customers * 2 + deals
    with scratch_database("handover") as url:
        db = open_database(url, timeouts=BULK)
        load(db, leads, customers, deals)
        with db.uow() as uow:
            start = time.perf_counter()
            result = handover.hand_over(uow, 1, "leaver", "heir", "all", "readonly", NOW.date(), now=NOW,
                                        today=NOW.date())
            uow.commit()
            moved_ms = (time.perf_counter() - start) * 1000
        assert result.records == records, result
        with db.uow() as uow:
            start = time.perf_counter()
            handover.undo(uow, 1, None, now=NOW, today=NOW.date())
            uow.commit()
            undo_ms = (time.perf_counter() - start) * 1000
        with db.engine.begin() as conn:
            start = time.perf_counter()
            for table in ("leads", "customers", "contacts", "deals"):
                conn.execute(text(f"UPDATE {table} SET owner_id = 3 WHERE owner_id = 2"))
            floor_ms = (time.perf_counter() - start) * 1000
        db.dispose()
    figure = f"{records:,} records"
    return [
        Row("handover", f"handover {figure} (history, audit, stay)", moved_ms, floor_ms, "ms", "seconds"),
        Row("handover", f"undo {figure}", undo_ms, floor_ms, "ms", ""),
    ]


if __name__ == "__main__":
    from bench.common import print_table

    print_table(run(quick=True))
