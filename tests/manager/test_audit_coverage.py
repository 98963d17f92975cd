"""Every write is audited: each command of the command table and each scheduled job is made to write
on the demo org, and every business record it changed (every table but the bookkeeping ones named
in bot.services.core.audit_log) must have an audit row for that change.

A command without a scenario here fails `test_every_command_has_a_scenario`: add it to WRITERS
(setup lines, then the lines that make it write) or, when it only reads, to READ_ONLY, where it is
checked to write nothing. A command with subcommands (a choice parameter named `action`) is walked
one subcommand at a time ("review approve"; the bare name too when the action is optional). The
writers outside the command table (the lead and customer imports, the org file) are walked at the end.
"""
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from bot.bootstrap import command_table, jobs
from bot.services.core import audit_log, demo, identity, org_file
from bot.services.customers import imports as customer_imports
from bot.services.leads import imports
from db.base import Base, utcnow
from db.models import Lead, Pool, Reminder, User, Visit
from db.models.audit import AuditEntry
from tests.conftest import say
from tests.visits.photo_images import jpeg, picture

Prepare = Callable[[object], dict]


def _invitation(db) -> dict:
    with db.uow() as uow:
        code = identity.create_invitation(uow, identity.find_user(uow, "li").id, utcnow(), 14)
        uow.commit()
    return {"code": code}


def _flag_visit(db) -> dict:
    """li's latest visit, made reviewable."""
    with db.uow() as uow:
        visit_id = uow.session.scalar(select(func.max(Visit.id)))
        uow.session.execute(update(Visit).where(Visit.id == visit_id).values(verdict="flagged", review_status="none"))
        uow.commit()
    return {"visit": visit_id}


def _photo_file(db) -> dict:
    """A JPEG on disk, for the console's /photo PATH."""
    path = Path(tempfile.mkdtemp(prefix="fieldcrm-audit-")) / "shop.jpg"
    path.write_bytes(jpeg(picture(3)))
    return {"path": str(path)}


def _far_visits(db) -> dict:
    """Customer 1 gets a trusted place, and li three visits on two days that agree 2 km away from it."""
    from db.models import Customer

    now = utcnow()
    with db.uow() as uow:
        customer = uow.session.get(Customer, 1)
        customer.latitude, customer.longitude, customer.location_trust = 30.0, 120.0, "trusted"
        li = identity.find_user(uow, "li").id
        for n, ago in enumerate((timedelta(days=2), timedelta(days=2, hours=-1), timedelta(days=1))):
            at = now - ago
            uow.session.add(Visit(
                user_id=li, kind="visit", customer_id=1, status="closed", started_at=at, created_at=at,
                latitude=30.02 + n * 0.0001, longitude=120.0, accuracy_m=10, source="static", taken_at=at,
                arrived_at=at, verdict="flagged", counts=False, review_status="none",
                reasons=[{"code": "outside_geofence", "severity": "flag", "distance_m": 2224, "limit_m": 500}]))
        uow.commit()
    return {}


@dataclass(frozen=True)
class Scenario:
    run: tuple[str, ...]
    setup: tuple[str, ...] = ()
    prepare: Prepare | None = None  # Python setup after the setup lines; its dict formats the run lines
    ok: tuple[str, ...] = field(default=())  # a word the last answer must hold (the command did act)


CLAIMED = ("/as li", "/claim 1")
CONVERTED = (*CLAIMED, "/convert 1 --contact Tom --deal 100")
VISITED = (*CONVERTED, "/visit c1", "/location 30 120")

