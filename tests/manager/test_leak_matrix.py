"""The permission matrix, extended to every answer: nothing of an out-of-scope record reaches anyone.

The world of test_scope_matrix.py gets one more rep, Bruno Westrep (@bwest, South/S2), who holds records
with distinctive names, a phone and an amount: a lead and a customer "Zyxwv Secret Co", a contact, a deal
of 987654.32, a visit, and an unassigned lead "Plmok Pooled Co" in a pool of S2 only. Then every command
of the command table runs (a command without a scenario below fails the test) as a rep (n1a) and a
manager (north) of another team, in the private chat and in a group chat, with arguments pointing at
those records (ids, names, the phone, the handle, the unit). Every answer — text, title, fields, buttons,
every file's bytes (CSV as text, XLSX read cell by cell with openpyxl; a chart image holds no text) and the
posts and direct messages the command queued — must hold none of the distinctive strings, except what the
caller typed himself. And an out-of-scope id, handle or unit gets exactly the answer a missing one gets.
"""
import io
import json
from decimal import Decimal

import pytest
from babel.numbers import format_currency, format_decimal
from openpyxl import load_workbook
from sqlalchemy import select

from bot.adapters.console import ConsoleAdapter, format_reply
from bot.bootstrap import command_table
from bot.metrics import Metrics
from bot.ratelimit import from_settings
from bot.services.core import audit_log, org
from bot.services.leads import dedupe
from db import phone_keys
from db.base import utcnow
from db.models import (
    Contact,
    Customer,
    Deal,
    Lead,
    OrgUnit,
    OutboxMessage,
    Pool,
    PoolMember,
    Reminder,
    User,
    Visit,
)
from tests.manager.test_scope_matrix import Pinned, RecordingRouter, build_world

COMPANY, POOLED, PHONE, AMOUNT = "Zyxwv Secret Co", "Plmok Pooled Co", "+86 139 1357 2468", Decimal("987654.32")
HOLDER, HANDLE = "Bruno Westrep", "bwest"
VIEWERS = ("n1a", "north")  # a rep and a manager of another team
MISSING = {"lead": "999991", "pool_lead": "999992", "customer": "999993", "deal": "999994", "visit": "999995",
           "contact": "999996", "user_id": "999997", "handle": "ghostzz", "unit": "Ghostunit", "reminder": "999998"}

# Every command, with argument lines naming the planted records. {x} is replaced by the record's id (or the
# handle, the unit, the company, the phone). An empty list is not allowed: every command gets a line.
SCENARIOS: dict[str, list[str]] = {
    "assign": ["{lead} n1b", "{pool_lead} n1b", "{open_lead} {handle}"],
    "board screen": ["", "{unit}", "list", "revoke 1", "revoke {unit}"],
    "audit": ["lead {lead}", "lead {pool_lead}", "customer {customer}", "deal {deal}", "visit {visit}",
              "contact {contact}", "user {user_id}"],
    "channel": [""],
    "channel link": ["{unit}"],
    "channel set": ["language en"],
    "channel unlink": [""],
    "checkin": [""],
    "checkout": [""],
    "claim": ["{lead}", "{pool_lead}"],
    "convert": ["{lead}", "{pool_lead}"],
    "customer": ["{customer}", "{customer} setloc", "{customer} tier A reason", "{customer} tier auto",
                 "{customer} contact Qwerty Contactname --birthday 03-15"],
    "customers": [""],
    "deal": ["{deal}"],
    "deals": ["", "intent"],
    "export": ["leads --format csv", "customers --format xlsx", "deals --format csv", "deals --format xlsx",
               "visits --format xlsx", "audit --format csv", "deals --unit {unit}"],
    "follow": ["{lead} hello", "l{lead} hello", "c{customer} hello, call back tomorrow 10am, 500 yuan"],
    "handover": ["{handle} n1b", "n1b {handle}"],
    "help": [""],
    "invalid": ["{lead} unreachable"],
    "join": ["ABCDEFGH"],
    "lang": ["en"],
    "lead": ["{lead}", "{pool_lead}"],
    "leads": ["", "all", "all {handle}", "open {unit}", "{handle}"],
    "location": ["31.2 121.4"],
    "lose": ["{deal} price"],
    "newdeal": ["{customer} 100", "c{customer} 100", '"{company}" 100'],
    "newlead": ['"{company}"', '"Other Name" Bob "{phone}"', '"{pooled}"'],
    "nudges": ["on"],
    "paid": ["{deal} 100"],
    "photo": [""],
    "photos": ["{visit}"],
    "plan": ["", "{handle}", "{handle} week"],
    "plan add": ["c{customer}", "l{lead}", "Zyxwv"],
    "plan drop": ["c{customer}"],
    "plan morning": ["off"],
    "pool": ["", "Zyxwv", "Plmok"],
    "pool admin": [""],
    "rank": ["", "{unit}", "--team"],
    "nearby": ["", "50km"],  # without a fix it asks; tests/visits/test_nearby.py lists around a colleague's records
    "release": ["{lead}"],
    "remind": ["", "cancel {reminder}", "pick {reminder} 1"],
    "report": ["week", "month {unit}"],
    "review": ["", "approve {visit}", "reject {visit} no"],
    "setloc": ["c{customer}", '"{company}"'],
    "share_location": [""],
    "stage": ["{deal} negotiation"],
    "start": [""],
    "target": ["{handle}", "{unit}", "set {handle} month won_amount 5000", "set {unit} month visits 10"],
    "team": ["", "{unit}"],
    "undo_handover": [""],
    "unit": ["{unit}"],
    "unit set": ["{unit} geofence_m=300"],
    "visit": ["c{customer}", "l{lead}", "Zyxwv"],
    "visits": ["", "--rep {handle}", "--unit {unit}"],
    "void": ["{lead} garbage", "{pool_lead} garbage"],
    "whoami": [""],
    "win": ["{deal}", "{deal} 100"],
}


