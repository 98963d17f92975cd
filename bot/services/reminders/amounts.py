"""Money in a note: 2万, 两万, 1.5w, 20k, ￥3000, 3000元, $500. Only offered as a deal update (a
button the writer presses), never applied. A number is money only with a currency sign or word or
a multiplier (万 w k 千 亿); one followed by a measure word (20台, 2万台, 20 units) is a quantity.
Chinese numerals go through cn2an. An amount no deal may hold (over deals.MAX_AMOUNT) is not offered."""
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

import cn2an

from bot.services.deals.deals import MAX_AMOUNT

_DIGITS = r"\d+(?:,\d{3})*(?:\.\d+)?"
_HAN = r"[零〇一二两三四五六七八九十百千]"
_MULTIPLIERS = {"万": 10_000, "w": 10_000, "k": 1_000, "千": 1_000, "亿": 100_000_000}
_SIGN = r"[￥¥$]|rmb|cny|usd"
_WORD = r"元|块钱|块|rmb|cny|usd|yuan|dollars?"
_MEASURE = r"\s*(?:台|个|件|套|只|箱|盒|瓶|吨|米|张|份|辆|部|units?|pcs|pieces?|sets?|boxes|items?)"
_MONEY = re.compile(
    rf"(?P<sign>{_SIGN})\s?(?P<n1>{_DIGITS})\s?(?P<x1>[万wk千亿])?(?![\w.])"
    rf"|(?P<n2>{_DIGITS})\s?(?P<x2>[万wk千亿])(?P<w2>\s?(?:{_WORD}))?(?!{_MEASURE})(?![a-z])"
    rf"|(?P<n3>{_DIGITS})\s?(?:{_WORD})(?![a-z])"
    rf"|(?P<n4>{_HAN}+[万亿]{_HAN}*)(?:{_WORD})?(?!{_MEASURE})"
    rf"|(?P<n5>{_HAN}+)(?:{_WORD})",
    re.I,
)


@dataclass(frozen=True)
class Amount:
    value: Decimal
    words: str  # as found in the note


def find(note: str) -> Amount | None:
    """The first money amount in the note, or None."""
    for match in _MONEY.finditer(note):
        value = _value(match)
        if value is not None and 0 < value <= MAX_AMOUNT:
            return Amount(value, match.group(0).strip())
    return None


def _value(match: re.Match) -> Decimal | None:
    try:
        spelled = match.group("n4") or match.group("n5")
        if spelled:
            return Decimal(str(cn2an.cn2an(spelled, "smart"))).to_integral_value()
        for digits, multiplier in (("n1", "x1"), ("n2", "x2"), ("n3", None)):
            if match.group(digits):
                base = Decimal(match.group(digits).replace(",", ""))
                factor = _MULTIPLIERS[match.group(multiplier).lower()] if multiplier and match.group(multiplier) else 1
                value = base * factor
                return value.to_integral_value() if value == value.to_integral_value() else value
    except (InvalidOperation, ValueError, KeyError):  # cn2an raises KeyError on some malformed numerals
        return None
    return None
