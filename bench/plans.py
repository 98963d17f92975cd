"""The morning push at company scale: every rep's plan for the day prepared at once through
bot.services.plans.morning.push_due, against a plain query of the rows it works from.

Measured (the push): the reps due and their settings read, each (rep, day) claimed in plan_pushes,
every plan built (the scheduled visits, the due customers, the lead follow-ups due, the last trusted
positions and the office) and routed (nearest neighbour + 2-opt, every rep's day in one batch), where each rep is reached
read, and the outbox rows written with their buttons (one COPY); then rolled back, so the next run claims them
again. Not included: rendering the messages' text, which the dispatcher does at delivery (each
outbox row keeps its template and context), and sending them.

The floor: the rows it works from, fetched into Python by plain SQL, one statement per source — the reps with
their settings, their scheduled visits with the customers' names and places, the customers with a
tier and their last counted visit (what revisit cadence decides from: the push has the database
return only those that may be due), the follow-ups due with their leads, the last verified positions, the offices
and the chats — with nothing built, routed or written.

Full: 10,000 reps in 500 teams, 20 customers each, all tier C (one in 20 without a place, 4 never
visited, so due), 2 scheduled visits and 1 lead follow-up due per rep today, 30 days of visits.
"""
from datetime import UTC, date, datetime

from sqlalchemy import text

from bench.common import BULK, Row, analyze, interleaved, median, run_statements, scratch_database
from bot.services.plans import morning
from db.models import VisitSettings
from db.session import Database

DAY = date(2026, 12, 7)  # a Monday
NOW = datetime(2026, 12, 7, 0, 30, tzinfo=UTC)  # 08:30 in Shanghai
CUSTOMERS_PER_REP = 20


def load(db: Database, teams: int, reps: int) -> None:
    per = CUSTOMERS_PER_REP
    place = ("31.0 + ((g::bigint * 7919) % 1000) / 2500.0", "121.2 + ((g::bigint * 104729) % 1000) / 2000.0")
    statements = [
        "INSERT INTO org_units (id, name, parent_id, path, timezone, active, created_at) "
        "VALUES (1, 'Company', NULL, '/1/', 'Asia/Shanghai', true, now())",
        f"INSERT INTO org_units (id, name, parent_id, path, active, created_at) "
        f"SELECT 1 + g, 'Team ' || g, 1, '/1/' || (1 + g) || '/', true, now() FROM generate_series(1, {teams}) g",
        f"INSERT INTO users (id, handle, name, unit_id, role, data_scope, locale, timezone, active, created_at) "
        f"SELECT g, 'rep' || g, 'Rep ' || g, 2 + (g % {teams}), 'rep', 'self', CASE WHEN g % 2 = 0 THEN 'zh' "
        f"ELSE 'en' END, 'Asia/Shanghai', true, now() FROM generate_series(1, {reps}) g",
        f"INSERT INTO platform_identities (platform, workspace, platform_user_id, user_id, dm_chat_id, linked_at) "
        f"SELECT 'telegram', '', g::text, g, g::text, now() FROM generate_series(1, {reps}) g",
        # Customer g belongs to rep 1 + (g - 1) / per; one in 20 has no place.
        # Every customer is tier C: due 30 days after his last counted visit (the default cadence).
        f"INSERT INTO customers (id, name, name_key, owner_id, level, status, latitude, longitude, location_trust,"
        f" tier, created_at) SELECT g, 'Customer ' || g, 'customer' || g, 1 + (g - 1) / {per}, 'C', 'active',"
        f" CASE WHEN g % 20 = 0 THEN NULL ELSE {place[0]} END, CASE WHEN g % 20 = 0 THEN NULL ELSE {place[1]} END,"
        f" 'trusted', 'C', timestamptz '{NOW.isoformat()}' - interval '90 days' FROM generate_series(1, {reps * per}) g",
        # Visits in the last 30 days to all but 4 of each rep's customers (those are due), verified.
        f"INSERT INTO visits (user_id, kind, customer_id, status, started_at, latitude, longitude, taken_at,"
        f" source, verdict, reasons, review_status, counts, created_at)"
        f" SELECT 1 + (g - 1) / {per}, 'visit', g, 'closed', timestamptz '{NOW.isoformat()}' - (g % 25 + 1) * interval"
        f" '1 day', {place[0]}, {place[1]}, timestamptz '{NOW.isoformat()}' - (g % 25 + 1) * interval '1 day',"
        f" 'static', 'verified', '[]', 'none', true, now() FROM generate_series(1, {reps * per}) g"
        f" WHERE (g - 1) % {per} >= 4",
        # A lead per rep with a follow-up reminder due today at 14:00 local.
        f"INSERT INTO leads (id, company, name_key, level, status, owner_id, latitude, longitude, locked, created_at,"
        f" updated_at) SELECT g, 'Lead ' || g, 'lead' || g, 'C', 'following', g, {place[0]}, {place[1]}, false,"
        f" now(), now() FROM generate_series(1, {reps}) g",
        f"INSERT INTO reminders (owner_id, lead_id, note, words, timezone, due_at, candidates, created_at)"
        f" SELECT g, g, 'call back', 'today 2pm', 'Asia/Shanghai', timestamptz '2026-12-07 06:00+00', '[]', now()"
        f" FROM generate_series(1, {reps}) g",
        # Two scheduled visits per rep today (customers 5 and 6 of his), one with a time.
        f"INSERT INTO planned_visits (user_id, customer_id, day, minute, created_by_id, created_at)"
        f" SELECT r, (r - 1) * {per} + 5 + k, date '{DAY.isoformat()}', CASE WHEN k = 0 THEN 600 END, r, now()"
        f" FROM generate_series(1, {reps}) r, generate_series(0, 1) k",
    ]
    run_statements(db, statements)
    with db.uow() as uow:
        uow.session.add(VisitSettings(unit_id=1, office_latitude=31.2304, office_longitude=121.4737,
                                      office_radius_m=200, updated_at=NOW))
        uow.commit()
    analyze(db)