# Distinctive ids (set explicitly, far above what the test's own inserts reach), so an id in an answer is
# the planted record's and swapping it for a missing one changes nothing else.


def _secrets() -> list[str]:
    amounts = {format_decimal(AMOUNT, locale=loc) for loc in ("en", "zh_Hans_CN")}
    amounts |= {format_currency(AMOUNT, "CNY", locale=loc) for loc in ("en", "zh_Hans_CN")}
    return [COMPANY, "Zyxwv", POOLED, "Plmok", "Qwerty", "Vnotesecret", HOLDER, "Bruno", "Westrep", HANDLE,
            "1357 2468", "13572468", "1357-2468", "987654", "987,654", *amounts]


@pytest.fixture
def planted(db):
    world = build_world(db)
    now = utcnow()
    with db.uow() as uow:
        s2 = uow.session.scalar(select(OrgUnit).where(OrgUnit.name == "S2"))
        south = uow.session.scalar(select(User).where(User.handle == "south"))
        bruno = User(id=4701, name=HOLDER, handle=HANDLE, unit_id=s2.id, role="rep", data_scope="self", manager_id=south.id)
        pool = Pool(name="South pool", max_open_leads=500)
        uow.session.add_all([bruno, pool])
        uow.session.flush()
        org.link_console_identity(uow, bruno.id, HANDLE, now)
        uow.session.add(PoolMember(pool_id=pool.id, unit_id=s2.id))
        key = phone_keys.phone_key(PHONE, "CN")
        lead = Lead(id=4201, company=COMPANY, name_key=dedupe.normalise_company(COMPANY), phone=PHONE, phone_key=key,
                    status="following", owner_id=bruno.id, pool_id=pool.id, claimed_at=now, last_followup_at=now)
        pooled = Lead(id=4202, company=POOLED, name_key=dedupe.normalise_company(POOLED), status="unassigned",
                      pool_id=pool.id)
        main = uow.session.scalar(select(Pool).where(Pool.name == "Main pool"))
        open_lead = Lead(id=4203, company="Open Main Lead", name_key="openmainlead", status="unassigned", pool_id=main.id)
        customer = Customer(id=4301, name=COMPANY, name_key=dedupe.normalise_company(COMPANY), phone=PHONE, phone_key=key,
                            owner_id=bruno.id, latitude=31.2, longitude=121.4)
        uow.session.add_all([lead, pooled, open_lead, customer])
        uow.session.flush()
        contact = Contact(id=4401, customer_id=customer.id, name="Qwerty Contactname", phone=PHONE, owner_id=bruno.id)
        deal = Deal(id=4501, name="Zyxwv Secret Deal", customer_id=customer.id, owner_id=bruno.id, stage="intent",
                    amount=AMOUNT)
        visit = Visit(id=4601, user_id=bruno.id, customer_id=customer.id, note="Vnotesecret", status="closed",
                      started_at=now, ended_at=now, verdict="flagged", reasons=[], latitude=31.2, longitude=121.4,
                      source="static", taken_at=now)
        reminder = Reminder(id=4801, owner_id=bruno.id, lead_id=lead.id, note="Vnotesecret call back", words="tomorrow",
                            timezone="Asia/Shanghai", candidates=[], created_at=now)
        uow.session.add_all([contact, deal, visit, reminder])
        uow.session.flush()
        refs = {"reminder": reminder.id, "lead": lead.id, "pool_lead": pooled.id, "open_lead": open_lead.id, "customer": customer.id,
                "deal": deal.id, "visit": visit.id, "contact": contact.id, "user_id": bruno.id}
        uow.commit()
    values = {k: str(v) for k, v in refs.items()}
    values.update(handle=HANDLE, unit="S2", company=COMPANY, pooled=POOLED, phone=PHONE)
    return world, values


