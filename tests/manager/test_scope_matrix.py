"""The permission matrix: every role against every record kind, and every registered command that takes a
record, user or unit, inside and outside the caller's data scope.

The expected visibility is an oracle written here from the org tree (not from bot/services/scope.py), so a
wrong scope rule fails. Commands are discovered from the registry: a command added tomorrow with a
`lead`, `deal`, `customer`, `target`, `visit_id`, `rep`, `who`, `unit`... parameter is checked too.
Each command runs inside a transaction rolled back afterwards, so one command's writes never change
what the next one sees; the audit log tells whether anything was written to an out-of-scope record.
test_leak_matrix.py extends it to every answer: every command, files and queued posts included, searched
for the name, phone, amount and holder of planted out-of-scope records, and out of scope == not found.
"""
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import sessionmaker

from bot.adapters.console import ConsoleAdapter
from bot.bootstrap import command_table
from bot.handlers.registry import ROLE_ACCESS
from bot.metrics import Metrics
from bot.ratelimit import from_settings
from bot.router import Router
from bot.services.core import audit_log, org, org_file
from bot.services.manager import scope
from db.base import utcnow
from db.models import (
    Contact,
    Customer,
    Deal,
    Lead,
    OrgUnit,
    Pool,
    PoolMember,
    RecordMember,
    User,
    Visit,
)
from db.models.audit import AuditEntry
from db.session import UnitOfWork

TREE = {
    "units": [{"name": "Company", "children": [
        {"name": "North", "children": [{"name": "N1"}, {"name": "N2"}]},
        {"name": "South", "children": [{"name": "S1"}, {"name": "S2"}]},
    ]}],
    "users": [
        {"handle": "boss", "name": "Boss Admin", "unit": "Company", "role": "admin", "scope": "all"},
        {"handle": "ceo", "name": "Ceo Chief", "unit": "Company", "role": "manager", "scope": "subtree"},
        {"handle": "north", "name": "North Lead", "unit": "North", "role": "manager", "scope": "subtree"},
        {"handle": "south", "name": "South Lead", "unit": "South", "role": "manager", "scope": "subtree"},
        {"handle": "n2u", "name": "Unit Keeper", "unit": "N2", "role": "manager", "scope": "unit"},
        {"handle": "s1s", "name": "Sub Boss", "unit": "S1", "role": "manager", "scope": "subordinates",
         "manager": "south"},
        {"handle": "n1a", "name": "Rep Nalpha", "unit": "N1", "role": "rep", "manager": "north"},
        {"handle": "n1b", "name": "Rep Nbeta", "unit": "N1", "role": "rep", "manager": "north"},
        {"handle": "n2a", "name": "Rep Ngamma", "unit": "N2", "role": "rep", "manager": "n2u"},
        {"handle": "s1a", "name": "Rep Salpha", "unit": "S1", "role": "rep", "manager": "s1s"},
        {"handle": "s1b", "name": "Rep Sbeta", "unit": "S1", "role": "rep", "manager": "south"},
        {"handle": "s2a", "name": "Rep Sgamma", "unit": "S2", "role": "rep", "manager": "south"},
    ],
}
REPS = ["n1a", "n1b", "n2a", "s1a", "s1b", "s2a"]
VIEWERS = ["boss", "ceo", "north", "south", "n2u", "s1s", *REPS]
UNIT_PARENT = {"Company": None, "North": "Company", "South": "Company", "N1": "North", "N2": "North",
               "S1": "South", "S2": "South"}
USERS = {u["handle"]: u for u in TREE["users"]}
# Team members (相关团队成员): s2a may read n1a's lead; n1b may write s1a's customer.
MEMBERS = [("s2a", "lead", "n1a", "read"), ("n1b", "customer", "s1a", "write")]


def _ancestors(unit: str) -> list[str]:
    chain = [unit]
    while UNIT_PARENT[chain[-1]]:
        chain.append(UNIT_PARENT[chain[-1]])
    return chain


def sees_user(viewer: str, owner: str) -> bool:
    """The oracle: the data scopes of docs/design/rules.md, written from the tree above."""
    me, them = USERS[viewer], USERS[owner]
    kind = me.get("scope", "self")
    if kind == "all":
        return True
    if kind == "subtree":
        return me["unit"] in _ancestors(them["unit"])
    if kind == "unit":
        return me["unit"] == them["unit"]
    if kind == "subordinates":
        current = owner
        while current:
            if current == viewer:
                return True
            current = USERS[current].get("manager")
        return False
    return viewer == owner


