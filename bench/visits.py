"""Logging one visit end to end through the command table, against the same row logged through the
command table with no lookup and no verdict (and, for scale, a bare INSERT of it).

Data: `reps` reps with `days` days of visits (about 5.5 a day: 1,000 reps x 365 days is ~2 million
rows), loaded set-based into a scratch PostgreSQL database and vacuumed (as autovacuum would).
Measured, interleaved with the floor (so machine noise hits both alike):
  - /visit c<id> then a location: two commands through Router.handle (two messages from the rep,
    so two transactions), verdict and the previous-visit lookup included; each rep once;
  - the location step alone (where the verdict is computed), and within it the router's own share
    (identity, dedupe, commit, metrics: everything outside the location handler);
  - for scale: the same two writes done bare (INSERT the waiting row, then UPDATE it with the
    position), each in its own transaction;
  - the floor the target is set against: a bench-only command that logs the same row through the
    command table (router, identity, ORM, audit, a rendered reply) with no lookup and no verdict,
    so the ratio is what the lookup and the verdict add (target: within 1.5x);
  - for scale: one INSERT of the same visit row in its own transaction.
Also checks with EXPLAIN that the lookup the location step runs reads the previous visit with an
Index Only Scan and touches `visits` only through indexes.
"""
import dataclasses
import itertools
import random
import sys
import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import event, text

from bench.common import BULK, Row, analyze, interleaved, median, p99, scratch_database
from bot.bootstrap import build_router, command_table, open_database
from bot.config import load_settings
from bot.context import Context
from bot.handlers.registry import LOCATION_COMMAND, Access, Command, CommandTable
from bot.messages import Incoming, Location, Reply
from bot.router import Router
from bot.services.visits import shared_location
from bot.services.visits.location_checks import Fix
from db.models import User, Visit
from db.session import Database

VISITS_PER_DAY = 5.5
NOW = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)


def load(db: Database, reps: int, days: int) -> int:
    per_rep = int(days * VISITS_PER_DAY)
    start = NOW - timedelta(days=days)
    with db.engine.begin() as conn:
        conn.execute(text("INSERT INTO org_units (id, name, path, timezone, active, created_at) "
                          "VALUES (1, 'Bench Co', '/1/', 'Asia/Shanghai', true, now())"))
        conn.execute(text(
            "INSERT INTO users (id, handle, name, unit_id, role, data_scope, locale, timezone, active, created_at) "
            "SELECT g, 'rep' || g, 'Rep ' || g, 1, 'rep', 'self', 'en', 'Asia/Shanghai', true, now() "
            "FROM generate_series(1, :reps) g"), {"reps": reps})
        conn.execute(text(
            "INSERT INTO platform_identities (platform, workspace, platform_user_id, dm_chat_id, user_id, linked_at) "
            "SELECT 'console', 'local', 'rep' || g, '@rep' || g, g, now() FROM generate_series(1, :reps) g"),
            {"reps": reps})
        conn.execute(text(
            # Customers with known, trusted places (imported): the steady state of a company.
            "INSERT INTO customers (id, name, name_key, owner_id, level, latitude, longitude, location_source, "
            "location_trust, status, created_at) "
            "SELECT g, 'Customer ' || g, 'customer' || g, g, 'C', 30.2 + (g % 97) * 0.001, 120.1 + (g % 89) * 0.001, "
            "'import', 'trusted', 'active', now() FROM generate_series(1, :reps) g"), {"reps": reps})
        conn.execute(text(
            "INSERT INTO visits (user_id, kind, customer_id, status, started_at, ended_at, latitude, longitude, "
            "accuracy_m, source, taken_at, arrived_at, distance_m, verdict, reasons, review_status, counts, created_at) "
            "SELECT u, 'visit', u, 'closed', t, t + interval '40 minutes', 30.2 + random() * 0.1, "
            "120.1 + random() * 0.1, 5 + random() * 50, 'static', t, t, random() * 400, 'verified', '[]', 'none', "
            "true, t FROM generate_series(1, :reps) u, generate_series(0, :per_rep - 1) i, "
            "LATERAL (SELECT :start + (i * (:days * 86400.0 / :per_rep) || ' seconds')::interval AS t) s"),
            {"reps": reps, "per_rep": per_rep, "start": start, "days": days})
        conn.execute(text("SELECT setval('visits_id_seq', (SELECT max(id) FROM visits))"))
    analyze(db, "VACUUM ANALYZE visits")
    return reps * per_rep