# Commands that write, and a scenario that makes each one write (run as the demo org's people).
WRITERS: dict[str, Scenario] = {
    "join": Scenario(("/as newphone", "/join {code}"), prepare=_invitation),
    "start": Scenario(("/as newphone", "/start {code}"), prepare=_invitation),
    "lang": Scenario(("/as li", "/lang en")),
    "visit": Scenario(("/visit c1", "/location 30 120"), setup=CONVERTED),
    "setloc": Scenario(("/setloc c1", "/location 30 120"), setup=CONVERTED),
    "customer setloc": Scenario(("/customer 1 setloc", "/location 30 120"), setup=CONVERTED),
    "customer tier": Scenario(("/as mei", "/customer 1 tier A key account"),
                              setup=CONVERTED),
    "customer reanchor": Scenario(("/as mei", "/customer 1 reanchor"), setup=CONVERTED, prepare=_far_visits,
                                  ok=("地点已调整",)),
    "customer contact": Scenario(("/customer 1 contact Tom --birthday 03-15 --language en",
                                  "/customer 1 contact Ann --birthday 1980-07-01"), setup=CONVERTED),
    "location": Scenario(("/location 30.001 120.001",), setup=(*CONVERTED, "/visit c1")),
    "checkin": Scenario(("/checkin", "/location 30 120"), setup=("/as li",)),
    "checkout": Scenario(("/checkout", "/location 30 120"), setup=("/as li", "/checkin", "/location 30 120")),
    "photo": Scenario(("/photo {path}",), setup=VISITED, prepare=_photo_file),
    "review approve": Scenario(("/as mei", "/review approve {visit}"), setup=VISITED, prepare=_flag_visit),
    "review reject": Scenario(("/as mei", "/review reject {visit} not there"), setup=VISITED, prepare=_flag_visit),
    "newlead": Scenario(("/newlead FreshCo Bob",), setup=("/as li",)),
    # On a lead, then on a customer (customer #1, made of lead #2): both follow-ups, both reminders.
    "follow": Scenario(("/follow 1 called them, call back tomorrow 10am", "/follow c1 met the buyer, 明天11点回电"),
                       setup=(*CLAIMED, "/claim 2", "/convert 2"), ok=("提醒 #2",)),
    "remind cancel": Scenario(("/remind cancel 1",), setup=(*CLAIMED, "/follow 1 call back tomorrow 10am")),
    "remind pick": Scenario(("/remind pick 1 2",), setup=(*CLAIMED, "/follow 1 明天7点回电")),
    "plan add": Scenario(("/plan add c1 2099-12-31 10:00",), setup=CONVERTED, ok=("已加入计划",)),
    "plan drop": Scenario(("/plan drop c1",), setup=(*CONVERTED, "/plan add c1 2099-12-31"), ok=("已从计划中取消",)),
    "plan morning": Scenario(("/as li", "/plan morning off")),
    "invalid": Scenario(("/invalid 1 wrong number",), setup=CLAIMED),
    "void": Scenario(("/void 1 test data",), setup=CLAIMED),
    "convert": Scenario(("/convert 1 --contact Tom --deal 100",), setup=CLAIMED),
    "claim": Scenario(("/claim 2",), setup=("/as li",)),
    "release": Scenario(("/release 1 not interested",), setup=CLAIMED),
    "assign": Scenario(("/assign 3 li",), setup=("/as mei",)),
    "newdeal": Scenario(("/newdeal c1 5000 Second order",), setup=CONVERTED),
    "stage": Scenario(("/stage 1 intent",), setup=CONVERTED),
    "win": Scenario(("/win 1",), setup=CONVERTED),
    "lose": Scenario(("/lose 1 price",), setup=CONVERTED),
    "paid": Scenario(("/paid 1 50",), setup=(*CONVERTED, "/win 1")),
    "target": Scenario(("/as mei", "/target set li month won_amount 100000")),
    "nudges": Scenario(("/as li", "/nudges off")),
    "handover": Scenario(("/as mei", "/handover li zhang all --stay readonly --until 2099-12-31"), setup=CONVERTED),
    "undo_handover": Scenario(("/undo_handover",), setup=(*CONVERTED, "/as mei",
                                                          "/handover li zhang all --stay readonly --until 2099-12-31")),
    "pool admin create": Scenario(("/pool admin create \"East pool\" \"East Team\"",), setup=("/as admin",)),
    "pool admin rules": Scenario(("/pool admin rules demo pool daily_claim_limit=5 A.return_no_followup_days=14",),
                                 setup=("/as admin",)),
    "pool admin members": Scenario(("/pool admin members demo pool add @sam --admin",), setup=("/as admin",)),
    "channel set": Scenario(("/channel set quiet_hours=22:00-08:00 boards.time=17:30",),
                            setup=("/as mei", "/in #sales")),
    "channel link": Scenario(("/channel link East Team",), setup=("/as mei", "/in #east")),
    "channel unlink": Scenario(("/channel unlink",), setup=("/as mei", "/in #sales")),
    "unit set": Scenario(("/unit set East Team geofence_m=300 office=31.2304,121.4737",), setup=("/as mei",)),
    # One command, three acts (its first word): a link made, listed, and revoked, each write audited.
    "board screen": Scenario(("/board screen East Team", "/board screen list", "/board screen revoke 1"),
                             setup=("/as mei",)),
}
# Commands that only read: each must write no business record at all.
READ_ONLY: dict[str, tuple[str, ...]] = {
    "whoami": ("/as li", "/whoami"), "help": ("/help",), "visits": ("/visits",),
    "share_location": ("/as li", "/share_location"), "nearby": ("/as li", "/nearby", "/location 31.23 121.47"), "leads": ("/leads",), "lead": ("/lead 1",), "pool": ("/pool",),
    "customers": ("/customers",), "deals": ("/deals",), "deal": ("/deal 1",), "rank": ("/rank",), "team": ("/team",),
    "report": ("/report",), "audit": ("/audit lead 1",), "export": ("/export leads --format csv",),
    "customer": ("/customer 1",), "review": ("/as mei", "/review"), "pool admin": ("/as admin", "/pool admin"),
    "channel": ("/in #sales", "/channel"), "unit": ("/as mei", "/unit East Team"), "photos": ("/as mei", "/photos 1"),
    "remind": ("/as li", "/remind"),
    "plan": ("/as li", "/plan", "/plan week", "/plan morning"),
}