def covers_unit(viewer: str, unit: str) -> bool:
    me = USERS[viewer]
    kind = me.get("scope", "self")
    return kind == "all" or (kind == "subtree" and me["unit"] in _ancestors(unit)) or (
        kind == "unit" and me["unit"] == unit)


def sees_record(viewer: str, kind: str, owner: str, write: bool) -> bool:
    if sees_user(viewer, owner):
        return True
    return any(m == viewer and k == kind and o == owner and (a == "write" or not write) for m, k, o, a in MEMBERS)


@dataclass
class World:
    users: dict[str, int]
    units: dict[str, int]
    leads: dict[str, int]
    customers: dict[str, int]
    deals: dict[str, int]
    visits: dict[str, int]


def build_world(db) -> World:
    now = utcnow()
    with db.uow() as uow:
        org_file.load_org(uow, TREE, "UTC", "en")
        users = {u.handle: u.id for u in uow.session.scalars(select(User))}
        units = {u.name: u.id for u in uow.session.scalars(select(OrgUnit))}
        for handle, user_id in users.items():
            org.link_console_identity(uow, user_id, handle, now)
        pool = Pool(name="Main pool", max_open_leads=500)
        uow.session.add(pool)
        uow.session.flush()
        uow.session.add(PoolMember(pool_id=pool.id, unit_id=units["Company"]))
        leads, customers, deals, visits = {}, {}, {}, {}
        for handle in REPS:
            owner = users[handle]
            lead = Lead(company=f"LDX{handle} Trading", name_key=f"ldx{handle}", status="following", owner_id=owner,
                        pool_id=pool.id, claimed_at=now - timedelta(days=1), last_followup_at=now)
            customer = Customer(name=f"CUX{handle} Ltd", name_key=f"cux{handle}", owner_id=owner,
                                latitude=31.2, longitude=121.4)
            uow.session.add_all([lead, customer])
            uow.session.flush()
            uow.session.add(Contact(customer_id=customer.id, name=f"CTX{handle}", owner_id=owner))
            deal = Deal(name=f"DLX{handle} deal", customer_id=customer.id, owner_id=owner, stage="intent",
                        amount=Decimal("1000"))
            visit = Visit(user_id=owner, customer_id=customer.id, note=f"VNX{handle}", status="closed",
                          started_at=now - timedelta(hours=1), ended_at=now, verdict="flagged", reasons=[],
                          latitude=31.2, longitude=121.4, source="static", taken_at=now - timedelta(hours=1))
            uow.session.add_all([deal, visit])
            uow.session.flush()
            leads[handle], customers[handle], deals[handle], visits[handle] = lead.id, customer.id, deal.id, visit.id
        records = {"lead": leads, "customer": customers}
        for member, kind, owner, access in MEMBERS:
            uow.session.add(RecordMember(record_type=kind, record_id=records[kind][owner], user_id=users[member],
                                         access=access))
        uow.commit()
    return World(users, units, leads, customers, deals, visits)


@pytest.fixture
def world(db) -> World:
    return build_world(db)


# ---- 1. the scope service against the oracle, every role x every record x read/write -------------------

def test_scope_service_matches_the_oracle_for_every_role_and_record(db, world):
    kinds = {"lead": world.leads, "customer": world.customers, "deal": world.deals}
    mismatches = []
    with db.uow() as uow:
        today = utcnow().date()
        for viewer in VIEWERS:
            visible = scope.of(uow, world.users[viewer], today)
            for kind, records in kinds.items():
                model = {"lead": Lead, "customer": Customer, "deal": Deal}[kind]
                listed = set(uow.session.scalars(
                    select(model.id).where(scope.owned_filter(visible, model.owner_id, kind, model.id))
                ))
                for owner, record_id in records.items():
                    for write in (False, True):
                        expected = sees_record(viewer, kind, owner, write)
                        got = scope.can_access(uow, visible, kind, record_id, world.users[owner], write)
                        if got != expected:
                            mismatches.append((viewer, kind, owner, write, got))
                    if (record_id in listed) != sees_record(viewer, kind, owner, False):
                        mismatches.append((viewer, kind, owner, "list", record_id in listed))
            for owner in REPS:
                if scope.covers_user(uow, visible, world.users[owner]) != sees_user(viewer, owner):
                    mismatches.append((viewer, "user", owner))
    assert mismatches == []


def test_expired_team_membership_gives_nothing(db, world):
    with db.uow() as uow:
        member = uow.session.scalar(select(RecordMember).where(RecordMember.user_id == world.users["s2a"]))
        member.until = utcnow().date() - timedelta(days=1)
        uow.commit()
    with db.uow() as uow:
        visible = scope.of(uow, world.users["s2a"], utcnow().date())
        assert not scope.can_access(uow, visible, "lead", world.leads["n1a"], world.users["n1a"])