# The rows the push reads, fetched as they are: one plain statement per source.
FLOOR_SQL = [
    "SELECT u.id, u.name, u.handle, u.timezone, u.locale, coalesce(s.morning_minute, 510) FROM users u"
    " LEFT JOIN plan_settings s ON s.user_id = u.id WHERE u.active AND u.role IN ('rep', 'manager')"
    " AND coalesce(s.morning, true)",
    "SELECT p.id, p.user_id, p.customer_id, p.lead_id, p.day, p.minute, c.name, c.latitude, c.longitude"
    " FROM planned_visits p LEFT JOIN customers c ON c.id = p.customer_id"
    " WHERE p.day = :day AND p.dropped_at IS NULL",
    "SELECT c.owner_id, c.id, c.name, c.latitude, c.longitude, coalesce(c.tier_pinned, c.tier), c.created_at,"
    " max(v.started_at) FROM customers c LEFT JOIN visits v ON v.customer_id = c.id AND v.counts AND v.kind = 'visit'"
    " WHERE c.status = 'active' AND c.owner_id IS NOT NULL AND coalesce(c.tier_pinned, c.tier) IS NOT NULL"
    " GROUP BY c.id",
    "SELECT r.owner_id, r.due_at, l.id, l.company, l.latitude, l.longitude FROM reminders r"
    " JOIN leads l ON l.id = r.lead_id WHERE r.due_at >= :start AND r.due_at < :end AND r.cancelled_at IS NULL"
    " AND l.owner_id = r.owner_id",
    "SELECT DISTINCT ON (user_id) user_id, latitude, longitude FROM visits WHERE verdict = 'verified'"
    " AND latitude IS NOT NULL ORDER BY user_id, taken_at DESC",
    "SELECT o.path, s.office_latitude, s.office_longitude FROM visit_settings s JOIN org_units o ON o.id = s.unit_id"
    " WHERE s.removed_at IS NULL",
    "SELECT u.id, o.path FROM users u JOIN org_units o ON o.id = u.unit_id",
    "SELECT user_id, platform, workspace, dm_chat_id FROM platform_identities WHERE dm_chat_id IS NOT NULL"
    " AND unlinked_at IS NULL",
]
FLOOR_PARAMS = {"day": DAY, "since": datetime(2026, 11, 7, tzinfo=UTC),
                "start": datetime(2026, 12, 6, 16, 0, tzinfo=UTC), "end": datetime(2026, 12, 7, 16, 0, tzinfo=UTC)}


def plain(db: Database) -> int:
    with db.engine.connect() as conn:
        return sum(len(conn.execute(text(sql), FLOOR_PARAMS).all()) for sql in FLOOR_SQL)


def run(quick: bool) -> list[Row]:
    teams, reps, runs = (50, 1_000, 7) if quick else (500, 10_000, 11)
    with scratch_database("plans") as url:
        db = Database(url, BULK)
        load(db, teams, reps)

        def push() -> None:
            with db.uow() as uow:
                result = morning.push_due(uow, NOW)
                assert result.queued == reps, result
                uow.rollback()

        times = interleaved({"push": push, "floor": lambda: plain(db)}, runs)
        db.dispose()
    size = f"{reps:,} reps/{teams} teams, {reps * CUSTOMERS_PER_REP:,} customers"
    return [Row("plans", f"morning push: all {reps:,} plans built, routed, queued", median(times["push"]),
                median(times["floor"]), "ms", f"<=2x plain query of the same rows; {size}")]


if __name__ == "__main__":
    from bench.common import print_table

    print_table(run(quick=True))
