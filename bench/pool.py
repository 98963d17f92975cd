"""Pool benchmark on PostgreSQL: the /pool page, a claim and the return sweep, each beside its floor.

Data (loaded set-based with generate_series): 1,000,000 leads and 10,000 reps in 100 teams sharing
10 pools (quick: 20,000 leads, 200 reps). About 30% of leads wait unassigned in the pools; the rest are
owned, claimed over the last 40 days, some followed up, so the sweep has real work to do.
"""
import random
import sys
import time
from datetime import timedelta

from sqlalchemy import text

from bench.common import (
    BULK,
    Row,
    analyze,
    interleaved,
    median,
    p99,
    run_statements,
    scratch_database,
)
from bot.services.leads import claims, pool, returns
from db.base import utcnow
from db.session import Database

POOLS = 10
TEAMS = 100


def load(db: Database, leads: int, reps: int) -> None:
    now = utcnow()
    statements = [
        "INSERT INTO org_units (id, name, parent_id, path, active, created_at) VALUES (1, 'Co', NULL, '/1/', true, :now)",
        """INSERT INTO org_units (id, name, parent_id, path, active, created_at)
           SELECT 1 + t, 'Team ' || t, 1, '/1/' || (1 + t) || '/', true, :now FROM generate_series(1, :teams) t""",
        """INSERT INTO users (id, handle, name, unit_id, role, data_scope, locale, timezone, active, created_at)
           SELECT r, 'rep' || r, 'Rep ' || r, 2 + (r % :teams), 'rep', 'self', 'en', 'UTC', true, :now
           FROM generate_series(1, :reps) r""",
        """INSERT INTO pools (id, name, max_open_leads, daily_claim_limit, return_no_followup_days,
               return_no_deal_created_days, return_no_deal_days, warn_days_before, reclaim_cooldown_days,
               level_rules, auto_distribute, active, created_at)
           SELECT p, 'pool ' || p, 100000, 100000, 7, NULL, 30, 1, 3,
                  '{"A": {"return_no_followup_days": 14}}', false, true, :now
           FROM generate_series(1, :pools) p""",
        """INSERT INTO pool_members (pool_id, unit_id, is_admin)
           SELECT 1 + (t % :pools), 1 + t, false FROM generate_series(1, :teams) t""",
        # Lead i sits in pool 1 + i % pools; its owner is a rep of a team in that pool.
        """INSERT INTO leads (id, company, name_key, contact_name, phone, phone_key, region, source, industry, level,
               status, pool_id, owner_id, claimed_at, last_followup_at, locked, created_at, updated_at)
           SELECT i, 'Company ' || i || ' Ltd', 'company' || i, 'Contact ' || i, '138' || lpad(i::text, 8, '0'),
                  '+86138' || lpad(i::text, 8, '0'), (ARRAY['华东','华南','华北','West'])[1 + i % 4],
                  (ARRAY['web','展会','referral'])[1 + i % 3], 'industry ' || (i % 20),
                  CASE WHEN i % 10 = 0 THEN 'A' ELSE 'C' END,
                  CASE WHEN i % 10 < 3 THEN 'unassigned' WHEN i % 10 < 6 THEN 'pending' ELSE 'following' END,
                  1 + i % :pools,
                  CASE WHEN i % 10 < 3 THEN NULL ELSE 1 + ((i / 10) * :pools + i % :pools) % :reps END,
                  CASE WHEN i % 10 < 3 THEN NULL ELSE :now - (i % 40) * interval '1 day' END,
                  CASE WHEN i % 10 >= 6 THEN :now - (i % 9) * interval '1 day' END,
                  i % 50 = 0, :now - i * interval '1 second', :now
           FROM generate_series(1, :leads) i""",
        "SELECT setval('leads_id_seq', :leads)",
        "SELECT setval('users_id_seq', :reps)",
        "SELECT setval('org_units_id_seq', :teams + 1)",
        "SELECT setval('pools_id_seq', :pools)",
    ]
    params = {"now": now, "teams": TEAMS, "reps": reps, "pools": POOLS, "leads": leads}
    run_statements(db, statements, params)
    analyze(db, "VACUUM ANALYZE")


def rep_in_pool(pool_id: int, reps: int, rng: random.Random) -> int:
    """A rep whose team belongs to the pool (team t is in pool 1 + t % POOLS; rep r is in team r % TEAMS)."""
    while True:
        rep = rng.randint(1, reps)
        if 1 + ((rep % TEAMS) + 1) % POOLS == pool_id:
            return rep