def test_moving_a_unit_or_a_user_changes_what_everyone_sees_at_once(db, world):
    """No migration: S2 moves under North, s1b moves to N1, and the very next query sees it."""
    moved = {**TREE, "units": [{"name": "Company", "children": [
        {"name": "North", "children": [{"name": "N1"}, {"name": "N2"}, {"name": "S2"}]},
        {"name": "South", "children": [{"name": "S1"}]},
    ]}], "users": [dict(u, unit="N1") if u["handle"] == "s1b" else u for u in TREE["users"]]}
    with db.uow() as uow:
        north = scope.of(uow, world.users["north"], utcnow().date())
        assert not scope.covers_user(uow, north, world.users["s2a"])
        org_file.load_org(uow, moved, "UTC", "en")
        uow.commit()
    with db.uow() as uow:
        north = scope.of(uow, world.users["north"], utcnow().date())
        south = scope.of(uow, world.users["south"], utcnow().date())
        assert scope.covers_user(uow, north, world.users["s2a"]) and scope.covers_user(uow, north, world.users["s1b"])
        assert not scope.covers_user(uow, south, world.users["s2a"])
        assert not scope.covers_user(uow, south, world.users["s1b"])
        assert scope.can_access(uow, north, "lead", world.leads["s2a"], world.users["s2a"], write=True)
        s2 = uow.session.get(OrgUnit, world.units["S2"])
        assert s2.path == f"/{world.units['Company']}/{world.units['North']}/{s2.id}/"


def test_moving_a_unit_carries_its_deeper_subtree(db, world):
    """A unit two levels deep moves with its parent: descendants' paths are rewritten too."""
    deeper = {"units": [{"name": "Company", "children": [
        {"name": "North", "children": [{"name": "N1", "children": [{"name": "N1x"}]}, {"name": "N2"}]},
        {"name": "South", "children": [{"name": "S1"}, {"name": "S2"}]},
    ]}], "users": [{"handle": "deep", "name": "Deep Rep", "unit": "N1x", "role": "rep"}]}
    with db.uow() as uow:
        org_file.load_org(uow, deeper, "UTC", "en")
        uow.commit()
    moved = {"units": [{"name": "Company", "children": [
        {"name": "North", "children": [{"name": "N2"}]},
        {"name": "South", "children": [{"name": "S1", "children": [{"name": "N1"}]}, {"name": "S2"}]},
    ]}]}
    with db.uow() as uow:
        # Only the moved unit is named under its new parent; its child N1x is not in the file at all.
        org_file.load_org(uow, moved, "UTC", "en")
        uow.commit()
    with db.uow() as uow:
        south = scope.of(uow, world.users["south"], utcnow().date())
        north = scope.of(uow, world.users["north"], utcnow().date())
        deep = uow.session.scalar(select(User.id).where(User.handle == "deep"))
        assert scope.covers_user(uow, south, deep) and not scope.covers_user(uow, north, deep)


# ---- 2. every registered command x every role, inside and outside scope -----------------------------

RECORD_PARAMS = {
    "lead": "lead", "deal": "deal", "customer": "customer", "target": "customer", "visit_id": "visit",
    "record_id": "lead", "from_user": "user", "rep": "user", "who": "user", "unit": "unit",
}
FILLERS = {
    "note": "matrix note", "reason": "matrix reason", "amount": "100", "stage": "intent", "action": "approve",
    "to_user": None, "record_type": "lead", "kind": "leads",
}
# Error templates that refuse a record or person the caller may not reach. Capabilities name them their own
# way (out_of_scope, not_yours, target_outside, unknown...): "not found" is as good as "not yours", since it
# does not even reveal that the record exists.
# "taken": a lead of the caller's own pool that someone else holds: a refusal by state inside the scope,
# and outside it the answer docs/design/rules.md gives two racing reps (who has it), with nothing of the lead itself.
REFUSALS = ("out_of_scope", "not_yours", "outside", "unknown", "not_found", "forbidden", "admin_only",
            "manager_only", "leads/taken")
# Leaks this matrix found that are not fixed yet, as (command, error template) -> what is wrong; remove an
# entry when its command is fixed. (Fixed so far: /claim named the company of a lead outside the caller's
# scope, /assign revealed its status before checking the scope.)
KNOWN_GAPS: dict[tuple[str, str], str] = {}  # (command, refusal) pairs allowed to leak, with why
# Commands whose refusal for a record outside the scope is a "not found" (existence is not revealed)
# are as good as out_of_scope; commands that refuse by role never reach the record.


