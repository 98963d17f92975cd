"""Money in notes: found with its value; quantities, times and plain numbers are not money."""
from decimal import Decimal

import pytest

from bot.services.reminders.amounts import find

TABLE = [
    ("预算2万", "2万", "20000"),
    ("两万的单子", "两万", "20000"),
    ("一万五千", "一万五千", "15000"),
    ("预算十万", "十万", "100000"),
    ("12.5万元", "12.5万元", "125000"),
    ("1.5w", "1.5w", "15000"),
    ("she wants 20k", "20k", "20000"),
    ("￥3000", "￥3000", "3000"),
    ("¥ 3,000 deposit", "¥ 3,000", "3000"),
    ("3000元", "3000元", "3000"),
    ("五千块", "五千块", "5000"),
    ("$500 deposit", "$500", "500"),
    ("budget 20,000 CNY", "20,000 CNY", "20000"),
    ("客户说三月底前要20台", None, None),
    ("2万台", None, None),
    ("三千台", None, None),
    ("20 units", None, None),
    ("20k units", None, None),
    ("下周二下午三点回电", None, None),
    ("call in 2 days", None, None),
    ("room 305, 3 samples", None, None),
    ("99999999999999万", None, None),  # more than any deal may hold
    ("二亿一元", None, None),  # a numeral cn2an cannot read
]


@pytest.mark.parametrize(("note", "words", "value"), TABLE, ids=[row[0] for row in TABLE])
def test_money_in_a_note(note, words, value):
    found = find(note)
    if value is None:
        assert found is None
    else:
        assert found is not None and (found.words, found.value) == (words, Decimal(value))
