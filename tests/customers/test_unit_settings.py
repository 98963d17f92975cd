"""A unit's customer revisits from the chat (/unit, /unit set), beside its visit checks, and in the
org file: the cadence per tier follows the nearest unit up the tree; the tier thresholds live on
the top unit only; a bad value changes nothing; the dump loads back to the same."""
from sqlalchemy import select

from bot.services.core.org_file import dump_org
from bot.services.customers import settings
from db.models import OrgUnit
from tests.conftest import say
from tests.customers.conftest import load


def cadence_of(db, unit: str) -> settings.Cadence:
    with db.uow() as uow:
        unit_id = uow.session.scalar(select(OrgUnit.id).where(OrgUnit.name == unit))
        return settings.cadence_of_units(uow, {unit_id})[unit_id]


def test_unit_set_changes_the_cadence_a_unit_below_follows(console, db):
    say(console, "/as mei")
    say(console, "/lang en")
    shown = say(console, "/unit East Team")
    assert "Customer revisits follow the defaults" in shown and "cadence.A = 7" in shown and "cadence.E = off" in shown
    assert "tiers.A" not in shown  # thresholds are the company's
    out = say(console, "/unit set Acme Trading cadence.A=5 cadence.E=90 tiers.A=500000 tiers.B=200000 "
                       "tiers.C=50000 tiers.D=1000")
    assert "cadence.A: 7 → 5" in out and "cadence.E: off → 90" in out and "tiers.D: off → 1000" in out
    assert cadence_of(db, "East Team").A == 5 and cadence_of(db, "East Team").E == 90
    assert "Customer revisits follow Acme Trading" in say(console, "/unit East Team")
    say(console, "/unit set East Team cadence.B=10")
    assert cadence_of(db, "East Team").B == 10 and cadence_of(db, "East Team").A == 5
    assert cadence_of(db, "West Team").B == 14
    with db.uow() as uow:
        top = uow.session.scalar(select(OrgUnit.id).where(OrgUnit.name == "Acme Trading"))
        assert settings.settings_of(uow, top).tiers.D == 1000
        dumped = dump_org(uow)
    assert "customers:\n" in dumped and "tiers:" in dumped
    load(db, dumped)  # the dump loads back unchanged
    with db.uow() as uow:
        assert dump_org(uow) == dumped


def test_bad_values_change_nothing(console, db):
    say(console, "/as mei")
    say(console, "/lang en")
    before = say(console, "/unit East Team")
    assert "nothing was changed" in say(console, "/unit set East Team cadence.A=0 geofence_m=300")
    assert "cadence.F" in say(console, "/unit set East Team cadence.F=3")
    assert "company" in say(console, "/unit set East Team tiers.A=100")
    assert "fall from A to D" in say(console, "/unit set Acme Trading tiers.A=1 tiers.B=2 tiers.C=3 tiers.D=4")
    assert say(console, "/unit East Team") == before