def _returnable(db) -> None:
    """Lead #1 claimed by li long ago, in a pool that returns after a day; the demo pool hands out."""
    with db.uow() as uow:
        uow.session.execute(update(Pool).values(return_no_followup_days=1, auto_distribute=True))
        old = utcnow() - timedelta(days=5)
        uow.session.execute(update(Lead).where(Lead.id == 1).values(claimed_at=old, last_followup_at=None))
        uow.commit()


def _reminder_due(db) -> None:
    with db.uow() as uow:
        uow.session.execute(update(Reminder).values(due_at=utcnow() - timedelta(minutes=1)))
        uow.commit()


# Jobs that write business records, with what makes them write; the others must write none.
WRITING_JOBS: dict[str, tuple[tuple[str, ...], Callable[[object], None]]] = {
    "pool.sweep": (CLAIMED, _returnable),
    "reminders": ((*CLAIMED, "/lang en", "/follow 1 call back tomorrow 10am"), _reminder_due),
    "customers.tiers": ((*CONVERTED, "/win 1", "/paid 1 50"), lambda _db: None),
}
QUIET_JOBS = {"scheduler.heartbeat", "visits.digests", "leaderboards", "nudges", "reports.weekly", "care",
              "morning_plans"}


# --- snapshots -------------------------------------------------------------------------------

Snapshot = dict[str, dict[object, tuple]]


def business_tables() -> list:
    return [t for t in Base.metadata.sorted_tables if not audit_log.is_bookkeeping(t.name)]


def snapshot(db) -> Snapshot:
    shot: Snapshot = {}
    with db.uow() as uow:
        for table in business_tables():
            key = list(table.primary_key.columns)[0]
            shot[table.name] = {row[0]: tuple(row) for row in uow.session.execute(
                select(key, *[c for c in table.c if c is not key])).all()}
    return shot


