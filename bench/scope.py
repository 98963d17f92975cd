"""Scope-checked /leads and /team for a manager at the top of a 10,000-rep tree, against the same
queries with no scope filter, measured interleaved in one run. Target: within 1.5x."""
from datetime import UTC, date, datetime

from sqlalchemy import func, select

from bench.common import BULK, Row, interleaved, median, p99, run_statements, scratch_database
from bot.services.leads import reading
from bot.services.manager import scope, team
from db.models import Lead, OrgUnit, User
from db.models.lead import OPEN_LEAD_STATUSES
from db.session import Database

NOW = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)


def load(db: Database, regions: int, teams: int, reps_per_team: int, leads_per_rep: int) -> None:
    """The tree and its records, set-based (INSERT ... SELECT generate_series)."""
    reps = regions * teams * reps_per_team
    statements = [
        "INSERT INTO org_units (id, name, parent_id, path, active, created_at) VALUES (1, 'Company', NULL, '/1/', true, now())",
        f"""INSERT INTO org_units (id, name, parent_id, path, active, created_at)
            SELECT 1 + r, 'Region ' || r, 1, '/1/' || (1 + r) || '/', true, now() FROM generate_series(1, {regions}) r""",
        f"""INSERT INTO org_units (id, name, parent_id, path, active, created_at)
            SELECT 1000 + t, 'Team ' || t, 2 + (t - 1) / {teams}, '/1/' || (2 + (t - 1) / {teams}) || '/' || (1000 + t) || '/',
                   true, now() FROM generate_series(1, {regions * teams}) t""",
        "SELECT setval(pg_get_serial_sequence('org_units', 'id'), 100000)",
        """INSERT INTO users (id, handle, name, unit_id, role, data_scope, locale, timezone, active, created_at)
           VALUES (1, 'boss', 'Boss', 1, 'manager', 'subtree', 'en', 'UTC', true, now())""",
        f"""INSERT INTO users (id, handle, name, unit_id, role, data_scope, locale, timezone, active, created_at, manager_id)
            SELECT 1 + u, 'rep' || u, 'Rep ' || u, 1000 + 1 + (u - 1) / {reps_per_team}, 'rep', 'self', 'en', 'UTC', true,
                   now(), 1 FROM generate_series(1, {reps}) u""",
        "SELECT setval(pg_get_serial_sequence('users', 'id'), 1000000)",
        f"""INSERT INTO leads (company, name_key, level, status, owner_id, locked, claimed_at, last_followup_at,
                               created_at, updated_at)
            SELECT 'Lead ' || g, 'lead' || g, 'C', (ARRAY['pending','following','invalid','converted'])[1 + g % 4],
                   2 + g % {reps}, false, now() - (g % 20) * interval '1 day', now() - (g % 9) * interval '1 day',
                   now(), now() - (g % 1000) * interval '1 minute'
            FROM generate_series(1, {reps * leads_per_rep}) g""",
        f"""INSERT INTO customers (name, name_key, level, status, owner_id, created_at)
            SELECT 'Customer ' || g, 'customer' || g, 'C', 'active', 2 + g % {reps}, now()
            FROM generate_series(1, {reps}) g""",
        f"""INSERT INTO deals (name, customer_id, owner_id, stage, amount, currency, collected_amount,
                               won_at, created_at, updated_at)
            SELECT 'Deal ' || g, 1 + g % {reps}, 2 + g % {reps}, (ARRAY['initial','intent','negotiation','won'])[1 + g % 4],
                   1000 + g % 5000, 'CNY', 0, CASE WHEN g % 4 = 3 THEN now() - (g % 20) * interval '1 day' END, now(), now()
            FROM generate_series(1, {reps * 3}) g""",
        f"""INSERT INTO visits (user_id, kind, status, started_at, source, verdict, reasons, review_status, counts,
                                created_at)
            SELECT 2 + g % {reps}, 'visit', 'closed', timestamptz '{NOW.isoformat()}' - (g % 96) * interval '1 hour',
                   'static', CASE WHEN g % 7 = 0 THEN 'flagged' ELSE 'verified' END, '[]', 'none', g % 7 <> 0, now()
            FROM generate_series(1, {reps * 5}) g""",
        "ANALYZE",
    ]
    run_statements(db, statements)


def run(quick: bool) -> list[Row]:
    regions, teams, per_team, per_rep = (5, 4, 50, 5) if quick else (10, 10, 100, 20)
    reps = regions * teams * per_team
    runs = 7 if quick else 15
    with scratch_database("scope") as url:
        db = Database(url, BULK)
        load(db, regions, teams, per_team, per_rep)
        today = date(2026, 11, 26)

        def leads_scoped():
            with db.uow() as uow:
                return reading.list_leads(uow, 1, "open", "Company", today)

        def leads_query(filtered: bool):
            def action():
                with db.uow() as uow:
                    query = select(Lead, User.name).join(User, User.id == Lead.owner_id).where(
                        Lead.status.in_(OPEN_LEAD_STATUSES))
                    if filtered:
                        query = query.where(scope.owned_filter(scope.of(uow, 1, today), Lead.owner_id, "lead", Lead.id))
                    uow.session.scalar(select(func.count()).select_from(query.subquery()))
                    return uow.session.execute(query.order_by(Lead.updated_at.desc(), Lead.id.desc()).limit(20)).all()
            return action

        def team_view(filtered: bool):
            def action():
                with db.uow() as uow:
                    root = uow.session.get(OrgUnit, 1)
                    visible = scope.of(uow, 1, today) if filtered else scope.Scope(1, "all", 1, "/1/", today)
                    return team.compute(uow, visible, root, NOW, "UTC")
            return action

        times = interleaved({
            "leads_scoped": leads_query(True), "leads_floor": leads_query(False),
            "team_scoped": team_view(True), "team_floor": team_view(False), "leads_service": leads_scoped,
        }, runs)
        db.dispose()
    label = f"{reps:,} reps"
    return [
        Row("scope", f"/leads query, top manager ({label}), median", median(times["leads_scoped"]),
            median(times["leads_floor"]), "ms", "<= 1.5x"),
        Row("scope", f"/leads query, top manager ({label}), p99", p99(times["leads_scoped"]),
            p99(times["leads_floor"]), "ms", ""),
        Row("scope", "/leads service (leads.list_leads), median", median(times["leads_service"]),
            median(times["leads_floor"]), "ms", "info"),
        Row("scope", f"/team top manager ({label}), median", median(times["team_scoped"]),
            median(times["team_floor"]), "ms", "<= 1.5x"),
        Row("scope", f"/team top manager ({label}), p99", p99(times["team_scoped"]), p99(times["team_floor"]), "ms", ""),
    ]


if __name__ == "__main__":
    from bench.common import print_table

    print_table(run(quick=True))
