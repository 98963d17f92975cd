"""/nearby on PostgreSQL, beside a bare indexed bounding-box SELECT of the same rows.

Data (set-based with generate_series): 1,000,000 places (quick: 20,000) in five cities (Shanghai,
Beijing, Guangzhou, Shenzhen, Hangzhou), each spread around its centre as a normal distribution of
8 km (about 500 customers and 80 pool leads a km² at a centre, a few at 30 km): 60 % customers (5 %
of them voided), 40 % leads (40 % of them unassigned, in ten pools, two a city). 5,000 reps (quick:
100) in 100 teams, 20 a city; a rep owns customers of his own city and his team belongs to one of
its pools; each rep's last visit lies 5 minutes back, near his city's centre.

Measured, interleaved with the floor (so machine noise hits both alike), from a random point near a
random city's centre (normal, 5 km) and a 2 km radius:
  - the service call (bot.services.visits.nearby.around) for a random rep of that city, committed;
  - the whole `/nearby` command through Router.handle for a random rep, from his last fix;
  - the service for an admin, who sees every customer: the most rows a call can read;
  - the floor: SELECT id, latitude, longitude of the active customers and the unassigned leads in the
    radius's bounding box (the rows /nearby looks among, before scope, pools and the circle), UNION
    ALL, on the same partial indexes, committed.
"""
import random
import sys
import time
from datetime import UTC, datetime, timedelta

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
from bot.bootstrap import build_router, open_database
from bot.config import load_settings
from bot.messages import Incoming
from bot.services.core import geo
from bot.services.visits import nearby
from db.session import Database

NOW = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)
CITIES = ((31.2304, 121.4737), (39.9042, 116.4074), (23.1291, 113.2644), (22.5431, 114.0579), (30.2741, 120.1551))
SPREAD_DEG = 0.072  # 8 km of latitude
TEAMS = 100
RADIUS_M = 2_000
ADMIN = 1  # user 1; reps are 2 .. reps + 1


def _normal(seed: str) -> str:
    """A standard normal draw in SQL (Box-Muller)."""
    return f"(sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random()) /* {seed} */)"


