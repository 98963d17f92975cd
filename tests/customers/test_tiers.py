"""Customer tiers A-E from the amount collected over the last 12 months: quantiles by default, the
company's thresholds from the org file; pinned by a manager with a reason (audited), unpinned with
`auto`; out of scope reads like not found; bad input changes nothing."""
import threading
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.actor import CURRENT_ACTOR
from bot.bootstrap import open_database
from bot.config import load_settings
from bot.jobs.customers import recompute_tiers
from bot.services.core import demo, org
from bot.services.core.validation import SettingsError
from db.base import utcnow
from db.models import AuditEntry, Customer, Deal, Payment, User
from tests.conftest import say
from tests.customers.conftest import NIGHT, ON, load, recompute, tiers_of, user

THRESHOLDS = """\
units:
  - name: Acme Trading
    customers:
      tiers: {A: 80000, B: 40000, C: 20000, D: 5000}
"""


def audit_rows(db) -> int:
    with db.uow() as uow:
        return len(uow.session.scalars(select(AuditEntry.id).where(AuditEntry.record_type == "customer")).all())


def test_quantiles_among_paying_customers_equal_amounts_share_a_tier(db, book):
    # Paid in 12 months: Big Buyer 100,000; Steady Two and Three 50,000 each; Small Shop 10,000.
    # Percent rank, most first: 0, 1/3, 1/3, 1 -> A, B, B, D. Nothing in 12 months -> E.
    assert recompute(db) == 6
    assert tiers_of(db, book) == {"Big Buyer": "A", "Steady Two": "B", "Steady Three": "B", "Small Shop": "D",
                                  "Never Paid": "E", "Dormant": "E"}
    assert recompute(db) == 0  # nothing changed, nothing written


def test_company_thresholds_from_the_org_file(db, book):
    load(db, THRESHOLDS)
    recompute(db)
    assert tiers_of(db, book) == {"Big Buyer": "A", "Steady Two": "B", "Steady Three": "B", "Small Shop": "D",
                                  "Never Paid": "E", "Dormant": "E"}
    load(db, THRESHOLDS.replace("B: 40000", "B: 55000"))
    assert recompute(db) == 2
    assert tiers_of(db, book)["Steady Two"] == "C"


def test_each_company_is_tiered_on_its_own(db, book):
    """A second company in the database: its customers are ranked among themselves, and the first
    company's thresholds do not reach them."""
    load(db, THRESHOLDS + "  - name: Berlin GmbH\n    timezone: Europe/Berlin\n"
                          "users:\n  - {handle: jan, name: Jan Weber, unit: Berlin GmbH, locale: en}\n")
    with db.uow() as uow:
        jan = user(uow, "jan").id
        small = Customer(name="Kleiner Laden", name_key="kleinerladen", owner_id=jan)
        uow.session.add(small)
        uow.session.flush()
        deal = Deal(name="Auftrag", customer_id=small.id, owner_id=jan, stage="won")
        uow.session.add(deal)
        uow.session.flush()
        uow.session.add(Payment(deal_id=deal.id, amount=100, currency="EUR", paid_on=ON, owner_id=jan))
        uow.commit()
        small_id = small.id
    recompute(db)
    with db.uow() as uow:
        assert uow.session.get(Customer, small_id).tier == "A"  # 100 is below Acme's D, but Berlin uses quantiles
    assert tiers_of(db, book)["Small Shop"] == "D"


def test_each_computed_change_is_audited_by_the_system(db, book):
    CURRENT_ACTOR.set(None)  # as in a scheduled job (the console's commands set it in this thread)
    recompute(db)
    with db.uow() as uow:
        rows = uow.session.scalars(select(AuditEntry).where(AuditEntry.record_type == "customer",
                                                           AuditEntry.action == "update")).all()
    by_id = {row.record_id: row for row in rows}
    big = by_id[book.ids["Big Buyer"]]
    assert len(rows) == 6 and big.actor_id is None and big.before["tier"] is None and big.after["tier"] == "A"


def test_thresholds_out_of_order_or_below_the_top_unit_are_refused(db, book):
    with pytest.raises(SettingsError) as bad:
        load(db, THRESHOLDS.replace("B: 40000", "B: 90000"))
    assert bad.value.problem == "tier_order"
    with pytest.raises(SettingsError) as low:
        load(db, "units:\n  - name: East Team\n    parent: Acme Trading\n    customers: {tiers: {A: 4, B: 3, C: 2, D: 1}}\n")
    assert low.value.problem == "tiers_on_company"


