"""Follow-ups on customers from the console (SQLite and PostgreSQL): /follow cN records one on his
customer, its date sets a reminder on the customer, its amount is offered as a new deal, /customer
shows the last ones; a customer out of his reach reads like a missing one and nothing is written."""
from datetime import UTC, datetime

from sqlalchemy import func, select

from bot.adapters.console import ConsoleAdapter
from bot.bootstrap import build_router
from db.models import CustomerFollowup, LeadFollowup, Reminder
from db.models.audit import AuditEntry
from tests.conftest import say
from tests.deals.test_deals import add_customer
from tests.visits.test_visits import Clock

TUESDAY_10 = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai, the demo org's zone


def _count(db, model) -> int:
    with db.uow() as uow:
        return uow.session.scalar(select(func.count()).select_from(model))


def test_a_follow_up_on_his_customer_sets_a_reminder_offers_the_amount_and_shows_on_the_customer(
        db, settings, demo_pool):
    mine = add_customer(db, "li", "Harbour Steel")
    clock = Clock(TUESDAY_10)
    console = ConsoleAdapter(build_router(db, settings, clock=clock), "li", clock=clock)
    say(console, "/lang en")
    out = say(console, f"/follow c{mine} met the buyer, call back next Tuesday 3pm")
    assert f"Follow-up recorded on customer c{mine} Harbour Steel" in out
    assert 'Reminder #1 set for Tue 8 Dec 15:00 ("next Tuesday 3pm")' in out
    out = say(console, f"/follow C{mine} they want 15000 yuan of samples")
    assert f"[Record a deal of 15,000] /newdeal c{mine} 15000" in out and "Reminder" not in out
    with db.uow() as uow:
        [reminder] = uow.session.scalars(select(Reminder)).all()
        assert (reminder.customer_id, reminder.lead_id) == (mine, None)
        audited = uow.session.scalars(select(AuditEntry.record_id).where(
            AuditEntry.record_type == "customer_followup", AuditEntry.action == "create")).all()
    assert len(audited) == 2 and _count(db, LeadFollowup) == 0  # a customer's, not a lead's
    shown = say(console, f"/customer {mine}")
    assert shown.index("they want 15000 yuan") < shown.index("met the buyer")  # newest first
    assert "2026-12-01 10:00 · 李雷 Li Lei · met the buyer" in shown.split("Follow-ups:")[1]
    # a bare number, or l1, is still a lead: the demo pool's lead #1, not customer #1
    assert mine == 1
    say(console, "/claim 1")
    assert "Follow-up recorded on #1 " in say(console, "/follow 1 called the lead")
    assert "Follow-up recorded on #1 " in say(console, "/follow l1 called again")
    assert (_count(db, LeadFollowup), _count(db, CustomerFollowup)) == (2, 2)


def test_a_customer_out_of_reach_reads_like_a_missing_one_and_nothing_is_written(db, settings, demo_org):
    theirs = add_customer(db, "sam", "Sam's Shop")
    console = ConsoleAdapter(build_router(db, settings), "li")
    say(console, "/lang en")
    out_of_reach = say(console, f"/follow c{theirs} call back tomorrow 10am, 5000 order")
    missing = say(console, "/follow c999 call back tomorrow 10am, 5000 order")
    assert out_of_reach == missing.replace("999", str(theirs))
    assert "newdeal" not in out_of_reach
    assert (_count(db, CustomerFollowup), _count(db, Reminder)) == (0, 0)
    say(console, "/as sam")
    assert "Sam's Shop" in say(console, f"/follow c{theirs} called")  # his own
    assert _count(db, CustomerFollowup) == 1


def test_zh_follow_up_on_a_customer(db, settings, demo_org):
    mine = add_customer(db, "li", "星河贸易")
    console = ConsoleAdapter(build_router(db, settings), "li")
    say(console, "/lang zh")
    assert f"已记录客户 c{mine} 星河贸易 的跟进" in say(console, f"/follow c{mine} 拜访了采购")
    assert "跟进记录" in say(console, f"/customer {mine}")