def changed(before: Snapshot, after: Snapshot) -> set[tuple[str, object]]:
    out = set()
    for name, rows in after.items():
        old = before.get(name, {})
        out |= {(audit_log.record_type_of(name), key) for key, row in rows.items() if old.get(key) != row}
        out |= {(audit_log.record_type_of(name), key) for key in old if key not in rows}
    return out


def last_audit_id(db) -> int:
    with db.uow() as uow:
        return uow.session.scalar(select(func.coalesce(func.max(AuditEntry.id), 0)))


def audited_since(db, audit_id: int) -> set[tuple[str, object]]:
    with db.uow() as uow:
        rows = uow.session.execute(select(AuditEntry.record_type, AuditEntry.record_id).where(AuditEntry.id > audit_id))
        return {tuple(row) for row in rows}


def run_lines(console, lines) -> list[str]:
    return [say(console, line) for line in lines]


def measure(db, act: Callable[[], object]) -> tuple[set, set]:
    before, audit_id = snapshot(db), last_audit_id(db)
    act()
    return changed(before, snapshot(db)), audited_since(db, audit_id)


# --- the tests -------------------------------------------------------------------------------

def walked_names() -> set[str]:
    """Every command, and every subcommand of a command with a choice parameter named `action`."""
    names: set[str] = set()
    for command in command_table().all():
        actions = [p for p in command.params if p.name == "action" and p.kind == "choice"]
        if not actions or actions[0].optional:
            names.add(command.name)
        names |= {f"{command.name} {choice}" for p in actions for choice in p.choices}
    return names


def test_every_command_has_a_scenario():
    names = walked_names()
    missing = sorted(names - WRITERS.keys() - READ_ONLY.keys())
    assert not missing, (
        f"commands without an audit scenario: {', '.join('/' + n for n in missing)}. In {__file__}, add each "
        "that writes to WRITERS, e.g. "
        + "; ".join(f'"{n}": Scenario(run=("/{n} ...",), setup=("/as mei", ...))' for n in missing)
        + " (the run lines must make it write; setup lines run before the snapshot), or each that only "
        "reads to READ_ONLY, e.g. " + "; ".join(f'"{n}": ("/{n} ...",)' for n in missing) + "."
    )
    assert not (WRITERS.keys() | READ_ONLY.keys()) - names, "scenarios for commands that no longer exist"
    assert not WRITERS.keys() & READ_ONLY.keys()


def test_every_job_is_walked():
    names = {job.name for job in jobs()}
    missing = sorted(names - WRITING_JOBS.keys() - QUIET_JOBS)
    assert not missing, (
        f"jobs without an audit scenario: {', '.join(missing)}. Add each to WRITING_JOBS in {__file__} "
        "(setup lines and a function that makes it due) or, if it writes only bookkeeping, to QUIET_JOBS."
    )


@pytest.mark.parametrize("name", sorted(WRITERS))
def test_a_writing_command_audits_every_record_it_changes(name, console, db, demo_pool):
    scenario = WRITERS[name]
    run_lines(console, scenario.setup)
    values = scenario.prepare(db) if scenario.prepare else {}
    lines = [line.format(**values) for line in scenario.run]
    answers: list[str] = []
    touched, audited = measure(db, lambda: answers.extend(run_lines(console, lines)))
    assert touched, f"/{name}: the scenario wrote nothing (answers: {answers})"
    assert touched <= audited, f"/{name} changed records without an audit row: {sorted(touched - audited)}"


@pytest.mark.parametrize("name", sorted(READ_ONLY))
def test_a_reading_command_writes_nothing(name, console, db, demo_pool):
    run_lines(console, CONVERTED)
    touched, audited = measure(db, lambda: run_lines(console, READ_ONLY[name]))
    assert not touched and not audited, f"/{name} is listed as read-only but wrote {sorted(touched | audited)}"


