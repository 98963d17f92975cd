"""Duplicate check: company names and phones normalised, matches found wherever they are."""
import pytest

from bot.services.core import demo
from bot.services.leads import dedupe
from db.base import utcnow
from db.models import Customer, Lead, LeadStatus


@pytest.mark.parametrize("a, b", [
    ("上海华为技术有限公司", "上海华为技术"),
    ("阿里巴巴(集团)股份有限公司", "阿里巴巴集团"),
    ("ＡＣＭＥ　Ｔｒａｄｉｎｇ Co., Ltd.", "acme trading"),
    ("Acme Trading Limited", "ACME TRADING LTD."),
    ("Acme Inc.", "acme, llc"),
    ("Siemens GmbH", "siemens corp."),
    ("深圳 Lumen 照明 Ltd.", "深圳lumen照明有限公司"),
])
def test_same_company_written_differently_gets_one_key(a, b):
    assert dedupe.normalise_company(a) == dedupe.normalise_company(b) != ""


def test_different_companies_stay_different_and_symbols_alone_are_empty():
    assert dedupe.normalise_company("Acme Trading") != dedupe.normalise_company("Acme Logistics")
    assert dedupe.normalise_company("北京长城") != dedupe.normalise_company("上海长城")
    assert dedupe.normalise_company("🚀🚀 !!") == ""
    # A name that is nothing but a suffix keeps itself rather than vanishing.
    assert dedupe.normalise_company("有限公司") == "有限公司"


@pytest.mark.parametrize("raw, key", [
    ("+86 138-0013-8000", "13800138000"),
    ("0086 13800138000", "13800138000"),
    ("8613800138000", "13800138000"),
    ("＋８６ １３８ ００１３ ８０００", "13800138000"),
    ("021-6234 5678", "02162345678"),
    ("+86 21 6234 5678", "02162345678"),
    ("(010) 1234-5678 ext 12", "01012345678"),
])
def test_phone_formats_normalise_to_digits(raw, key):
    assert dedupe.normalise_phone(raw) == key


@pytest.mark.parametrize("raw", ["abc", "12", "", None, "call me maybe", "1" * 30])
def test_things_that_are_not_phones_are_refused(raw):
    assert dedupe.normalise_phone(raw) is None


def test_matches_are_found_in_the_pool_in_hands_and_among_customers_but_not_voided(demo_org):
    now = utcnow()
    with demo_org.uow() as uow:
        demo.load_demo_pool(uow, now)
        uow.session.add(Customer(name="Globex Corporation", name_key=dedupe.normalise_company("Globex Corporation"),
                                 phone="010 5555 6666", phone_key=dedupe.normalise_phone("010 5555 6666")))
        uow.session.add(Lead(company="Junk Ltd", name_key="junk", status=LeadStatus.VOIDED))
        uow.commit()
    with demo_org.uow() as uow:
        in_pool = dedupe.find_matches(uow, dedupe.normalise_company("上海星河贸易"), None)
        assert [(m.kind, m.pool_name, m.by) for m in in_pool] == [("lead", "demo pool", "name")]
        by_phone = dedupe.find_matches(uow, "nothing", dedupe.normalise_phone("+86 10 5555 6666"))
        assert [(m.kind, m.name, m.by) for m in by_phone] == [("customer", "Globex Corporation", "phone")]
        assert dedupe.find_matches(uow, "junk", None) == []
