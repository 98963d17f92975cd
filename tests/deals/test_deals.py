"""Deals through the console: create, stage, win once, lose with a reason, payments, bad input."""
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from bot.messages import Incoming
from db.models import Customer, Deal, OutboxMessage, User
from db.models.deal import Payment
from tests.conftest import posted, say


def add_customer(db, owner: str, name: str) -> int:
    with db.uow() as uow:
        user = uow.session.scalar(select(User).where(User.handle == owner))
        customer = Customer(name=name, name_key=name.lower(), owner_id=user.id)
        uow.session.add(customer)
        uow.commit()
        return customer.id


def count(db, model, *where) -> int:
    with db.uow() as uow:
        return uow.session.scalar(select(func.count()).select_from(model).where(*where))


def test_deal_lifecycle_announces_once(console, db):
    add_customer(db, "li", "Shanghai Steel")
    say(console, "/as li")
    assert "#1" in say(console, "/newdeal steel 50000 Big order")
    assert "确定意向" in say(console, "/stage #1 intent")
    out = say(console, "/win 1")
    assert "赢单" in out and "50,000.00" in out and "人生第一单" in out
    assert "已经赢单" in say(console, "/win 1")
    assert "已经赢单" in say(console, "/lose 1 price")
    posts = _posts(db, "win")
    assert len(posts) == 1 and "Li Lei won 50,000.00 CNY from Shanghai Steel" in posted(posts[0]).text
    say(console, "/lang en")
    assert "already won" in say(console, "/win #1")


def test_retried_event_announces_once(router, demo_org, db):
    add_customer(db, "li", "Acme Glass")
    base = dict(platform="console", workspace="local", chat_id="@li", user_id="li")
    router.handle(Incoming(**base, command="newdeal", args="glass 1000"))
    for _ in range(2):
        router.handle(Incoming(**base, command="win", args="1", event_id="evt-1"))
    assert len(_posts(db, "win")) == 1
    assert count(db, Deal, Deal.stage == "won") == 1


def test_payments_add_up_and_overpayment_needs_confirm(console, db):
    add_customer(db, "sam", "Berlin Motors")
    say(console, "/as sam")
    say(console, "/newdeal motors 10000")
    say(console, "/win 1")
    assert "6,000.00 / 10,000.00" in say(console, "/paid 1 6000 2026-01-05")
    out = say(console, "/paid 1 5000")
    assert "would exceed" in out and "/paid 1 5000.00 --confirm" in out
    assert count(db, Payment) == 1
    assert "11,000.00 / 10,000.00" in say(console, "/paid 1 5000 --confirm")
    with db.uow() as uow:
        assert uow.session.get(Deal, 1).collected_amount == Decimal("11000.00")


def test_bad_amounts_and_currency_write_nothing(console, db):
    add_customer(db, "sam", "Berlin Motors")
    say(console, "/as sam")
    say(console, "/newdeal motors 10000")
    assert "more than zero" in say(console, "/paid 1 -5")
    assert "more than zero" in say(console, "/win 1 0")
    assert "not a believable amount" in say(console, "/win 1 5000000000000")
    assert "in CNY, not USD" in say(console, "/win 1 --currency USD")
    assert "not a number" in say(console, "/paid 1 lots").lower() or "number" in say(console, "/paid 1 lots")
    assert "future" in say(console, "/paid 1 100 2999-01-01")
    assert count(db, Payment) == 0
    assert count(db, Deal, Deal.stage == "won") == 0
    assert _posts(db, "win") == []


def test_someone_elses_deal_and_unknown_deal(console, db):
    add_customer(db, "li", "Shanghai Steel")
    say(console, "/as li")
    say(console, "/newdeal steel 800")
    say(console, "/as sam")
    assert say(console, "/win 1") == "There is no deal #1."  # out of scope reads like not found
    assert say(console, "/deal 1") == "There is no deal #1."
    assert "There is no deal #42" in say(console, "/deal 42")
    assert "not a deal number" in say(console, "/deal abc")
    assert "No customer you can see" in say(console, "/newdeal steel 100")
    assert count(db, Deal, Deal.stage == "won") == 0
    say(console, "/as mei")  # the manager over both reps may act on it
    assert "赢单" in say(console, "/win 1")


def test_lose_needs_a_listed_reason(console, db):
    add_customer(db, "sam", "Berlin Motors")
    say(console, "/as sam")
    say(console, "/newdeal motors 100")
    out = say(console, "/lose 1 bored")
    assert "competitor" in out and "price" in out
    assert count(db, Deal, Deal.stage == "lost") == 0
    assert "marked lost (competitor: cheaper offer)" in say(console, "/lose 1 competitor cheaper offer")
    assert "already lost" in say(console, "/win 1")
    assert "no payment" in say(console, "/paid 1 10")
    assert "competitor: cheaper offer" in say(console, "/deal 1")
    say(console, "/lang zh")
    assert "竞争对手:cheaper offer" in say(console, "/deal 1")


def test_deals_list_and_ambiguous_customer(console, db):
    add_customer(db, "li", "Shanghai Steel")
    add_customer(db, "li", "Shanghai Glass")
    say(console, "/as li")
    assert "c1 Shanghai Steel" in say(console, "/newdeal shanghai 100")
    say(console, "/newdeal c2 300 Windows")
    say(console, "/newdeal c1 200")
    say(console, "/win 1")
    listed = say(console, "/deals")
    assert "#2" in listed and "Windows" not in listed
    assert "Windows" in say(console, "/deals won") and "Windows" in say(console, "/deals all")


def _posts(db, kind):
    with db.uow() as uow:
        return list(uow.session.scalars(select(OutboxMessage).where(OutboxMessage.kind == kind)))


@pytest.mark.parametrize(("stage", "title"), [(None, "进行中"), ("all", "全部"), ("won", "赢单"), ("lost", "输单")])
def test_every_listing_filter_has_a_title_in_the_users_language(console, stage, title):
    say(console, "/as li")
    assert f"商机({title})" in say(console, "/deals" + (f" {stage}" if stage else ""))


def test_amounts_carry_their_currency_and_plural_words_fit_the_count(console, db):
    add_customer(db, "sam", "Berlin Motors")
    say(console, "/as sam")
    assert "for Berlin Motors: 1,234.50 USD." in say(console, "/newdeal motors 1234.5 --currency USD")
    assert "Amount: 1,234.50 USD" in say(console, "/deal 1")
    out = say(console, "/win 1")
    assert "Berlin Motors: 1,234.50 USD" in out and "Announced in 1 team channel." in out
    out = say(console, "/paid 1 1000 2026-01-05")
    assert "Payment of 1,000.00 USD on 2026-01-05" in out
    out = say(console, "/paid 1 500")
    assert "Deal #1 is 1,234.50 USD and 1,000.00 is already collected; 500.00 more would exceed it" in out
