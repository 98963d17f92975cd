"""What the org file sets beyond the org itself takes effect where people notice it: a unit's
geofence flags a visit, a holiday keeps the nudge away, a person's own nudge time, the company's
lose reasons offered by /lose; and a unit with settings of its own does not take the rest from
the unit above."""
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from bot.services.core.org_file import load_org_text
from bot.services.deals import nudges
from bot.services.visits.thresholds import thresholds_for
from db.models import OrgUnit
from tests.conftest import say
from tests.deals.test_deals import add_customer
from tests.visits.test_visits import Clock, add_records, clocked_console, visits_of

# Thursday 2026-11-26, 11:05 in Asia/Shanghai, where the demo's reps are.
AT_1105 = datetime(2026, 11, 26, 3, 5, tzinfo=UTC)
EAST = "units:\n  - name: East Team\n    parent: Acme Trading\n"


def load(db, text: str) -> None:
    with db.uow() as uow:
        load_org_text(uow, text, "org.yaml", "UTC", "en")
        uow.commit()


def test_a_units_geofence_from_the_file_flags_a_visit_the_default_accepts(demo_org, db, settings):
    add_records(db)
    clock = Clock()
    li = clocked_console(db, settings, clock)
    say(li, "/lang en")
    say(li, "/visit c1")
    assert "Verdict: verified" in say(li, "/location 30.2458 120.1507 10")  # about 300 m from West Lake Tea
    say(li, "/visit end")
    load(db, EAST + "    visits: {geofence_m: 100}\n")
    clock.advance(hours=1)
    say(li, "/visit c1")
    out = say(li, "/location 30.2458 120.1507 10")
    assert "Verdict: flagged" in out and "(limit 100 m)" in out
    assert [v.verdict for v in visits_of(db, "li")] == ["verified", "flagged"]


def test_a_unit_with_its_own_visit_settings_takes_the_defaults_for_the_keys_it_leaves_out(demo_org, db):
    load(db, "units:\n  - name: Acme Trading\n    visits: {accuracy_max_m: 2500, geofence_m: 800}\n"
             "    children:\n      - name: East Team\n        visits: {geofence_m: 100}\n      - name: West Team\n")
    with db.uow() as uow:
        ids = dict(uow.session.execute(select(OrgUnit.name, OrgUnit.id)).tuples().all())
        east, west = thresholds_for(uow, ids["East Team"]), thresholds_for(uow, ids["West Team"])
    assert (east.geofence_m, east.accuracy_max_m) == (100, 200)  # its own row, whole: 200 is the default
    assert (west.geofence_m, west.accuracy_max_m) == (800, 2500)  # no row: the company's


def run_nudges(db) -> int:
    with db.uow() as uow:
        sent = nudges.run_due(uow, AT_1105).nudged
        uow.rollback()
    return sent


@pytest.mark.parametrize("written", ["\n  2026-11-26: 公司周年", " [2026-11-26]", "\n  - 2026-11-26: 公司周年"])
def test_a_holiday_from_the_file_keeps_the_nudge_away(demo_org, db, written):
    assert run_nudges(db) > 0
    load(db, f"holidays:{written}\n")
    assert run_nudges(db) == 0
    load(db, "holidays: []\n")
    assert run_nudges(db) > 0


def test_a_persons_nudge_time_from_the_file(demo_org, db):
    before = run_nudges(db)
    load(db, EAST + "users:\n  - {handle: li, name: 李雷 Li Lei, unit: East Team, locale: zh, timezone: Asia/Shanghai,"
             " nudges: {visit_by: 12:00}}\n")
    assert run_nudges(db) == before - 1


@pytest.mark.parametrize("written", ["{price: 价格太高, slow: 决策太慢}", "[price, slow]"])
def test_the_files_lose_reasons_are_what_lose_offers(console, db, written):
    load(db, f"lose_reasons: {written}\n")
    add_customer(db, "sam", "Berlin Motors")
    say(console, "/as sam")
    say(console, "/newdeal motors 100")
    out = say(console, "/lose 1 bored")
    assert "slow" in out and "price" in out and "competitor" not in out
    assert "marked lost (slow" in say(console, "/lose 1 slow")
