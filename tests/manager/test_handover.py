"""Handover (离职交接) through the console: everything moves in one step with its history, or nothing moves."""
import threading
from datetime import timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from bot.adapters.console import ConsoleAdapter
from bot.bootstrap import build_router
from bot.services.core import identity
from bot.services.manager import handover
from db.base import utcnow
from db.models import (
    Contact,
    Customer,
    Deal,
    Lead,
    LeadEvent,
    OutboxMessage,
    Pool,
    PoolMember,
    RecordMember,
    User,
)
from db.models.audit import AuditEntry
from db.models.handover import HandoverBatch
from tests.conftest import load_demo_org, posted, say


def give_li_records(db, leads=3):
    with db.uow() as uow:
        li = identity.find_user(uow, "li").id
        now = utcnow()
        for i in range(leads):
            uow.session.add(Lead(company=f"Lead {i}", name_key=f"lead{i}", status="following", owner_id=li,
                                 claimed_at=now))
        uow.session.add(Lead(company="Old converted", name_key="oldc", status="converted", owner_id=li))
        customer = Customer(name="Shanghai Steel", name_key="shanghaisteel", owner_id=li)
        uow.session.add(customer)
        uow.session.flush()
        uow.session.add(Contact(customer_id=customer.id, name="Mr Wu", owner_id=li))
        uow.session.add(Deal(name="Open deal", customer_id=customer.id, owner_id=li, stage="intent",
                             amount=Decimal("5000")))
        uow.session.add(Deal(name="Won deal", customer_id=customer.id, owner_id=li, stage="won",
                             amount=Decimal("9000"), won_at=now))
        uow.commit()
    return li


def owners(db):
    with db.uow() as uow:
        users = {u.id: u.handle for u in uow.session.scalars(select(User))}
        return {
            # Owned leads only: the demo pool's unassigned leads belong to nobody.
            "leads": sorted(users[o] for o in uow.session.scalars(
                select(Lead.owner_id).where(Lead.status != "converted", Lead.owner_id.is_not(None)))),
            "customers": [users[o] for o in uow.session.scalars(select(Customer.owner_id))],
            "contacts": [users[o] for o in uow.session.scalars(select(Contact.owner_id))],
            "deals": {n: users[o] for n, o in uow.session.execute(select(Deal.name, Deal.owner_id))},
        }


def count(db, model, *where):
    with db.uow() as uow:
        return uow.session.scalar(select(func.count()).select_from(model).where(*where))


def test_handover_moves_everything_with_history_and_tells_both(console, db):
    li = give_li_records(db)
    say(console, "/as mei")
    out = say(console, "/handover li zhang all --stay readonly --until 2099-12-31")
    assert "交接 #1" in out and "线索: 3" in out and "客户: 1" in out and "联系人: 1" in out and "进行中的商机: 1" in out
    assert "/undo_handover 1" in out
    moved = owners(db)
    assert moved["leads"] == ["zhang"] * 3 and moved["customers"] == ["zhang"] and moved["contacts"] == ["zhang"]
    assert moved["deals"] == {"Open deal": "zhang", "Won deal": "li"}  # a won deal stays with who earned it
    assert count(db, LeadEvent, LeadEvent.kind == "handover", LeadEvent.from_owner_id == li) == 3
    assert count(db, AuditEntry, AuditEntry.action == "handover") == 6  # one per record moved
    assert count(db, RecordMember, RecordMember.user_id == li, RecordMember.access == "read") == 5
    with db.uow() as uow:
        dms = {m.chat_id: posted(m).text for m in uow.session.scalars(select(OutboxMessage))}
    assert set(dms) == {"@li", "@zhang"} and "张伟 Zhang Wei" in dms["@li"] and "李雷 Li Lei" in dms["@zhang"]
    # The old owner keeps read access, but cannot change what he handed over.
    say(console, "/as li")
    with db.uow() as uow:
        lead_id = uow.session.scalar(select(Lead.id).where(Lead.company == "Lead 0"))
    assert "Lead 0" in say(console, f"/lead {lead_id}")


def test_handover_in_english_and_deactivate(console, db):
    give_li_records(db)
    out = say(console, "/handover li sam leads")
    assert "Handover #1" in out and "Leads: 3" in out and "Customers: 0" in out
    assert "--deactivate needs a handover of everything" in say(console, "/handover zhang sam leads --deactivate")
    out = say(console, "/handover li sam all --deactivate")
    assert "deactivated" in out
    with db.uow() as uow:
        assert identity.find_user(uow, "li").active is False  # never deleted
    say(console, "/as li")
    assert "邀请码" in say(console, "/whoami")  # deactivated: no longer linked


def refused(console, db, line, expected):
    before = owners(db)
    batches = count(db, HandoverBatch)
    out = say(console, line)
    assert expected in out, out
    assert owners(db) == before and count(db, HandoverBatch) == batches
    assert count(db, OutboxMessage) == 0 and count(db, LeadEvent, LeadEvent.kind == "handover") == 0