def explain_location_lookup(db: Database, router: Router, user_id: int) -> str:
    """EXPLAIN of the one lookup statement a shared location runs, with a visit waiting."""
    base = dict(platform="console", workspace="local", chat_id=f"@rep{user_id}", user_id=f"rep{user_id}")
    [started] = router.handle(Incoming(**base, command="visit", args=f"c{user_id}"))
    assert started.request_location, started
    captured: list[tuple[str, object]] = []

    def capture(conn, cursor, statement, parameters, context, executemany) -> None:
        captured.append((statement, parameters))

    with db.uow() as uow:
        user = uow.session.get(User, user_id)
        fix = Fix(30.2, 120.1, 12.0, "static", NOW, NOW)
        event.listen(db.engine, "before_cursor_execute", capture)
        try:
            around = shared_location.lookup(uow, user.id, fix, NOW)
        finally:
            event.remove(db.engine, "before_cursor_execute", capture)
        assert around.waiting is not None and around.previous is not None
        [(statement, parameters)] = captured
        cursor = uow.session.connection().connection.dbapi_connection.cursor()
        cursor.execute(f"EXPLAIN {statement}", parameters)
        plan = "\n".join(r[0] for r in cursor.fetchall())
    [ended] = router.handle(Incoming(**base, command="visit", args="end"))
    return plan


def timed_handler(table: CommandTable, name: str, times: list[float]) -> Command:
    """Time the handler inside the router (the rest of Router.handle is the router's own share)."""
    command = table.lookup(name)
    assert command is not None
    handler = command.handler

    def timed(*args: object, **kwargs: object) -> object:
        started = time.perf_counter()
        try:
            return handler(*args, **kwargs)
        finally:
            times.append((time.perf_counter() - started) * 1000)

    return dataclasses.replace(command, handler=timed)


BARE_COMMAND = "benchvisit"


def bare_visit_command() -> Command:
    """The command table's own floor: the same visit row logged with no lookup and no verdict."""
    def bare_visit(ctx: Context) -> list[Reply]:
        visit = Visit(
            user_id=ctx.user_id, kind="visit", customer_id=ctx.user_id, status="closed", started_at=ctx.now,
            latitude=30.2, longitude=120.1, accuracy_m=12.0, source="static", taken_at=ctx.now,
            arrived_at=ctx.now, distance_m=20.0, verdict="verified", reasons=[], review_status="none",
            counts=True, created_at=ctx.now,
        )
        ctx.uow.session.add(visit)
        ctx.uow.session.flush()
        pinned = shared_location.Pinned(visit.id, "visit", "Customer", "verified", [], 20.0, 12.0, ctx.now)
        return [ctx.reply("visits/pinned", pinned=pinned)]

    return Command(BARE_COMMAND, bare_visit, Access.MEMBER, hidden=True)