def _ref(world: World, kind: str, owner: str) -> tuple[str, int | None, str]:
    """(argument text, record id, the unique name that must never leak) for a record of that owner."""
    if kind == "lead":
        return str(world.leads[owner]), world.leads[owner], f"LDX{owner}"
    if kind == "deal":
        return str(world.deals[owner]), world.deals[owner], f"DLX{owner}"
    if kind == "customer":
        return str(world.customers[owner]), world.customers[owner], f"CUX{owner}"
    if kind == "visit":
        return str(world.visits[owner]), world.visits[owner], f"VNX{owner}"
    if kind == "user":
        return owner, world.users[owner], f"X{owner}"  # any of his records: LDX, CUX, DLX, VNX + handle
    unit = USERS[owner]["unit"]
    return unit, world.units[unit], f"X{owner}"  # the unit's people's records


def _line(command, world: World, kind: str, owner: str, viewer: str) -> str | None:
    words: list[str] = [command.name]
    arg, _id, _name = _ref(world, kind, owner)
    mine = viewer if viewer in REPS else next((h for h in REPS if sees_user(viewer, h)), owner)
    for param in command.params:
        if param.name in RECORD_PARAMS and RECORD_PARAMS[param.name] == kind:
            # A visit target may be a customer or a lead: "c12" says which.
            words.append(f"c{arg}" if param.name == "target" else arg)
        elif param.name in RECORD_PARAMS and not param.optional:
            # Another record the command needs: one the viewer may use, so only the target is out of scope.
            words.append(_ref(world, RECORD_PARAMS[param.name], mine)[0])
        elif param.name == "to_user":
            words.append(next(h for h in REPS if h not in (owner, viewer) and sees_user(viewer, h)) if any(
                h not in (owner, viewer) and sees_user(viewer, h) for h in REPS) else viewer)
        elif param.name == "record_type":
            words.append(kind if kind in ("lead", "deal", "customer") else "lead")
        elif param.optional:
            break
        elif param.kind == "choice" and param.choices:
            words.append(FILLERS.get(param.name) if FILLERS.get(param.name) in param.choices else param.choices[0])
        elif param.name in FILLERS and FILLERS[param.name]:
            words.append(FILLERS[param.name])
        elif param.kind in ("int", "decimal"):
            words.append("1")
        else:
            words.append("x")
    for flag in command.flags:
        if flag.kind in ("word", "text") and RECORD_PARAMS.get(flag.name) == kind and arg not in words:
            words += [f"--{flag.name}", f'"{arg}"']
    if not {arg, f'"{arg}"', f"c{arg}"} & set(words):
        return None
    # The command's name is typed as it is (a two-word name is two words); its arguments are quoted.
    return " ".join([words[0], *(f'"{w}"' if " " in w and not w.startswith('"') else w for w in words[1:])])


def _targets(command) -> list[str]:
    names = [p.name for p in command.params] + [f.name for f in command.flags if f.kind in ("word", "text")]
    return sorted({RECORD_PARAMS[n] for n in names if n in RECORD_PARAMS})


COMMAND_TABLE = command_table()


class RecordingRouter(Router):
    """Remembers the error template of the last refusal, so a refusal's kind is asserted, not guessed."""

    last_error: str | None = None

    def _render_error(self, error, locale, command_prefix):
        self.last_error = error.template
        return super()._render_error(error, locale, command_prefix)


class Pinned:
    """A Database stand-in bound to one connection inside an outer transaction: every commit is a savepoint."""

    def __init__(self, connection):
        self.session_factory = sessionmaker(bind=connection, join_transaction_mode="create_savepoint",
                                            expire_on_commit=False)

    def uow(self) -> UnitOfWork:
        return UnitOfWork(self.session_factory)


def run_isolated(db, settings, viewer: str, line: str, probe) -> tuple[str, str | None, object]:
    with db.engine.connect() as connection:
        outer = connection.begin()
        try:
            pinned = Pinned(connection)
            audit_log.install(pinned)
            router = RecordingRouter(pinned, settings, COMMAND_TABLE, metrics=Metrics(), limiter=from_settings(settings))
            text = "\n".join(ConsoleAdapter(router, viewer).handle_line("/" + line))
            with pinned.uow() as uow:
                observed = probe(uow)
            return text, router.last_error, observed
        finally:
            outer.rollback()


def _written(kind: str, record_id: int):
    def probe(uow):
        return uow.session.scalar(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.record_type == kind, AuditEntry.record_id == record_id))
    return probe