def test_bad_handovers_write_nothing(console, db):
    give_li_records(db)
    with db.uow() as uow:
        identity.find_user(uow, "sam").active = False
        uow.commit()
    refused(console, db, "/handover li sam", "is deactivated and cannot receive records")
    refused(console, db, "/handover li li", "cannot hand his records over to himself")
    refused(console, db, "/handover li nobody", "There is no user @nobody")
    refused(console, db, "/handover li zhang --stay readonly", "--stay needs an end date")
    refused(console, db, "/handover li zhang --until 2099-01-01", "--until goes with --stay")
    refused(console, db, "/handover li zhang --stay readonly --until 2000-01-01", "already past")
    refused(console, db, "/handover zhang li", "owns nothing of that kind")
    say(console, "/as li")
    refused(console, db, "/handover li zhang", "你的角色不能使用 /handover")
    say(console, "/as mei")
    refused(console, db, "/handover li li", "不能把")


def test_handover_across_subtrees_the_manager_does_not_own(console, db):
    give_li_records(db)
    with db.uow() as uow:
        # A manager of East Team only: West's sam is outside his subtree.
        east = identity.find_user(uow, "li").unit_id
        boss = User(handle="eastboss", name="East Boss", unit_id=east, role="manager", data_scope="subtree",
                    locale="en")
        uow.session.add(boss)
        uow.session.flush()
        from bot.services.core import org

        org.link_console_identity(uow, boss.id, "eastboss", utcnow())
        uow.commit()
    say(console, "/as eastboss")
    refused(console, db, "/handover li sam", "There is no user @sam.")  # out of scope reads like not found
    refused(console, db, "/handover sam li", "There is no user @sam.")
    assert "Handover #1" in say(console, "/handover li zhang")


def test_receivers_cap_is_checked_and_names_the_records_over_it(console, db):
    give_li_records(db, leads=4)
    with db.uow() as uow:
        pool = Pool(name="East pool", max_open_leads=3)
        uow.session.add(pool)
        uow.session.flush()
        uow.session.add(PoolMember(pool_id=pool.id, user_id=identity.find_user(uow, "zhang").id))
        zhang = identity.find_user(uow, "zhang").id
        uow.session.add(Lead(company="Zhang own", name_key="zo", status="pending", owner_id=zhang))
        uow.commit()
    out = say(console, "/handover li zhang")
    assert "can take 2 more open leads (cap 3), but 4 would arrive: 2 over the cap" in out
    assert "Lead 2" in out and "Lead 3" in out and "Lead 0" not in out
    assert count(db, HandoverBatch) == 0 and count(db, Lead, Lead.owner_id == zhang) == 1
    assert "Handover #1" in say(console, "/handover li zhang customers")  # customers do not count


def test_undo_within_a_day_by_the_same_manager(console, db, router, settings):
    li = give_li_records(db)
    say(console, "/as mei")
    say(console, "/handover li zhang --stay readwrite --until 2099-12-31")
    say(console, "/as admin")
    assert "another manager" in say(console, "/undo_handover 1")
    say(console, "/as mei")
    out = say(console, "/undo_handover")
    assert "6 条记录已退回给 李雷 Li Lei" in out
    assert owners(db)["leads"] == ["li"] * 3 and owners(db)["deals"]["Open deal"] == "li"
    assert count(db, LeadEvent, LeadEvent.kind == "handover") == 6  # there and back: both kept
    with db.uow() as uow:
        # The stay ends on the manager's calendar (mei is in Asia/Shanghai), whatever UTC's date is.
        mei_zone = uow.session.scalar(select(User.timezone).where(User.handle == "mei"))
        today = utcnow().astimezone(ZoneInfo(mei_zone)).date()
        assert all(m.until < today for m in uow.session.scalars(select(RecordMember).where(RecordMember.user_id == li)))
    assert "已经撤销过了" in say(console, "/undo_handover 1")
    # A day later it is too late.
    say(console, "/handover li zhang")
    later = build_router(db, settings, clock=lambda: utcnow() + timedelta(days=1, minutes=1))
    tomorrow = ConsoleAdapter(later, "mei")
    assert "超过一天" in "\n".join(tomorrow.handle_line("/undo_handover"))
    assert owners(db)["leads"] == ["zhang"] * 3


def test_undo_leaves_records_the_receiver_already_passed_on(console, db):
    give_li_records(db)
    say(console, "/handover li zhang leads")
    with db.uow() as uow:
        lead = uow.session.scalar(select(Lead).where(Lead.company == "Lead 0"))
        lead.owner_id = identity.find_user(uow, "sam").id
        uow.commit()
    out = say(console, "/undo_handover")
    assert "2 records are back" in out and "1 record stays" in out


def test_two_handovers_of_the_same_rep_at_once_move_each_record_once(pg_db):

    load_demo_org(pg_db)
    give_li_records(pg_db, leads=50)
    with pg_db.uow() as uow:
        mei = identity.find_user(uow, "mei").id
    results, errors = [], []

    def run(receiver):
        try:
            with pg_db.uow() as uow:
                results.append(handover.hand_over(uow, mei, "li", receiver, now=utcnow(), today=utcnow().date()))
                uow.commit()
        except Exception as error:  # the loser finds nothing left to move
            errors.append(getattr(error, "template", repr(error)))

    threads = [threading.Thread(target=run, args=(r,)) for r in ("zhang", "sam")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 1 and errors == ["manager/handover_nothing"]
    moved = owners(pg_db)
    assert len(set(moved["leads"])) == 1 and moved["leads"][0] == ("zhang" if results[0].to_name.startswith("张") else "sam")
    assert count(pg_db, LeadEvent, LeadEvent.kind == "handover") == 50