def run(quick: bool) -> list[Row]:
    reps, days = (50, 30) if quick else (1000, 365)
    with scratch_database("visits") as url:
        db = open_database(url, timeouts=BULK)
        rows = load(db, reps, days)
        print(f"visits: loaded {rows:,} visits for {reps} reps", file=sys.stderr, flush=True)
        clock = itertools.count()
        settings = load_settings(env_file=None, DATABASE_URL=url, SECRET_KEY="bench")
        step_times: list[float] = []
        handler_times: list[float] = []
        table = command_table()
        timed = timed_handler(table, LOCATION_COMMAND, handler_times)
        table = CommandTable([*(c for c in table.all() if c.name != LOCATION_COMMAND), timed, bare_visit_command()])
        router = build_router(db, settings, commands=table, clock=lambda: NOW + timedelta(seconds=next(clock)))
        plan = explain_location_lookup(db, router, 1)
        handler_times.clear()  # the explained run is not a sample
        order = list(range(1, reps + 1))
        random.shuffle(order)

        def log_visit() -> None:
            rep = order[len(step_times) % reps]
            base = dict(platform="console", workspace="local", chat_id=f"@rep{rep}", user_id=f"rep{rep}")
            [started] = router.handle(Incoming(**base, command="visit", args=f"c{rep}"))
            assert started.request_location, started
            lat, lon = 30.2 + (rep % 97) * 0.001 + 0.0002, 120.1 + (rep % 89) * 0.001
            started = time.perf_counter()
            [reply] = router.handle(Incoming(**base, location=Location(lat, lon, 12.0, "static", taken_at=NOW)))
            step_times.append((time.perf_counter() - started) * 1000)
            assert reply.title and "pinned" in reply.title, reply

        visit_row = {"t": NOW}

        def bare_insert() -> None:
            with db.engine.begin() as conn:
                conn.execute(text(
                    "INSERT INTO visits (user_id, kind, customer_id, status, started_at, latitude, longitude, "
                    "accuracy_m, source, taken_at, arrived_at, distance_m, verdict, reasons, review_status, counts, "
                    "created_at) VALUES (1, 'visit', 1, 'closed', :t, 30.2, 120.1, 12, 'static', :t, :t, 20, "
                    "'verified', '[]', 'none', true, :t)"), visit_row)

        def bare_two_writes() -> None:
            with db.engine.begin() as conn:
                visit_id = conn.execute(text(
                    "INSERT INTO visits (user_id, kind, customer_id, status, started_at, source, verdict, reasons, "
                    "review_status, counts, created_at) VALUES (1, 'visit', 1, 'waiting', :t, 'none', "
                    "'unverified', '[]', 'none', false, :t) RETURNING id"), visit_row).scalar_one()
            with db.engine.begin() as conn:
                conn.execute(text(
                    "UPDATE visits SET status = 'closed', latitude = 30.2, longitude = 120.1, accuracy_m = 12, "
                    "source = 'static', taken_at = :t, arrived_at = :t, distance_m = 20, verdict = 'verified', "
                    "counts = true WHERE id = :id"), {**visit_row, "id": visit_id})

        def bare_command() -> None:
            rep = order[len(step_times) % reps]
            base = dict(platform="console", workspace="local", chat_id=f"@rep{rep}", user_id=f"rep{rep}")
            [reply] = router.handle(Incoming(**base, command=BARE_COMMAND))
            assert reply.title and "pinned" in reply.title, reply

        times = interleaved({"visit": log_visit, "insert": bare_insert, "two": bare_two_writes,
                             "command": bare_command}, reps)
        db.dispose()
    floor_median, floor_p99 = median(times["insert"]), p99(times["insert"])
    command_median, command_p99 = median(times["command"]), p99(times["command"])
    router_share = [step - handler for step, handler in zip(step_times, handler_times, strict=True)]
    index_only = "Index Only Scan Backward using ix_visits_user_taken_cover" in plan
    seq_on_visits = any("Seq Scan on visits" in line for line in plan.splitlines())
    print(plan, file=sys.stderr)
    return [
        Row("visits", "location step (verdict), median (floor: command table, no lookup, no verdict)",
            median(step_times), command_median, target="<= 1.5x"),
        Row("visits", "location step (verdict), p99 (same floor)", p99(step_times), command_p99,
            target="<= 1.5x"),
        Row("visits", f"/visit + location, median ({rows:,} rows; floor: bare INSERT)", median(times["visit"]),
            floor_median, target="for scale (two commands)"),
        Row("visits", "/visit + location, p99", p99(times["visit"]), floor_p99, target="for scale"),
        Row("visits", "location step vs a bare INSERT, median", median(step_times), floor_median,
            target="for scale"),
        Row("visits", "  of which router (identity, commit), median", median(router_share), floor_median,
            target="share, not a target"),
        Row("visits", "  of which location handler, median", median(handler_times), floor_median,
            target="share, not a target"),
        Row("visits", "two bare transactions (INSERT, UPDATE), median", median(times["two"]), floor_median,
            target="for scale"),
        Row("visits", "location lookup: prev visit index-only (1=yes)", 1.0 if index_only and not seq_on_visits
            else 0.0, None, unit="", target="Index Only Scan, no Seq Scan on visits"),
    ]
