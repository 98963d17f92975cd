"""Leaderboard aggregates at company scale: every team's daily board and the company month board
through bot.services.deals.leaderboards, against the same aggregate written as one plain SQL GROUP BY.

Full: 10,000 reps in 500 teams, 2 million visits and 200,000 deals over a year, loaded set-based.
"""
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import text

from bench.common import BULK, Row, analyze, interleaved, median, run_statements, scratch_database
from bot.services.deals import leaderboards, periods
from db.session import Database

ZONE = ZoneInfo("Asia/Shanghai")
TODAY = date(2026, 11, 26)
YEAR_START = datetime(2025, 11, 27, tzinfo=UTC)


def load(db: Database, teams: int, reps: int, visits: int, deals: int) -> None:
    statements = [
        "INSERT INTO org_units (id, name, parent_id, path, timezone, active, created_at) "
        "VALUES (1, 'Company', NULL, '/1/', 'Asia/Shanghai', true, now())",
        f"INSERT INTO org_units (id, name, parent_id, path, active, created_at) "
        f"SELECT 1 + g, 'Team ' || g, 1, '/1/' || (1 + g) || '/', true, now() FROM generate_series(1, {teams}) g",
        f"INSERT INTO users (id, handle, name, unit_id, role, data_scope, locale, timezone, active, created_at) "
        f"SELECT g, 'rep' || g, 'Rep ' || g, 2 + (g % {teams}), 'rep', 'self', 'en', 'Asia/Shanghai', true, now() "
        f"FROM generate_series(1, {reps}) g",
        f"INSERT INTO customers (id, name, name_key, owner_id, level, status, created_at) "
        f"SELECT g, 'Customer ' || g, 'customer ' || g, g, 'C', 'active', now() FROM generate_series(1, {reps}) g",
        # Visits spread over the year; 85% counted (verified or approved).
        f"INSERT INTO visits (user_id, kind, status, started_at, source, verdict, reasons, review_status, counts,"
        f" created_at) SELECT 1 + (g::bigint * 7919) % {reps}, 'visit', 'closed',"
        f" timestamptz '{YEAR_START.isoformat()}' + (g::float / {visits}) * interval '365 days',"
        f" 'static', 'verified', '[]', 'none', (g % 7) <> 0, now() FROM generate_series(1, {visits}) g",
        f"INSERT INTO deals (name, customer_id, owner_id, stage, amount, currency, won_at, collected_amount,"
        f" created_at, updated_at) SELECT 'Deal ' || g, 1 + (g * 31) % {reps}, 1 + (g * 31) % {reps},"
        f" CASE WHEN g % 3 = 0 THEN 'lost' WHEN g % 3 = 1 THEN 'won' ELSE 'negotiation' END,"
        f" 1000 + (g * 37) % 500000, 'CNY',"
        f" CASE WHEN g % 3 = 1 THEN timestamptz '{YEAR_START.isoformat()}' + (g::float / {deals}) * interval '365 days'"
        f" END, 0, now(), now() FROM generate_series(1, {deals}) g",
    ]
    run_statements(db, statements)
    analyze(db)


def plain(db: Database, table_sql: str, start: datetime, end: datetime) -> int:
    with db.engine.connect() as conn:
        return len(conn.execute(text(table_sql), {"s": start, "e": end}).all())


# The floors return what a board prints and nothing more: per team and rep (the rep's name, his value
# and the moment he reached it), active reps of the company subtree, counted visits only, the period
# in the channel's time zone. Ranking, top N and building the boards are the service's own work.
# Both run through the same Database, so both connections have db.session's settings (jit=off) and
# psycopg's automatic prepared statements alike.
VISITS_SQL = ("SELECT u.unit_id, v.user_id, u.name, count(*), max(v.started_at) FROM visits v"
              " JOIN users u ON u.id = v.user_id JOIN org_units o ON o.id = u.unit_id"
              " WHERE v.counts AND v.kind = 'visit' AND v.started_at >= :s AND v.started_at < :e"
              " AND o.path LIKE '/1/%' AND u.active GROUP BY u.unit_id, v.user_id, u.name")
WON_SQL = ("SELECT d.owner_id, u.name, sum(d.amount), max(d.won_at) FROM deals d"
           " JOIN users u ON u.id = d.owner_id JOIN org_units ou ON ou.id = u.unit_id"
           " WHERE d.stage = 'won' AND d.won_at >= :s AND d.won_at < :e"
           " AND ou.path LIKE '/1/%' AND u.active GROUP BY d.owner_id, u.name")


def run(quick: bool) -> list[Row]:
    teams, reps, visits, deals, runs = (50, 1_000, 100_000, 10_000, 7) if quick else (
        500, 10_000, 2_000_000, 200_000, 21)
    with scratch_database("leaderboard") as url:
        db = Database(url, BULK)
        load(db, teams, reps, visits, deals)
        team_ids = list(range(2, 2 + teams))
        day = periods.Window.of("day", TODAY, ZONE)
        month = periods.Window.of("month", TODAY, ZONE)

        def team_boards() -> None:
            with db.uow() as uow:
                boards = leaderboards.compute_boards(uow, team_ids, "visits", "day", TODAY, ZONE, with_extras=False)
                assert len(boards) == teams

        def company_month() -> None:
            with db.uow() as uow:
                leaderboards.compute_boards(uow, [1], "won_amount", "month", TODAY, ZONE, with_extras=False)

        times = interleaved({
            "teams": team_boards,
            "teams_floor": lambda: plain(db, VISITS_SQL, day.start_utc, day.end_utc),
            "company": company_month,
            "company_floor": lambda: plain(db, WON_SQL, month.start_utc, month.end_utc),
        }, runs)
        db.dispose()
    size = f"{reps:,} reps/{teams} teams, {visits:,} visits, {deals:,} deals"
    return [
        Row("leaderboard", f"all {teams} team daily boards (visits)", median(times["teams"]),
            median(times["teams_floor"]), "ms", f"<=1.5x plain GROUP BY; {size}"),
        Row("leaderboard", "company month board (won amount)", median(times["company"]),
            median(times["company_floor"]), "ms", "<=1.5x plain GROUP BY"),
    ]


if __name__ == "__main__":
    from bench.common import print_table

    print_table(run(quick=True))