def load(db: Database, places: int, reps: int) -> None:
    customers, leads = places * 6 // 10, places * 4 // 10
    city_lat = "(ARRAY[" + ",".join(str(c[0]) for c in CITIES) + "])"
    city_lon = "(ARRAY[" + ",".join(str(c[1]) for c in CITIES) + "])"
    # Rep r (2 .. reps + 1) is in team 1 + (r - 2) % TEAMS, of city (r - 2) % 5; team u in pool 1 + (u - 1) % 5 + 5 * ((u - 1) / 5 % 2).
    statements = [
        "INSERT INTO org_units (id, name, path, timezone, active, created_at) VALUES (1, 'Co', '/1/', 'Asia/Shanghai', true, :now)",
        """INSERT INTO org_units (id, name, parent_id, path, timezone, active, created_at)
           SELECT 1 + t, 'Team ' || t, 1, '/1/' || (1 + t) || '/', 'Asia/Shanghai', true, :now FROM generate_series(1, :teams) t""",
        """INSERT INTO users (id, handle, name, unit_id, role, data_scope, locale, timezone, active, created_at)
           VALUES (1, 'admin', 'Admin', 1, 'admin', 'all', 'en', 'Asia/Shanghai', true, :now)""",
        """INSERT INTO users (id, handle, name, unit_id, role, data_scope, locale, timezone, active, created_at)
           SELECT r, 'rep' || r, 'Rep ' || r, 2 + (r - 2) % :teams, 'rep', 'self', 'en', 'Asia/Shanghai', true, :now
           FROM generate_series(2, :reps + 1) r""",
        """INSERT INTO platform_identities (platform, workspace, platform_user_id, dm_chat_id, user_id, linked_at)
           SELECT 'console', 'local', 'u' || g, '@u' || g, g, :now FROM generate_series(1, :reps + 1) g""",
        """INSERT INTO pools (id, name, max_open_leads, daily_claim_limit, return_no_followup_days,
               return_no_deal_created_days, return_no_deal_days, warn_days_before, reclaim_cooldown_days,
               level_rules, auto_distribute, active, created_at)
           SELECT p, 'pool ' || p, 1000, 100, 7, NULL, 30, 1, 3, '{}', false, true, :now FROM generate_series(1, 10) p""",
        """INSERT INTO pool_members (pool_id, unit_id, is_admin)
           SELECT 1 + (u - 1) % 5 + 5 * ((u - 1) / 5 % 2), 1 + u, false FROM generate_series(1, :teams) u""",
        f"""INSERT INTO customers (id, name, name_key, owner_id, level, latitude, longitude, location_source,
               location_trust, status, created_at)
           SELECT i, 'Customer ' || i, 'customer' || i, 2 + 5 * ((i::bigint * 7919) % (:reps / 5)) + i % 5, 'C',
                  {city_lat}[1 + i % 5] + {_normal('lat')} * :spread,
                  {city_lon}[1 + i % 5] + {_normal('lon')} * :spread / cos(radians({city_lat}[1 + i % 5])),
                  'import', 'trusted', CASE WHEN i % 20 = 0 THEN 'voided' ELSE 'active' END, :now
           FROM generate_series(1, :customers) i""",
        f"""INSERT INTO leads (id, company, name_key, status, pool_id, owner_id, level, locked, latitude, longitude,
               location_source, location_trust, created_at, updated_at)
           SELECT i, 'Lead ' || i || ' Ltd', 'lead' || i,
                  CASE WHEN i % 10 < 4 THEN 'unassigned' ELSE 'pending' END, 1 + i % 5 + 5 * (i / 5 % 2),
                  CASE WHEN i % 10 < 4 THEN NULL ELSE 2 + 5 * ((i::bigint * 104729) % (:reps / 5)) + i % 5 END, 'C', false,
                  {city_lat}[1 + i % 5] + {_normal('lat')} * :spread,
                  {city_lon}[1 + i % 5] + {_normal('lon')} * :spread / cos(radians({city_lat}[1 + i % 5])),
                  'import', 'trusted', :now, :now
           FROM generate_series(1, :leads) i""",
        # Each rep's last position, 5 minutes back, within a few km of his city's centre.
        f"""INSERT INTO visits (user_id, kind, customer_id, status, started_at, ended_at, latitude, longitude,
               accuracy_m, source, taken_at, arrived_at, distance_m, verdict, reasons, review_status, counts, created_at)
           SELECT r, 'checkin', NULL, 'closed', :fix, :fix, {city_lat}[1 + (r - 2) % 5] + {_normal('lat')} * 0.04,
                  {city_lon}[1 + (r - 2) % 5] + {_normal('lon')} * 0.05, 10, 'static', :fix, :fix, NULL,
                  'verified', '[]', 'none', true, :fix
           FROM generate_series(2, :reps + 1) r""",
        "SELECT setval('customers_id_seq', :customers)",
        "SELECT setval('leads_id_seq', :leads)",
        "SELECT setval('users_id_seq', :reps + 1)",
        "SELECT setval('org_units_id_seq', :teams + 1)",
        "SELECT setval('pools_id_seq', 10)",
    ]
    params = {"now": NOW - timedelta(days=30), "fix": NOW - timedelta(minutes=5), "teams": TEAMS, "reps": reps,
              "customers": customers, "leads": leads, "spread": SPREAD_DEG}
    run_statements(db, statements, params)
    analyze(db, "VACUUM ANALYZE")


FLOOR = text(
    "SELECT id, latitude, longitude FROM customers WHERE status = 'active' AND latitude IS NOT NULL "
    "AND latitude BETWEEN :south AND :north AND longitude BETWEEN :west AND :east "
    "UNION ALL SELECT id, latitude, longitude FROM leads WHERE status = 'unassigned' AND latitude IS NOT NULL "
    "AND latitude BETWEEN :south AND :north AND longitude BETWEEN :west AND :east"
)