def _cases(world: World) -> list[tuple[str, str, str, bool]]:
    """(viewer, kind, owner, in scope): for each viewer one record inside and one outside his scope, per kind,
    plus the team-member records."""
    cases = []
    for viewer in VIEWERS:
        inside = [o for o in REPS if sees_user(viewer, o)]
        outside = [o for o in REPS if not sees_user(viewer, o)]
        picks = ([inside[-1]] if inside else []) + ([outside[0]] if outside else [])
        for owner in dict.fromkeys(picks):
            cases.append((viewer, owner, sees_user(viewer, owner)))
    return cases


def test_every_command_respects_scope_for_every_role(db, settings, world):
    commands = [c for c in command_table().all() if _targets(c)]
    assert {"handover", "audit", "team", "export"} <= {c.name for c in commands}
    with db.uow() as uow:
        baseline = uow.session.scalar(select(func.count()).select_from(AuditEntry))
    problems = []
    checked = 0
    for command in sorted(commands, key=lambda c: c.name):
        for kind in _targets(command):
            for viewer, owner, inside in _cases(world):
                role_access = ROLE_ACCESS[USERS[viewer]["role"]]
                if command.access > role_access:
                    continue
                if kind in ("lead", "customer") and any(m == viewer and k == kind and o == owner
                                                        for m, k, o, _a in MEMBERS):
                    continue  # a team member's access is checked at the service level above
                line = _line(command, world, kind, owner, viewer)
                if line is None:
                    continue
                arg, record_id, secret = _ref(world, kind, owner)
                text, error, writes = run_isolated(db, settings, viewer, line, _written(kind, record_id))
                checked += 1
                refused = error is not None and any(r in error for r in REFUSALS)
                if kind == "unit":
                    inside = covers_unit(viewer, USERS[owner]["unit"])
                if (command.name, error) in KNOWN_GAPS:
                    continue
                if inside and refused and not error.endswith(("forbidden", "admin_only", "manager_only",
                                                              "leads/taken")):
                    problems.append(f"/{line} as {viewer}: refused inside scope ({error})")
                if not inside:
                    if not refused:
                        problems.append(f"/{line} as {viewer}: NOT refused outside scope (error={error})")
                    if secret in text:
                        problems.append(f"/{line} as {viewer}: leaks {secret!r}")
                    if writes and kind in ("lead", "customer", "deal", "visit") and writes > 1:
                        problems.append(f"/{line} as {viewer}: wrote to an out-of-scope {kind}")
    with db.uow() as uow:
        assert uow.session.scalar(select(func.count()).select_from(AuditEntry)) == baseline  # all rolled back
    assert checked > 50
    assert problems == [], "\n".join(problems)


LIST_COMMANDS = {
    "leads": ["leads", "leads all", "leads open all"], "customers": ["customers"], "deals": ["deals"],
    "visits": ["visits", "visits week"], "team": ["team"], "report": ["report week", "report month"],
    "pool": ["pool"], "rank": ["rank"],
}


def test_list_outputs_never_show_records_outside_scope(db, settings, world):
    table = command_table()
    leaks = []
    for name, lines in LIST_COMMANDS.items():
        command = table.lookup(name)
        if command is None:
            continue
        for viewer in VIEWERS:
            if command.access > ROLE_ACCESS[USERS[viewer]["role"]]:
                continue
            hidden = [o for o in REPS if not sees_user(viewer, o)]
            secrets = [s for o in hidden for s in (f"LDX{o}", f"CUX{o}", f"DLX{o}", f"VNX{o}")]
            if name in ("team", "report"):
                secrets += [USERS[o]["name"] for o in hidden]
            for line in lines:
                text, _error, _ = run_isolated(db, settings, viewer, line, lambda uow: None)
                leaks += [f"/{line} as {viewer} shows {s}" for s in secrets
                          if s in text and not _member_sees(viewer, s)]
    assert leaks == [], "\n".join(leaks)


def _member_sees(viewer: str, secret: str) -> bool:
    """A team member legitimately sees the one record he is a member of."""
    prefix = {"lead": "LDX", "customer": "CUX"}
    return any(m == viewer and secret == f"{prefix[k]}{o}" for m, k, o, _a in MEMBERS)


def test_team_shows_everyone_in_scope(db, settings, world):
    text, error, _ = run_isolated(db, settings, "north", "team N1", lambda uow: None)
    assert error is None and "Rep Nalpha" in text and "Rep Nbeta" in text and "Rep Salpha" not in text
    text, error, _ = run_isolated(db, settings, "north", "team S1", lambda uow: None)
    assert error == "manager/unknown_unit" and "Rep Salpha" not in text
    text, error, _ = run_isolated(db, settings, "s1s", "team", lambda uow: None)
    assert "Rep Salpha" in text and "Rep Sbeta" not in text
