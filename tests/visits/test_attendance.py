"""Check-in and check-out: late and early against working hours, office geofence, once a day."""
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from db.models import OrgUnit
from db.models.visit import VisitSettings
from tests.conftest import say
from tests.visits.test_visits import Clock, add_records, clocked_console, visits_of


@pytest.fixture
def clock():
    return Clock(datetime(2026, 5, 6, 1, 5, tzinfo=UTC))  # 09:05 in Shanghai


@pytest.fixture
def li(db, settings, demo_org, clock):
    add_records(db)
    console = clocked_console(db, settings, clock)
    say(console, "/lang en")
    return console


def test_on_time_check_in_and_check_out_are_verified(li, db, clock):
    assert "Working hours: 09:00-18:00" in say(li, "/checkin")
    out = say(li, "/location 30.2431 120.1507 20")
    assert "Checked in at 09:05" in out and "Verdict: verified" in out and "late" not in out
    clock.advance(hours=9)
    say(li, "/checkout")
    out = say(li, "/location 30.2432 120.1508 20")
    assert "Checked out at 18:05" in out and "early" not in out
    assert [(v.kind, v.verdict, v.counts) for v in visits_of(db, "li")] == [("checkin", "verified", True),
                                                                            ("checkout", "verified", True)]


def test_late_check_in_and_early_check_out_are_marked(li, db, clock):
    clock.advance(minutes=40)  # 09:45
    say(li, "/checkin")
    assert "late by 45 min" in say(li, "/location 30.2431 120.1507 20")
    clock.advance(hours=6)  # 15:45
    say(li, "/checkout")
    assert "left 135 min early" in say(li, "/location 30.2431 120.1508 20")
    checkin, checkout = visits_of(db, "li")
    assert [r["code"] for r in checkin.reasons] == ["late_checkin"] and checkin.verdict == "verified"
    assert [r["code"] for r in checkout.reasons] == ["early_checkout"]


def test_office_geofence_and_threshold_per_unit(li, db):
    with db.uow() as uow:
        company = uow.session.scalar(select(OrgUnit.id).where(OrgUnit.name == "Acme Trading"))
        uow.session.add(VisitSettings(unit_id=company, accuracy_max_m=200, geofence_m=500, max_speed_kmh=150,
                                      no_location_hours=24, work_start_min=8 * 60 + 30, work_end_min=17 * 60 + 30,
                                      late_threshold_min=30, office_latitude=30.2431, office_longitude=120.1507,
                                      office_radius_m=300))
        uow.commit()
    assert "08:30-17:30" in say(li, "/checkin")  # East Team inherits the company's settings
    out = say(li, "/location 30.2500 120.1507 10")
    assert "From the office: 767 m" in out and "limit 300 m" in out and "Verdict: flagged" in out
    assert "late by 35 min" in out  # 09:05 is past 08:30 + 30 min


def test_one_check_in_a_day(li, db, clock):
    say(li, "/checkin")
    say(li, "/checkin")  # asking twice reuses the waiting row
    say(li, "/location 30.2431 120.1507 20")
    assert "already checked in today at 09:05" in say(li, "/checkin")
    assert len(visits_of(db, "li")) == 1
    clock.advance(days=1)
    assert "Check-in" in say(li, "/checkin")
