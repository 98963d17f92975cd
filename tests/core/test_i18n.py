"""babel formats numbers, money, dates and plural words in the language of the template."""
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from jinja2 import DictLoader, Environment

from bot.i18n import environment, format_money, format_number, format_ratio, plural


@pytest.mark.parametrize("value, currency, locale, expected", [
    (Decimal("50000"), "CNY", "en", "50,000.00 CNY"),
    (Decimal("50000"), "CNY", "zh", "50,000.00 CNY"),
    (Decimal("1234.5"), "USD", "en", "1,234.50 USD"),
    ("1234.6", "JPY", "en", "1,235 JPY"),  # babel knows the yen has no decimals
    (Decimal("12500.5"), None, "zh", "12,500.50"),
])
def test_money_is_the_amount_and_its_currency_code(value, currency, locale, expected):
    assert format_money(value, locale, currency) == expected


def test_numbers_and_shares():
    assert format_number(12345.6, "en") == "12,346" and format_number("31.2304161", "zh", 6) == "31.230416"
    assert format_ratio(0.456, "en") == "46%" and format_ratio(Decimal("40.0"), "zh", 1, per=100) == "40.0%"


@pytest.mark.parametrize("count, english", [(0, "records"), (1, "record"), (2, "records"), (21, "records")])
def test_plural_forms_follow_the_languages_rules(count, english):
    assert plural(count, "en", one="record", other="records") == english
    assert plural(count, "zh", other="条") == "条"  # Chinese has one form


def render(source: str, name: str, **context: object) -> str:
    env = Environment(loader=DictLoader({name: source}))
    env.filters.update(environment().filters)
    return env.get_template(name).render(**context)


def test_a_template_formats_in_the_language_of_its_folder():
    source = "{{ n }} {{ n|plural(one='deal', other='deals') }} · {{ amount|money('CNY') }} · {{ day|date }} · " \
             "{{ at|datetime }} · {{ 570|time }}"
    shanghai = timezone(timedelta(hours=8))
    context = {"n": 1, "amount": Decimal("40000"), "day": date(2026, 1, 5),
               "at": datetime(2026, 1, 5, 9, 5, tzinfo=shanghai)}
    assert render(source, "en/x.j2", **context) == "1 deal · 40,000.00 CNY · 2026-01-05 · 2026-01-05 09:05 · 09:30"
    assert render(source, "zh/x.j2", **{**context, "n": 2}).startswith("2 deals · 40,000.00 CNY")


def test_an_aware_time_is_shown_in_its_own_zone():
    assert render("{{ at|time }}", "en/x.j2", at=datetime(2026, 1, 5, 1, 5, tzinfo=UTC)) == "01:05"