def explain(db: Database, rep: int) -> str:
    """EXPLAIN ANALYZE of the service's statement for one rep at Shanghai's centre."""
    with db.uow() as uow:
        captured: list[tuple[str, object]] = []
        from sqlalchemy import event

        def capture(conn, cursor, statement, parameters, context, executemany) -> None:
            if "UNION ALL" in statement:
                captured.append((statement, parameters))

        event.listen(db.engine, "before_cursor_execute", capture)
        try:
            nearby.around(uow, rep, *CITIES[0], RADIUS_M, NOW)
        finally:
            event.remove(db.engine, "before_cursor_execute", capture)
        [(statement, parameters)] = captured
        cursor = uow.session.connection().connection.dbapi_connection.cursor()
        cursor.execute(f"EXPLAIN (ANALYZE, COSTS OFF) {statement}", parameters)
        return "\n".join(r[0] for r in cursor.fetchall())


def run(quick: bool) -> list[Row]:
    places, reps, runs = (20_000, 100, 100) if quick else (1_000_000, 5_000, 400)
    with scratch_database("nearby") as url:
        db = open_database(url, timeouts=BULK)
        try:
            started = time.perf_counter()
            load(db, places, reps)
            print(f"nearby: loaded {places:,} places, {reps} reps in {time.perf_counter() - started:.1f}s",
                  file=sys.stderr, flush=True)
            return measure(db, url, reps, runs)
        finally:
            db.dispose()


def measure(db: Database, url: str, reps: int, runs: int) -> list[Row]:
    rng = random.Random(7)
    settings = load_settings(env_file=None, DATABASE_URL=url, SECRET_KEY="bench")
    router = build_router(db, settings, clock=lambda: NOW)
    point: dict[str, float] = {}
    sizes: list[int] = []

    def new_point() -> int:
        """A point near a random city's centre, and a rep of that city."""
        city = rng.randrange(len(CITIES))
        lat, lon = CITIES[city]
        point.update(lat=lat + rng.gauss(0, 0.045), lon=lon + rng.gauss(0, 0.055))
        return 2 + city + 5 * rng.randrange(reps // 5)

    def service() -> None:
        rep = new_point()
        with db.uow() as uow:
            found = nearby.around(uow, rep, point["lat"], point["lon"], RADIUS_M, NOW)
            uow.commit()
        sizes.append(found.total)

    def admin() -> None:
        with db.uow() as uow:
            nearby.around(uow, ADMIN, point["lat"], point["lon"], RADIUS_M, NOW)
            uow.commit()

    def command() -> None:
        rep = 2 + rng.randrange(reps)
        [reply] = router.handle(Incoming("console", "local", f"@u{rep}", f"u{rep}", command="nearby"))
        assert not reply.request_location, reply

    def floor() -> None:
        south, north, west, east = geo.box(point["lat"], point["lon"], RADIUS_M)
        with db.engine.begin() as conn:
            conn.execute(FLOOR, {"south": south, "north": north, "west": west, "east": east}).all()

    print(explain(db, 2), file=sys.stderr)
    times = interleaved({"service": service, "floor": floor, "admin": admin, "command": command}, runs)
    router_floor = median(times["floor"])
    print(f"nearby: a rep's call found {median(sizes):.0f} places within {RADIUS_M} m (median)", file=sys.stderr)
    return [
        Row("nearby", "/nearby 2 km (service, a rep) median", median(times["service"]), median(times["floor"]),
            target="<= 2x"),
        Row("nearby", "/nearby 2 km (service, a rep) p99", p99(times["service"]), p99(times["floor"]),
            target="<= 2x"),
        Row("nearby", "/nearby (command through the router) median", median(times["command"]), router_floor,
            target="for scale"),
        Row("nearby", "/nearby 2 km (service, an admin: every customer) median", median(times["admin"]),
            router_floor, target="<= 2x"),
    ]
