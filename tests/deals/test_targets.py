"""Targets: managers set them over their subtree only; progress shows 达成率 and pace."""
from sqlalchemy import func, select

from db.models import OrgUnit, User
from db.models.target import Target
from tests.conftest import say
from tests.deals.test_deals import add_customer


def targets(db) -> int:
    with db.uow() as uow:
        return uow.session.scalar(select(func.count()).select_from(Target))


def test_manager_sets_and_rep_sees_rate_and_pace(console, db):
    add_customer(db, "li", "Shanghai Steel")
    say(console, "/as mei")
    assert "目前达成率 0.0%" in say(console, "/target set li month won_amount 100000")
    assert "季度" in say(console, "/target set east quarter visits 120")
    say(console, "/as li")
    say(console, "/newdeal steel 25000")
    say(console, "/win 1")
    out = say(console, "/target")
    assert "赢单金额: 25,000.00 / 100,000.00(达成率 25.0%)" in out and "应达进度" in out
    assert "有效拜访: 0 / 120" in say(console, "/target East quarter")
    say(console, "/lang en")
    assert "won amount: 25,000.00 / 100,000.00 (25.0%) · pace" in say(console, "/target")


def test_targets_outside_the_subtree_and_bad_values_write_nothing(console, db):
    with db.uow() as uow:
        east = uow.session.scalar(select(OrgUnit.id).where(OrgUnit.name == "East Team"))
        uow.session.add(User(handle="boss", name="East Boss", unit_id=east, role="manager", data_scope="subtree",
                             locale="en", timezone="Asia/Shanghai"))
        uow.commit()
    from bot.services.core import org
    from db.base import utcnow
    with db.uow() as uow:
        boss = uow.session.scalar(select(User).where(User.handle == "boss"))
        org.link_console_identity(uow, boss.id, "boss", utcnow())
        uow.commit()
    say(console, "/as boss")
    assert say(console, "/target set sam month won_amount 5000") == 'There is no user or unit "sam".'
    assert say(console, "/target set West month visits 10") == 'There is no user or unit "West".'
    assert "not a target metric" in say(console, "/target set li month bananas 10")
    assert "positive" in say(console, "/target set li month won_amount -10")
    assert "whole number" in say(console, "/target set li month visits 2.5")
    assert "not a period" in say(console, "/target set li yearly visits 2")
    assert "Usage" in say(console, "/target set li month")
    assert targets(db) == 0
    assert "Target saved for 李雷 Li Lei" in say(console, "/target set li 2026-12 visits 40")
    say(console, "/as li")
    assert "只有主管" in say(console, "/target set zhang month visits 4")
    say(console, "/as sam")
    assert say(console, "/target li") == 'There is no user or unit "li".'
    assert targets(db) == 1
