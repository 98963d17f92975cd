"""Conversion: a customer always (the existing one when the duplicate check matches), contact and deal
optional, all in one transaction."""
from decimal import Decimal

from sqlalchemy import func, select

from bot.services.leads import dedupe
from db.models import Contact, Customer, Deal, Lead, LeadEvent, User
from tests.conftest import say


def counts(db):
    with db.uow() as uow:
        return tuple(uow.session.scalar(select(func.count()).select_from(m)) for m in (Customer, Contact, Deal))


def test_convert_makes_customer_contact_and_initial_deal(console, demo_pool):
    say(console, "/as sam")
    say(console, "/claim 5")
    out = say(console, "/convert #5 --contact Tom Baker --deal 12,500.50")
    assert "New customer #1 Northwind Foods Inc." in out and "12,500.50" in out
    with demo_pool.uow() as uow:
        customer = uow.session.get(Customer, 1)
        assert customer.name_key == dedupe.normalise_company("Northwind Foods") and customer.owner_id is not None
        contact = uow.session.scalars(select(Contact)).one()
        assert contact.name == "Tom Baker" and contact.customer_id == 1
        deal = uow.session.scalars(select(Deal)).one()
        assert (deal.stage, deal.amount, deal.lead_id, deal.owner_id) == ("initial", Decimal("12500.50"), 5,
                                                                          customer.owner_id)
        lead = uow.session.get(Lead, 5)
        assert lead.status == "converted" and lead.customer_id == 1
        assert uow.session.scalars(select(LeadEvent.kind).where(LeadEvent.lead_id == 5)).all()[-1] == "convert"
    assert "#1 Northwind Foods Inc." in say(console, "/customers")
    detail = say(console, "/customer 1")
    assert "Tom Baker" in detail and "· initial contact ·" in detail


def test_convert_links_an_existing_customer_instead_of_a_second_one(console, demo_pool):
    with demo_pool.uow() as uow:
        sam = uow.session.scalar(select(User.id).where(User.handle == "sam"))
        uow.session.add(Customer(name="NORTHWIND FOODS LIMITED", name_key=dedupe.normalise_company("Northwind Foods"),
                                 owner_id=sam))
        uow.commit()
    say(console, "/as sam")
    say(console, "/claim 5")
    out = say(console, "/convert 5")
    assert "Linked to the existing customer #1 NORTHWIND FOODS LIMITED" in out
    assert counts(demo_pool) == (1, 0, 0)
    with demo_pool.uow() as uow:
        assert uow.session.get(Lead, 5).customer_id == 1


def test_convert_links_a_customer_outside_scope_without_naming_it(console, demo_pool):
    with demo_pool.uow() as uow:
        uow.session.add(Customer(name="Zyxwv Secret Co", name_key=dedupe.normalise_company("Northwind Foods")))
        uow.commit()
    say(console, "/as sam")
    say(console, "/claim 5")
    out = say(console, "/convert 5")
    assert "outside your part of the org" in out and "Zyxwv" not in out and "#1" not in out
    assert counts(demo_pool) == (1, 0, 0)


def test_a_refused_conversion_writes_nothing(console, demo_pool):
    say(console, "/as sam")
    assert "unassigned" in say(console, "/convert 5 --contact Tom --deal 100")
    say(console, "/claim 5")
    assert "negative" in say(console, "/convert 5 --contact Tom --deal -5")
    assert "Usage" in say(console, "/convert 5 --deal lots") or "number" in say(console, "/convert 5 --deal lots")
    assert counts(demo_pool) == (0, 0, 0)
    with demo_pool.uow() as uow:
        assert uow.session.get(Lead, 5).status == "pending"


def test_customer_detail_respects_scope_and_setloc_forwards(console, demo_pool):
    say(console, "/as li")
    say(console, "/claim 6")
    say(console, "/convert 6")
    say(console, "/as sam")
    assert say(console, "/customer 1") == say(console, "/customer 99").replace("99", "1")
    assert "No customers yet" in say(console, "/customers")
    assert "There is no customer #42" in say(console, "/customer 42")
    say(console, "/as li")
    out = say(console, "/customer 1 setloc")
    assert "客户 #1" not in out and out  # answered by the visits command, not the detail page


def test_convert_names_the_new_contact_in_the_users_language(console, demo_pool):
    say(console, "/as li")
    say(console, "/claim 6")
    out = say(console, "/convert 6 --contact 陈静")
    assert "联系人: 陈静" in out.splitlines() and "联系人: #" not in out
    say(console, "/as sam")
    say(console, "/lang en")
    say(console, "/claim 5")
    out = say(console, "/convert 5 --contact Tom O'Brien")
    assert "Contact: Tom O'Brien" in out.splitlines() and "Contact: #" not in out
    with demo_pool.uow() as uow:
        assert sorted(uow.session.scalars(select(Contact.name))) == ["Tom O'Brien", "陈静"]