def test_a_manager_pins_a_tier_with_a_reason_and_unpins_it(console, db, book):
    recompute(db)
    small = book.ids["Small Shop"]
    say(console, "/as mei")
    say(console, "/lang en")
    out = say(console, f"/customer {small} tier b opening three new stores")
    assert "Tier B" in out and "opening three new stores" in out and "Computed tier: D" in out
    assert tiers_of(db, book)["Small Shop"] == "B"
    recompute(db)  # the nightly run leaves a pin alone
    assert tiers_of(db, book)["Small Shop"] == "B"
    detail = say(console, f"/customer {small}")
    assert "Tier: B (pinned: opening three new stores)" in detail
    assert "10,000.00 collected in 12 months" in detail
    assert f"#{small} Small Shop · C · B" in say(console, "/customers")
    with db.uow() as uow:
        audit = [a for a in uow.session.scalars(select(AuditEntry).where(
            AuditEntry.record_type == "customer", AuditEntry.record_id == small)) if (a.after or {}).get("tier_pinned")]
        mei = uow.session.scalar(select(User.id).where(User.handle == "mei"))
    assert [(a.actor_id, a.before["tier_pinned"], a.after["tier_pinned"]) for a in audit] == [(mei, None, "B")]
    assert audit[0].after["tier_pin_reason"] == "opening three new stores"
    assert "back to automatic" in say(console, f"/customer {small} tier auto")
    assert tiers_of(db, book)["Small Shop"] == "D"
    assert "Nothing was changed" in say(console, f"/customer {small} tier auto")


def test_bad_tier_letter_empty_reason_or_a_rep_change_nothing(console, db, book):
    recompute(db)
    small = book.ids["Small Shop"]
    before = audit_rows(db)
    say(console, "/as mei")
    assert "不是有效的分层" in say(console, f"/customer {small} tier F big plans")
    assert "请在分层后写明原因" in say(console, f"/customer {small} tier A")
    say(console, "/as li")
    assert "只有主管" in say(console, f"/customer {small} tier A my best customer")
    with db.uow() as uow:
        assert uow.session.get(Customer, small).tier_pinned is None
    assert audit_rows(db) == before


def test_a_manager_outside_the_scope_gets_not_found(console, db, book):
    load(db, "units:\n  - name: West Team\n    parent: Acme Trading\n"
             "users:\n  - {handle: wes, name: Wes West, unit: West Team, role: manager, locale: en}\n")
    with db.uow() as uow:
        wes = uow.session.scalar(select(User).where(User.handle == "wes"))
        org.link_console_identity(uow, wes.id, "wes", utcnow())
        uow.commit()
    small = book.ids["Small Shop"]
    before = audit_rows(db)
    say(console, "/as wes")
    missing = say(console, "/customer 999999 tier A reason")
    refused = say(console, f"/customer {small} tier A reason")
    assert refused == missing.replace("999999", str(small))
    assert "bad" not in refused and say(console, f"/customer {small} tier Q") == say(
        console, "/customer 999999 tier Q").replace("999999", str(small))
    with db.uow() as uow:
        assert uow.session.get(Customer, small).tier_pinned is None
    assert audit_rows(db) == before


def test_the_nightly_recompute_runs_once_across_processes(pg_db):
    """Four processes fire the job at the night's slots at once: the night is recomputed once."""
    with pg_db.uow() as uow:
        demo.load_demo(uow, utcnow())
        li = user(uow, "li").id
        customer = Customer(name="Only Payer", name_key="onlypayer", owner_id=li)
        uow.session.add(customer)
        uow.session.flush()
        deal = Deal(name="order", customer_id=customer.id, owner_id=li, stage="won")
        uow.session.add(deal)
        uow.session.flush()
        uow.session.add(Payment(deal_id=deal.id, amount=500, currency="CNY", paid_on=ON, owner_id=li))
        uow.commit()
    settings = load_settings(env_file=None, DATABASE_URL=pg_db.url, DEFAULT_TIMEZONE="Asia/Shanghai")
    barrier, results = threading.Barrier(4), []

    def process(slot) -> None:
        database = open_database(pg_db.url)
        barrier.wait()
        results.append(recompute_tiers(database, slot, settings))
        database.dispose()

    threads = [threading.Thread(target=process, args=(NIGHT + timedelta(minutes=15 * n),)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [r.changed for r in results if r is not None] == [1]
    with pg_db.uow() as uow:
        assert uow.session.get(Customer, customer.id).tier == "A"
        assert len([a for a in uow.session.scalars(select(AuditEntry).where(AuditEntry.action == "update",
                                                                           AuditEntry.record_id == customer.id))
                    if "tier" in (a.after or {})]) == 1
    assert recompute_tiers(pg_db, NIGHT + timedelta(days=1), settings) is not None  # the next night runs