def _job(name: str):
    return next(job for job in jobs() if job.name == name)


@pytest.mark.parametrize("name", sorted(WRITING_JOBS))
def test_a_writing_job_audits_every_record_it_changes(name, console, db, demo_pool, settings):
    setup, make_due = WRITING_JOBS[name]
    run_lines(console, setup)
    make_due(db)
    touched, audited = measure(db, lambda: _job(name).func(db, utcnow(), settings))
    assert touched, f"{name}: the scenario wrote nothing"
    assert touched <= audited, f"{name} changed records without an audit row: {sorted(touched - audited)}"


@pytest.mark.parametrize("name", sorted(QUIET_JOBS))
def test_a_quiet_job_writes_no_business_record(name, console, db, demo_pool, settings):
    run_lines(console, CONVERTED)
    touched, audited = measure(db, lambda: _job(name).func(db, utcnow(), settings))
    assert not touched and not audited, f"{name} wrote {sorted(touched | audited)}"


def _import(db) -> None:
    with db.uow() as uow:
        report = imports.import_leads(uow, b"company,phone\nImported Co,13800138123\n", "leads.csv",
                                      demo.DEMO_POOL, utcnow())
        uow.commit()
    assert report.created == 1


def _import_customers(db) -> None:
    """Customers with a place, a pinned tier and a contact with a birthday, one matching a pool lead."""
    data = "name,owner,contact,lat,lon,tier,birthday\n上海星河贸易,li,陈静,31.2,121.5,A,03-15\nNew Co,sam,,,,,\n"
    with db.uow() as uow:
        report = customer_imports.import_customers(uow, data.encode(), "customers.csv", utcnow())
        uow.commit()
    assert (report.created, report.contacts) == (2, 1)


def _org_file_with_a_new_phone_region(db) -> None:
    """The demo org again, with another phone region (every phone re-keyed), a channel's board
    plan and quiet hours, and a new pool with members, an admin and rules."""
    tree = demo.DEMO_ORG
    channel = {**tree["channels"][0], "quiet_hours": "22:00-08:00", "boards": {"time": "17:30", "periods": ["day"]}}
    pool = {"name": "East pool", "members": {"units": ["East Team"]}, "admins": ["mei"],
            "rules": {"daily_claim_limit": 5, "levels": {"A": {"return_no_followup_days": 14}}}}
    changed_org = {**tree, "units": [{**tree["units"][0], "phone_region": "US"}], "channels": [channel],
                   "pools": [pool]}
    with db.uow() as uow:
        org_file.load_org(uow, changed_org, "Asia/Shanghai", "en")
        uow.commit()


@pytest.mark.parametrize("writer", [_import, _import_customers, _org_file_with_a_new_phone_region])
def test_writers_outside_the_command_table_audit_every_record_they_change(writer, db, demo_pool):
    touched, audited = measure(db, lambda: writer(db))
    assert touched, f"{writer.__name__}: the scenario wrote nothing"
    assert touched <= audited, f"{writer.__name__} changed records without an audit row: {sorted(touched - audited)}"


def test_the_audit_rows_of_a_claim_say_who_and_what(console, db, demo_pool):
    say(console, "/as li")
    audit_id = last_audit_id(db)
    say(console, "/claim 2")
    with db.uow() as uow:
        li = identity.find_user(uow, "li").id
        [row] = uow.session.scalars(select(AuditEntry).where(AuditEntry.id > audit_id,
                                                             AuditEntry.record_type == "lead")).all()
        owner = uow.session.scalar(select(User.id).where(User.id == li))
    assert (row.actor_id, row.platform, row.record_id, row.owner_id) == (li, "console", 2, owner)
    assert row.before["status"] == "unassigned" and row.after == {**row.after, "status": "pending", "owner_id": li}