def page_benchmark(db: Database, reps: int, runs: int) -> list[Row]:
    rng = random.Random(1)
    floor_sql = text(
        "SELECT id, company, contact_name, region, source, industry, pool_id FROM leads "
        "WHERE pool_id IN (:pool) AND status = 'unassigned' ORDER BY created_at DESC, id DESC LIMIT 11"
    )

    # Both end with COMMIT, as the router's request does (it always writes its dedupe row). A ROLLBACK
    # would also make psycopg drop its prepared statements, and both would be re-planned every time.
    def service() -> None:
        with db.uow() as uow:
            pool.page(uow, rng.randint(1, reps), None)
            uow.commit()

    def floor() -> None:
        with db.engine.begin() as conn:
            conn.execute(floor_sql, {"pool": rng.randint(1, POOLS)}).all()

    times = interleaved({"service": service, "floor": floor}, runs)
    return [
        Row("pool", "/pool page (service) median", median(times["service"]), median(times["floor"]), target="<= 2x"),
        Row("pool", "/pool page (service) p99", p99(times["service"]), p99(times["floor"]), target="<= 2x"),
    ]


def claim_benchmark(db: Database, leads: int, reps: int, runs: int) -> list[Row]:
    rng = random.Random(2)
    unassigned = [i for i in range(10, leads + 1, 10)]  # i % 10 == 0 is unassigned in the load
    rng.shuffle(unassigned)
    half = len(unassigned) // 2
    for_service, for_floor = iter(unassigned[:half]), iter(unassigned[half:])
    floor_sql = text("UPDATE leads SET status = 'pending', owner_id = :rep, claimed_at = now(), updated_at = now() "
                     "WHERE id = :id AND status = 'unassigned'")

    def service() -> None:
        lead_id = next(for_service)
        with db.uow() as uow:
            claims.claim(uow, rep_in_pool(1 + lead_id % POOLS, reps, rng), lead_id, utcnow())
            uow.commit()

    def floor() -> None:
        lead_id = next(for_floor)
        with db.engine.begin() as conn:
            conn.execute(floor_sql, {"rep": rep_in_pool(1 + lead_id % POOLS, reps, rng), "id": lead_id})

    times = interleaved({"service": service, "floor": floor}, runs)
    return [
        Row("pool", "claim (service, committed) median", median(times["service"]), median(times["floor"]),
            target="<= 2x"),
        Row("pool", "claim (service, committed) p99", p99(times["service"]), p99(times["floor"]), target="<= 2x"),
    ]


def sweep_benchmark(db: Database, rounds: int) -> list[Row]:
    """Both run over the whole table inside a transaction that is rolled back, so they see the same data."""
    now = utcnow()
    cutoff = now - timedelta(days=7)
    floor_sql = text(
        "UPDATE leads SET status = 'unassigned', owner_id = NULL, claimed_at = NULL, last_followup_at = NULL, "
        "updated_at = :now WHERE status IN ('pending', 'following', 'invalid') AND locked = false "
        "AND owner_id IS NOT NULL AND claimed_at < :cutoff AND (last_followup_at IS NULL OR last_followup_at < :cutoff)"
    )
    returned = 0

    def service() -> None:
        nonlocal returned
        with db.uow() as uow:
            returned = returns.sweep(uow, now).returned
            uow.rollback()

    def floor() -> None:
        with db.engine.connect() as conn:
            conn.execute(floor_sql, {"now": now, "cutoff": cutoff})
            conn.rollback()

    times = interleaved({"service": service, "floor": floor}, rounds)
    print(f"sweep returned {returned} leads per run", file=sys.stderr)
    return [Row("pool", f"return sweep, whole table ({returned} returned)", median(times["service"]),
                median(times["floor"]), unit="ms", target="set-based")]


def run(quick: bool) -> list[Row]:
    leads, reps = (20_000, 200) if quick else (1_000_000, 10_000)
    with scratch_database("pool") as url:
        db = Database(url, BULK)
        try:
            start = time.perf_counter()
            load(db, leads, reps)
            print(f"loaded {leads} leads, {reps} reps in {time.perf_counter() - start:.1f}s", file=sys.stderr)
            rows = page_benchmark(db, reps, 100 if quick else 300)
            rows += claim_benchmark(db, leads, reps, 100 if quick else 300)
            rows += sweep_benchmark(db, 1 if quick else 3)
            return rows
        finally:
            db.dispose()
