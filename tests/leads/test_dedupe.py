"""Duplicate check: company names and phones normalised, matches found wherever they are."""
import itertools

import pytest

from bot.services.core import demo
from bot.services.leads import dedupe
from db import phone_keys
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
    assert phone_keys.digit_key(raw) == key


@pytest.mark.parametrize("raw", ["abc", "12", "", None, "call me maybe", "1" * 30])
def test_things_that_are_not_phones_are_refused(raw):
    assert phone_keys.digit_key(raw) is None
    assert phone_keys.phone_key(raw, "CN") is None and phone_keys.phone_key(raw, "US") is None


@pytest.mark.parametrize("region, a, b", [
    ("US", "+1 415 555 0100", "(415) 555-0100"),
    ("US", "+1 (415) 555-0100 ext. 7", "415.555.0100"),
    ("GB", "+44 20 7946 0958", "020 7946 0958"),
    ("CN", "+86 138-0013-8000", "138 0013 8000 转 12"),
    ("CN", "+44 20 7946 0958", "0044 20 7946 0958"),
])
def test_the_same_phone_written_two_ways_gets_one_e164_key(region, a, b):
    assert phone_keys.phone_key(a, region) == phone_keys.phone_key(b, region)
    assert phone_keys.phone_key(a, region).startswith("+")


def test_a_number_with_its_country_code_has_the_same_key_in_every_region():
    assert {phone_keys.phone_key("+1 415 555 0100", region) for region in ("CN", "US", "GB")} == {"+14155550100"}


# Every Chinese way of writing a phone the digit keys matched before: in the CN region they still match.
CHINESE_FORMS = ["+86 138-0013-8000", "0086 13800138000", "8613800138000", "＋８６ １３８ ００１３ ８０００",
                 "13800138000", "138 0013 8000 ext 5", "021-6234 5678", "+86 21 6234 5678", "(021) 62345678",
                 "0086 21 6234 5678", "(010) 1234-5678 ext 12", "+86 10 1234 5678", "95588", "400-820-8820",
                 "12345", "0755-2233 4455"]


def test_phones_that_matched_as_digits_still_match_in_the_cn_region():
    for a, b in itertools.combinations(CHINESE_FORMS, 2):
        if phone_keys.digit_key(a) == phone_keys.digit_key(b):
            assert phone_keys.phone_key(a, "CN") == phone_keys.phone_key(b, "CN"), (a, b)


def test_a_phone_that_is_not_a_possible_number_keeps_its_digit_key():
    # 20 digits is no possible number anywhere, but the digit check always accepted it.
    assert phone_keys.phone_key("1" * 20, "CN") == "1" * 20


def test_matches_are_found_in_the_pool_in_hands_and_among_customers_but_not_voided(demo_org):
    now = utcnow()
    with demo_org.uow() as uow:
        demo.load_demo_pool(uow, now)
        uow.session.add(Customer(name="Globex Corporation", name_key=dedupe.normalise_company("Globex Corporation"),
                                 phone="010 5555 6666", phone_key=phone_keys.phone_key("010 5555 6666", "CN")))
        uow.session.add(Lead(company="Junk Ltd", name_key="junk", status=LeadStatus.VOIDED))
        uow.commit()
    with demo_org.uow() as uow:
        in_pool = dedupe.find_matches(uow, dedupe.normalise_company("上海星河贸易"), None)
        assert [(m.kind, m.pool_name, m.by) for m in in_pool] == [("lead", "demo pool", "name")]
        by_phone = dedupe.find_matches(uow, "nothing", phone_keys.phone_key("+86 10 5555 6666", "CN"))
        assert [(m.kind, m.name, m.by) for m in by_phone] == [("customer", "Globex Corporation", "phone")]
        assert dedupe.find_matches(uow, "junk", None) == []
