"""The lead lifecycle through the console: the table of docs/design/rules.md, its history, and bad input."""
import pytest
from sqlalchemy import func, select, update

from bot.adapters.console import ConsoleAdapter
from bot.bootstrap import build_router
from bot.config import load_settings
from bot.services.core import org_file
from db.models import Lead, LeadEvent, OrgUnit
from db.models.lead import LeadFollowup
from tests.conftest import say


def count(db, model, *where) -> int:
    with db.uow() as uow:
        return uow.session.scalar(select(func.count()).select_from(model).where(*where))


def lead(db, lead_id) -> Lead:
    with db.uow() as uow:
        return uow.session.get(Lead, lead_id)


def test_a_rep_works_a_lead_through_its_states_and_every_step_is_in_the_history(console, demo_pool):
    say(console, "/as li")
    assert "已归你负责" in say(console, "/claim 6")
    assert "待处理 → 跟进中" in say(console, "/follow #6 打过电话,有兴趣")
    assert "已标记为无效" in say(console, "/invalid 6 电话打不通")
    assert "无效 → 跟进中" in say(console, "/follow 6 回电了")
    history = say(console, "/lead 6")
    for step in ("创建", "领取", "跟进记录", "标记无效", "李雷 Li Lei"):
        assert step in history
    with demo_pool.uow() as uow:
        kinds = uow.session.scalars(select(LeadEvent.kind).where(LeadEvent.lead_id == 6).order_by(LeadEvent.id)).all()
        assert kinds == ["create", "claim", "follow", "invalid", "follow"]
        assert all(e.actor_id for e in uow.session.scalars(select(LeadEvent).where(LeadEvent.kind != "create",
                                                                                   LeadEvent.lead_id == 6)))
    assert count(demo_pool, LeadFollowup, LeadFollowup.lead_id == 6) == 2


def test_illegal_transitions_name_the_current_state_in_the_users_language(console, demo_pool):
    say(console, "/as sam")
    assert "Lead #5 is unassigned: you can't record a follow-up on it now. Claim it first" in say(
        console, "/follow 5 hello")
    say(console, "/claim 5")
    assert "New customer" in say(console, "/convert 5")
    assert "Lead #5 is converted: you can't mark it invalid now." in say(console, "/invalid 5 late")
    say(console, "/as li")
    say(console, "/claim 4")
    say(console, "/void 4 garbage")
    out = say(console, "/follow 4 hello")
    assert "当前状态是「已作废」" in out and "不能跟进" in out
    assert "已作废" in say(console, "/convert 4")
    assert "已作废" in say(console, "/claim 4")
    assert count(demo_pool, LeadFollowup) == 0


def test_only_the_owner_side_may_touch_an_owned_lead(console, demo_pool):
    say(console, "/as li")
    say(console, "/claim 6")
    say(console, "/as sam")
    # Outside his scope the lead reads exactly like one that does not exist: no holder, no company.
    for line in ("/follow 6 sneaky", "/release 6", "/lead 6"):
        assert say(console, line) == "There is no lead #6."
    say(console, "/as mei")  # his manager may
    assert "跟进中" in say(console, "/follow 6 主管代为跟进")
    assert lead(demo_pool, 6).owner_id is not None


def test_newlead_is_duplicate_checked_against_pool_hands_and_customers(console, demo_pool):
    say(console, "/as sam")
    out = say(console, '/newlead "Northwind Foods Limited"')
    assert "Already known" in out and "lead #5" in out and 'in the pool "demo pool"' in out
    say(console, "/as li")
    say(console, "/claim 5")
    say(console, "/as sam")
    # Li's lead is outside sam's scope: that it exists and whom to ask, never its id, name or holder.
    out = say(console, '/newlead "NORTHWIND FOODS" Bob "+86 138 0000 1111"')
    assert "1 record outside your part of the org" in out and "ask 王梅 Wang Mei" in out
    assert "Li Lei" not in out and "#5" not in out and "Northwind Foods Inc" not in out
    say(console, "/as mei")  # his manager sees it as before
    assert "由 李雷 Li Lei 负责" in say(console, '/newlead "NORTHWIND FOODS"')
    say(console, "/as sam")
    created = say(console, '/newlead "Contoso 中国 有限公司" Bob "+86 138 0000 1111"')
    assert "is yours (pending)" in created
    assert "Already known" in say(console, '/newlead "Someone Else" Ann 13800001111')  # same phone
    assert count(demo_pool, Lead) == 7


