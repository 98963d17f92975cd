"""Org files: load, reload safely, move units (and what people see moves with them), reject bad files."""
import pytest
from sqlalchemy import func, select

from bot.errors import UserError
from bot.services.core import org, org_file
from db.models import Lead, OrgUnit, TeamChannel, User

TREE = {
    "units": [
        {"name": "Co", "children": [
            {"name": "North", "children": [{"name": "N1"}, {"name": "N2"}]},
            {"name": "South", "children": [{"name": "S1"}]},
        ]},
    ],
    "users": [
        {"handle": "boss", "name": "Boss", "unit": "Co", "role": "admin"},
        {"handle": "nina", "name": "Nina", "unit": "N1", "role": "rep", "locale": "zh", "timezone": "Asia/Shanghai"},
    ],
    "channels": [{"platform": "telegram", "chat": "-1001", "unit": "North", "locale": "zh"}],
}


def load(db, data):
    with db.uow() as uow:
        result = org_file.load_org(uow, data, "UTC", "en")
        uow.commit()
    return result


def paths(db) -> dict[str, str]:
    with db.uow() as uow:
        units = uow.session.scalars(select(OrgUnit)).all()
        by_id = {u.id: u.name for u in units}
        return {u.name: "/".join(by_id[int(i)] for i in u.path.strip("/").split("/")) for u in units}


def test_load_twice_creates_once_and_updates(db):
    first = load(db, TREE)
    second = load(db, TREE)
    assert first.units_created == 6 and first.users_created == ["boss", "nina"]
    assert second.units_created == 0 and second.users_created == [] and second.users_updated == 2
    with db.uow() as uow:
        assert uow.session.scalar(select(TeamChannel.locale)) == "zh"
        assert len(uow.session.scalars(select(User)).all()) == 2


def test_moving_a_unit_carries_its_subtree(db):
    load(db, TREE)
    moved = {**TREE, "units": [
        {"name": "Co", "children": [
            {"name": "South", "children": [{"name": "S1"}, {"name": "North", "children": [{"name": "N1"}, {"name": "N2"}]}]},
        ]},
    ]}
    load(db, moved)
    assert paths(db)["N1"] == "Co/South/North/N1"
    with db.uow() as uow:
        south = uow.session.scalar(select(OrgUnit).where(OrgUnit.name == "South"))
        names = {uow.session.get(OrgUnit, i).name for i in org.subtree_unit_ids(uow, south.id)}
    assert names == {"South", "S1", "North", "N1", "N2"}


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        ({"units": [{"name": "A", "parent": "B"}, {"name": "B", "parent": "A"}]}, "settings/unit_cycle"),
        ({"units": [{"name": "A", "parent": "Nowhere"}]}, "settings/unknown_unit"),
        ({"units": [{"name": "A"}, {"name": "A"}]}, "settings/duplicate"),
        ({"units": [{"name": "A"}], "users": [{"handle": "x", "unit": "B"}]}, "settings/unknown_unit"),
        ({"units": [{"name": "A"}], "users": [{"handle": "x", "unit": "A", "role": "boss"}]}, "settings/not_a_choice"),
        ({"units": [{"name": "A", "timezone": "Mars/Base"}]}, "settings/bad_timezone"),
        ({"units": [{"name": "A", "phone_region": "XX"}]}, "settings/bad_phone_region"),
        ({"units": [{"name": "A", "children": [{"name": "B", "phone_region": "US"}]}]}, "settings/bad_phone_region"),
        ({"units": [{"name": "A"}], "channels": [{"platform": "irc", "chat": "#a", "unit": "A"}]}, "settings/not_a_choice"),
        (["not", "a", "mapping"], "settings/not_a_mapping"),
    ],
)
def test_bad_org_files_write_nothing(db, data, problem):
    with db.uow() as uow, pytest.raises(UserError) as error:
        org_file.load_org(uow, data, "UTC", "en")
    assert error.value.template == problem
    with db.uow() as uow:
        assert uow.session.scalars(select(OrgUnit)).all() == []


def test_a_unit_with_people_cannot_be_closed_but_an_emptied_one_can(db):
    load(db, TREE)
    closing = {**TREE, "units": [{"name": "Co", "children": [
        {"name": "North", "children": [{"name": "N1", "active": False}, {"name": "N2"}]},
        {"name": "South", "children": [{"name": "S1"}]},
    ]}]}
    with db.uow() as uow, pytest.raises(UserError) as error:
        org_file.load_org(uow, closing, "UTC", "en")
    assert error.value.template == "settings/unit_has_people" and error.value.params["count"] == 1
    with db.uow() as uow:
        assert uow.session.scalar(select(OrgUnit.active).where(OrgUnit.name == "N1")) is True
    nina_moved = {**closing, "users": [TREE["users"][0], {**TREE["users"][1], "unit": "N2"}]}
    load(db, nina_moved)
    with db.uow() as uow:
        assert uow.session.scalar(select(OrgUnit.active).where(OrgUnit.name == "N1")) is False
        assert uow.session.scalar(select(func.count()).select_from(OrgUnit)) == 6  # closed, not deleted


def test_the_company_phone_region_is_set_in_the_org_file_and_re_keys_stored_phones(db):
    load(db, TREE)
    with db.uow() as uow:
        uow.session.add(Lead(company="Globex", name_key="globex", phone="(415) 555-0100", phone_key="4155550100"))
        uow.commit()
        n1 = uow.session.scalar(select(OrgUnit.id).where(OrgUnit.name == "N1"))
        assert org.phone_region(uow, n1, "CN") == "CN"  # no region in the file: the setting's
    result = load(db, {**TREE, "units": [{**TREE["units"][0], "phone_region": "us"}]})
    assert result.phones_rekeyed == 1
    with db.uow() as uow:
        assert org.phone_region(uow, n1, "CN") == "US" and org.phone_region(uow, None, "CN") == "US"
        assert uow.session.scalar(select(Lead.phone_key)) == "+14155550100"
    assert load(db, TREE).phones_rekeyed == 0  # a file without the key keeps the region
