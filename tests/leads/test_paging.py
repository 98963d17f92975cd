"""Long lists page like /pool: 30 a page, « Previous / Next » buttons carrying the command line with --page."""
from datetime import timedelta
from decimal import Decimal

from sqlalchemy import select

from db.base import utcnow
from db.models import Customer, Deal, Lead, User
from tests.conftest import say


def li_id(db) -> int:
    with db.uow() as uow:
        return uow.session.scalar(select(User.id).where(User.handle == "li"))


def add_li_leads(db, count: int) -> None:
    owner, now = li_id(db), utcnow()
    with db.uow() as uow:
        for i in range(count):
            uow.session.add(Lead(company=f"Paged {i:02}", name_key=f"paged{i:02}", owner_id=owner, status="following",
                                 created_at=now, updated_at=now - timedelta(minutes=i)))
        uow.commit()


def press(console, reply, label: str):
    """Press the button with this label: its payload goes back to the bot as a command line."""
    [payload] = [b.payload for b in reply.buttons if b.label == label]
    return console.router.handle(console.to_incoming("/" + payload))[0]


def test_36_leads_show_30_then_next_shows_the_other_6(console, demo_pool):
    add_li_leads(demo_pool, 36)
    say(console, "/as li")
    say(console, "/lang en")
    first = console.router.handle(console.to_incoming("/leads"))[0]
    shown = [line for line in first.text.splitlines() if "Paged" in line]
    assert len(shown) == 30 and "Paged 00" in shown[0] and "Paged 29" in shown[-1]
    assert "Showing 1–30 of 36 · page 1." in first.text
    assert [b.label for b in first.buttons] == ["Next »"]
    second = press(console, first, "Next »")
    shown = [line for line in second.text.splitlines() if "Paged" in line]
    assert len(shown) == 6 and "Paged 30" in shown[0] and "Paged 35" in shown[-1]
    assert "Showing 31–36 of 36 · page 2." in second.text
    assert [b.label for b in second.buttons] == ["« Previous"]
    again = press(console, second, "« Previous")
    assert again.text == first.text


def test_paging_keeps_the_status_and_who_and_speaks_chinese(console, demo_pool):
    add_li_leads(demo_pool, 36)
    say(console, "/as mei")
    first = console.router.handle(console.to_incoming('/leads following "East Team"'))[0]
    [button] = first.buttons
    assert button.label == "下一页 »" and button.payload == 'leads following "East Team" --page 2'
    second = press(console, first, "下一页 »")
    assert "显示第 31–36 条,共 36 条 · 第 2 页。" in second.text
    assert "第 9 页已超出范围:共 36 条线索。" in say(console, '/leads following "East Team" --page 9')
    assert "“x”不是有效的数字" in say(console, "/leads --page x")


def test_customers_and_deals_page_too(console, demo_pool):
    owner, now = li_id(demo_pool), utcnow()
    with demo_pool.uow() as uow:
        customers = [Customer(name=f"Client {i:02}", name_key=f"client{i:02}", owner_id=owner,
                              created_at=now - timedelta(minutes=i)) for i in range(31)]
        uow.session.add_all(customers)
        uow.session.flush()
        uow.session.add_all(Deal(name=f"Order {i:02}", customer_id=customers[i % 31].id, owner_id=owner, stage="initial",
                                 amount=Decimal(100), created_by_id=owner, created_at=now,
                                 updated_at=now - timedelta(minutes=i)) for i in range(32))
        uow.commit()
    say(console, "/as li")
    say(console, "/lang en")
    first = console.router.handle(console.to_incoming("/customers"))[0]
    assert "Showing 1–30 of 31 · page 1." in first.text and "Client 30" not in first.text
    last = press(console, first, "Next »")
    assert "Client 30" in last.text and "Client 29" not in last.text
    first = console.router.handle(console.to_incoming("/deals"))[0]
    assert "Order 29" in first.text and "Order 30" not in first.text
    last = press(console, first, "Next »")
    assert "Order 30" in last.text and "Order 31" in last.text and "Order 29" not in last.text
    assert "Showing 31–32 · page 2." in last.text and [b.label for b in last.buttons] == ["« Previous"]


def test_the_pool_next_button_keeps_both_the_search_words_and_a_filter(console, demo_pool):
    from db.models import Pool

    with demo_pool.uow() as uow:
        pool_id = uow.session.scalar(select(Pool.id))
        uow.session.add_all(Lead(company=f"Steel Works {i:02}", name_key=f"steelworks{i:02}", pool_id=pool_id,
                                 region="华东", created_at=utcnow() - timedelta(hours=1, minutes=i)) for i in range(12))
        uow.session.add(Lead(company="Steel Elsewhere", name_key="steelelsewhere", pool_id=pool_id, region="华北",
                             created_at=utcnow() - timedelta(hours=2)))
        uow.commit()
    say(console, "/as sam")
    first = console.router.handle(console.to_incoming("/pool steel --region 华东"))[0]
    [following] = [b for b in first.buttons if b.label == "Next »"]
    assert following.payload == "pool 2 steel --region 华东"
    second = press(console, first, "Next »")
    assert "Steel Works 10" in second.text and "Steel Works 11" in second.text
    assert "Steel Elsewhere" not in second.text and "上海" not in second.text
