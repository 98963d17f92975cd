"""/unit and /unit set: a unit's visit checks, working hours and office from the chat — shown as
they apply (its own, or followed from above), changed as the org file writes them (all or nothing,
audited), by admins and managers of the unit or above only; the office set here is what check-ins
are measured against."""
from sqlalchemy import func, select

from bot.services.visits.thresholds import thresholds_for
from db.models import OrgUnit, VisitSettings
from db.models.audit import AuditEntry
from tests.conftest import say
from tests.deals.test_channel_settings import add_manager

OFFICE = "31.230416,121.473701"


def own_row(db, unit: str) -> VisitSettings | None:
    with db.uow() as uow:
        unit_id = uow.session.scalar(select(OrgUnit.id).where(OrgUnit.name == unit))
        row = uow.session.scalar(select(VisitSettings).where(VisitSettings.unit_id == unit_id))
        uow.session.expunge_all()
        return row


def audit_count(db) -> int:
    with db.uow() as uow:
        return uow.session.scalar(select(func.count()).select_from(AuditEntry)
                                  .where(AuditEntry.record_type == "visit_settings"))


def test_a_unit_without_settings_shows_the_defaults_it_follows(console):
    out = say(console, "/unit East Team")
    assert "follows the defaults" in out
    assert "geofence_m = 500" in out and "same_place_m = 0.5" in out and "office.latitude = off" in out
    assert "/unit set East Team key=value" in out


def test_set_writes_the_units_own_settings_audited_and_the_thresholds_follow(console, db):
    before = audit_count(db)
    out = say(console, f"/unit set East Team geofence_m=300 typed_decimals=3 office={OFFICE} office.radius_m=250")
    assert "geofence_m: 500 → 300" in out and "typed_decimals: 4 → 3" in out
    assert "office.latitude: off → 31.230416" in out and "office.radius_m: off → 250" in out
    row = own_row(db, "East Team")
    assert row is not None and (row.geofence_m, row.typed_decimals, row.office_radius_m) == (300, 3, 250)
    assert audit_count(db) == before + 1
    with db.uow() as uow:
        east = uow.session.scalar(select(OrgUnit.id).where(OrgUnit.name == "East Team"))
        limits = thresholds_for(uow, east)
    assert limits.office == (31.230416, 121.473701) and limits.typed_decimals == 3
    assert "Its own settings" in say(console, "/unit East Team")
    assert "Nothing changed" in say(console, "/unit set East Team geofence_m=300")
    assert audit_count(db) == before + 1
    assert "office.latitude: 31.230416 → off" in say(console, "/unit set East Team office=off")


def test_a_unit_below_follows_the_unit_above_until_it_has_its_own(console, db):
    say(console, "/unit set Acme Trading accuracy_max_m=150")
    assert "follows Acme Trading" in say(console, "/unit East Team")
    out = say(console, "/unit set East Team geofence_m=400")
    assert "geofence_m: 500 → 400" in out and "accuracy_max_m" not in out  # started from what it followed
    row = own_row(db, "East Team")
    assert row is not None and (row.accuracy_max_m, row.geofence_m) == (150, 400)


def test_one_bad_setting_changes_nothing(console, db):
    out = say(console, "/unit set East Team geofence_m=300 typed_decimals=99")
    assert "typed_decimals" in out and "nothing was changed" in out
    out = say(console, "/unit set East Team office=31.23")
    assert "not an office position" in out
    assert "no setting by that name" in say(console, "/unit set East Team geofence=300")
    assert own_row(db, "East Team") is None


def test_who_may(console, db):
    say(console, "/as li")
    assert "/unit set" not in say(console, "/help")
    assert "/unit" in say(console, "/unit East Team") and "geofence_m" not in say(console, "/unit East Team")
    add_manager(db, "wendy", "West Team")
    say(console, "/as wendy")
    assert "West Team" in say(console, "/unit West Team")
    assert say(console, "/unit set East Team geofence_m=1") == say(console, "/unit set Nowhere geofence_m=1").replace(
        "Nowhere", "East Team")
    assert own_row(db, "East Team") is None


def test_in_chinese(console):
    say(console, "/as mei")
    out = say(console, "/unit East Team")
    assert "East Team 的拜访校验" in out and "沿用默认设置" in out and "办公室纬度" in out


def test_a_check_in_far_from_the_office_set_here_is_flagged(console):
    say(console, f"/unit set East Team office={OFFICE} office.radius_m=300")
    say(console, "/as li")
    say(console, "/lang en")
    say(console, "/checkin")
    out = say(console, "/location 31.250416 121.473701")  # about 2.2 km north of the office
    assert "Verdict: flagged" in out and "2,224 m from" in out and "limit 300 m" in out