def set_phone_region(db, region: str) -> None:
    with db.uow() as uow:
        org_file.load_org(uow, {"units": [{"name": "Acme Trading", "phone_region": region}]}, "UTC", "en")
        uow.commit()


def test_newlead_matches_a_us_phone_written_with_and_without_the_country_code(console, demo_pool):
    set_phone_region(demo_pool, "US")
    say(console, "/as sam")
    assert "is yours (pending)" in say(console, '/newlead "Globex" Bob "+1 415 555 0100"')
    out = say(console, '/newlead "Initrode" Ann "(415) 555-0100"')
    assert "Already known" in out and "Globex" in out
    assert count(demo_pool, Lead) == 7


def test_newlead_matches_a_uk_phone_already_stored_with_the_country_code(console, demo_pool):
    set_phone_region(demo_pool, "GB")  # the demo lead #5 holds +44 20 7946 0958
    say(console, "/as sam")
    out = say(console, '/newlead "Fabrikam" Ann "020 7946 0958"')
    assert "Already known" in out and "lead #5 Northwind Foods Inc." in out
    assert count(demo_pool, Lead) == 6


def test_a_company_without_a_phone_region_reads_phones_in_the_default_one(demo_pool):
    with demo_pool.uow() as uow:
        uow.session.execute(update(OrgUnit).values(phone_region=None))
        uow.commit()
    settings = load_settings(env_file=None, DATABASE_URL=demo_pool.url, SECRET_KEY="k", DEFAULT_PHONE_REGION="us")
    console = ConsoleAdapter(build_router(demo_pool, settings), "sam")
    assert "is yours (pending)" in say(console, '/newlead "Globex" Bob "(415) 555-0100"')
    assert "Already known" in say(console, '/newlead "Initrode" Ann "+1 415-555-0100"')


def test_admin_lead_goes_into_the_pool(console, demo_pool):
    out = say(console, '/newlead "Initech Inc" --region West --pool "demo pool"')
    assert 'is in the pool "demo pool"' in out
    assert lead(demo_pool, 7).status == "unassigned" and lead(demo_pool, 7).region == "West"


@pytest.mark.parametrize("line, expected", [
    ("/newlead " + "x" * 10_000, "at most 1000 characters"),
    ('/newlead "' + "公司" * 150 + '"', "at most 200 characters"),
    ("/newlead 🚀🎉", "has no letters or digits"),
    ("/newlead Acme Trading Co", "does not look like a phone number"),
    ("/follow 999 hi", "There is no lead #999"),
    ("/follow abc hi", '"abc" is not one'),
    ("/lead", "Usage: /lead LEAD"),
])
def test_bad_input_gets_a_clear_message_and_writes_nothing(console, demo_pool, line, expected):
    say(console, "/as sam")
    before = count(demo_pool, Lead), count(demo_pool, LeadEvent)
    assert expected in say(console, line)
    assert (count(demo_pool, Lead), count(demo_pool, LeadEvent)) == before


def test_emoji_and_mixed_scripts_are_kept_in_the_name(console, demo_pool):
    say(console, "/as li")
    out = say(console, '/newlead "🚀 火箭 Rocket 株式会社 GmbH"')
    assert "🚀 火箭 Rocket 株式会社 GmbH" in out and "已归你负责" in out


def test_leads_lists_own_and_managers_name_a_rep_or_unit_in_scope(console, demo_pool):
    say(console, "/as li")
    say(console, "/claim 6")
    say(console, "/as zhang")
    say(console, "/claim 3")
    out = say(console, "/leads")
    assert "#3" in out and "#6" not in out
    assert say(console, "/leads open li") == say(console, "/leads open nobody").replace("nobody", "li")
    say(console, "/as mei")
    team = say(console, '/leads open "East Team"')
    assert "#3" in team and "#6" in team
    assert "#6" in say(console, "/leads li") and "#3" not in say(console, "/leads li")
    assert "不是线索状态" in say(console, "/leads nonsense li")