def _file_text(name: str, data: bytes) -> str:
    if name.endswith(".xlsx"):
        book = load_workbook(io.BytesIO(data), read_only=True)
        return "\n".join(str(cell) for sheet in book.worksheets for row in sheet.iter_rows(values_only=True)
                         for cell in row if cell is not None)
    if name.endswith(".png"):
        return ""  # an image holds no text to search; that it exists is enough
    return data.decode("utf-8-sig", errors="replace")


def ask(db, settings, viewer: str, line: str, group: bool) -> str:
    """Everything one command shows anyone: its replies, their files, and the posts it queued."""
    with db.engine.connect() as connection:
        outer = connection.begin()
        try:
            pinned = Pinned(connection)
            audit_log.install(pinned)
            router = RecordingRouter(pinned, settings, COMMAND_TABLE, metrics=Metrics(),
                                     limiter=from_settings(settings))
            adapter = ConsoleAdapter(router, viewer)
            adapter.chat = "#sales" if group else None
            incoming = adapter.to_incoming("/" + line)
            assert incoming is not None
            parts = []
            for reply in router.handle(incoming):
                parts.append(format_reply(reply))
                if reply.file_bytes is not None and reply.file_name:
                    parts.append(_file_text(reply.file_name, reply.file_bytes))
            with pinned.uow() as uow:
                parts += [json.dumps(m.payload, default=str,
                                     ensure_ascii=False) for m in uow.session.scalars(select(OutboxMessage))]
            return "\n".join(parts)
        finally:
            outer.rollback()


COMMAND_TABLE = command_table()


def test_every_command_has_a_scenario():
    missing = sorted(c.name for c in COMMAND_TABLE.all() if not SCENARIOS.get(c.name))
    assert missing == [], f"add a line to SCENARIOS for: {', '.join(missing)}"


def test_no_answer_or_file_shows_anything_of_an_out_of_scope_record(db, settings, planted):
    _world, values = planted
    secrets = _secrets()
    leaks, checked = [], 0
    for name, lines in sorted(SCENARIOS.items()):
        for template in lines:
            line = f"{name} {template.format(**values)}".strip()
            for viewer in VIEWERS:
                for group in (False, True):
                    text = ask(db, settings, viewer, line, group)
                    checked += 1
                    shown = [s for s in secrets if s in text and s not in line]
                    if shown:
                        leaks.append(f"/{line} as {viewer}{' in a group' if group else ''}: {shown}\n{text}")
    assert checked > 300
    assert leaks == [], "\n\n".join(leaks)


def _placeholders(template: str) -> list[str]:
    return [k for k in MISSING if "{" + k + "}" in template]


def test_out_of_scope_reads_exactly_like_not_found(db, settings, planted):
    """The same line with the record swapped for one that does not exist gets the same answer."""
    _world, values = planted
    different = []
    for name, lines in sorted(SCENARIOS.items()):
        for template in lines:
            keys = _placeholders(template)
            if len(keys) != 1:
                continue
            key = keys[0]
            real, ghost = values[key], MISSING[key]
            for viewer in VIEWERS:
                secret = ask(db, settings, viewer, f"{name} {template.format(**values)}", False)
                missing = ask(db, settings, viewer, f"{name} {template.format(**{**values, key: ghost})}", False)
                if secret.replace(real, "<ref>") != missing.replace(ghost, "<ref>"):
                    different.append(f"/{name} {template} as {viewer}:\n  {secret!r}\n  {missing!r}")
    assert different == [], "\n".join(different)
