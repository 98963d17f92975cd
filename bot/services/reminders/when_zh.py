"""Chinese date expressions, a small grammar: dateparser (1.5) reads 下周二 as the whole next week,
cannot read 下午三点, 月底 or 明天上午10点, and misreads 3月15日 as 16 March. The Chinese time
libraries on PyPI that do read them (jionlp's parse_time) bring a quarter of a gigabyte of
dictionaries and numpy, so the few forms a rep types are spelled out here; numerals go through
cn2an. Day forms: 今天 明天 后天 大后天 今晚 (昨天 前天: passed), (下下|下|这|本)?(周|星期|礼拜)N, [YYYY年]M月D日/号,
[下个|本|M]月底, N天后; a week or month without a day (下周, 下个月) asks for the day. Times:
[上午|中午|下午|晚上...]H点[半|一刻|三刻|M分] or H:MM; a time alone needs its 上午/下午 word (or
H:MM), so "3点要求" is not a time; 今晚 alone is 19:00. Only a note with Chinese
characters is read here. A bare hour follows working hours: 1-6 afternoon, 8-11 morning,
12 noon, 7 either (asked).
"""
import re
from datetime import date, datetime, time, timedelta

import cn2an

from bot.services.reminders.said import (
    Said,
    coming_month_end,
    month_end,
    next_month_day,
    weekday_days,
)

_N = r"[0-9零〇一二两三四五六七八九十]+"
_WEEKDAYS = {"1": 0, "一": 0, "2": 1, "二": 1, "3": 2, "三": 2, "4": 3, "四": 3, "5": 4, "五": 4, "6": 5, "六": 5,
             "7": 6, "日": 6, "天": 6}
_WEEK_OFFSET = {"": None, "这": 0, "本": 0, "下": 1, "下下": 2}
_RELATIVE_DAYS = {"前天": -2, "昨天": -1, "今天": 0, "今日": 0, "今晚": 0, "明天": 1, "明日": 1, "后天": 2, "大后天": 3}
_EVENING = ("下午", "傍晚", "晚上", "今晚", "晚")

_DAY = re.compile(
    rf"(?P<rel>大后天|后天|明天|明日|今天|今日|今晚|昨天|前天)"
    rf"|(?P<wk>下下|下|这|本)?个?(?:周|星期|礼拜)(?P<wd>[1-7一二三四五六日天])"
    rf"|(?:(?P<y>{_N})年)?(?P<m>{_N})月(?P<d>{_N})[日号]"
    rf"|(?:(?P<endrel>下个?|本|这个?)|(?P<endm>{_N}))?月底"
    rf"|(?P<span>{_N})(?P<unit>天|个?星期|周|个?小时)(?:后|以后|之后)"
    rf"|(?P<vague>(?:下下|下|这|本)个?(?:周|星期|礼拜)|下个?月)"
)
_TIME = re.compile(
    rf"(?P<part>上午|早上|早晨|凌晨|中午|下午|傍晚|晚上|今晚|晚)?\s*"
    rf"(?:(?P<h>{_N})(?:点|时)(?P<min>半|一刻|三刻|(?P<mm>{_N})分?)?|(?P<hh>\d{{1,2}})[:：](?P<mi>\d{{2}}))"
)


def number(word: str) -> int:
    """Arabic or Chinese numerals; ValueError for what is not a number (cn2an raises KeyError too)."""
    if word.isdigit():
        return int(word)
    try:
        return int(cn2an.cn2an(word, "smart"))
    except (KeyError, ValueError) as error:
        raise ValueError(word) from error


_HAN = re.compile(r"[\u4e00-\u9fff]")


def find(note: str, now: datetime) -> Said | None:
    if not _HAN.search(note):
        return None
    today = now.date()
    for match in _DAY.finditer(note):
        try:
            said = _day(match, today, now)
        except (ValueError, OverflowError):  # not a number, or a span past the calendar's end
            continue
        if said is not None:
            return said if said.vague or said.exact is not None else _with_clock(note, match, said)
    return _time_alone(note, today)


def _with_clock(note: str, match: re.Match, said: Said) -> Said:
    """The day's time, when one follows it."""
    clock = _TIME.match(note, _skip_space(note, match.end()))
    part = "今晚" if match.group("rel") == "今晚" else None
    if clock is None:
        return said if part is None else Said(said.words, said.start, said.days, _clocks(7, 0, part))
    clocks = _read_clock(clock, part)
    if clocks is None:
        return said
    return Said(note[match.start():clock.end()], match.start(), said.days, clocks)


def _skip_space(note: str, pos: int) -> int:
    while pos < len(note) and note[pos] in " 的":
        pos += 1
    return pos


def _day(match: re.Match, today: date, now: datetime) -> Said | None:
    words, start = match.group(0), match.start()
    if match.group("rel"):
        return Said(words, start, (today + timedelta(days=_RELATIVE_DAYS[match.group("rel")]),))
    if match.group("wd"):
        offset = _WEEK_OFFSET[match.group("wk") or ""]
        return Said(words, start, weekday_days(_WEEKDAYS[match.group("wd")], today, offset))
    if match.group("m") and match.group("d"):
        return _month_day(match, today)
    if match.group("span"):
        amount = number(match.group("span"))
        unit = match.group("unit")
        delta = (timedelta(hours=amount) if "小时" in unit else timedelta(days=amount) if unit == "天"
                 else timedelta(weeks=amount))
        return Said(words, start, exact=now + delta)
    if match.group("vague"):
        return Said(words, start, vague=True)
    return _month_end(match, today)


def _month_day(match: re.Match, today: date) -> Said | None:
    month, day = number(match.group("m")), number(match.group("d"))
    if match.group("y"):
        try:
            return Said(match.group(0), match.start(), (date(number(match.group("y")), month, day),))
        except ValueError:
            return None
    found = next_month_day(month, day, today)
    return None if found is None else Said(match.group(0), match.start(), (found,))


def _month_end(match: re.Match, today: date) -> Said | None:
    rel, named = match.group("endrel"), match.group("endm")
    if named:
        month = number(named)
        if not 1 <= month <= 12:
            return None
        return Said(match.group(0), match.start(), (coming_month_end(month, today),))
    if rel and rel.startswith("下"):
        nxt = date(today.year + today.month // 12, today.month % 12 + 1, 1)
        return Said(match.group(0), match.start(), (month_end(nxt.year, nxt.month),))
    return Said(match.group(0), match.start(), (month_end(today.year, today.month),))


def _time_alone(note: str, today: date) -> Said | None:
    """A time with no day names today; it needs its 上午/下午 word or the H:MM form."""
    for clock in _TIME.finditer(note):
        if not (clock.group("part") or clock.group("hh")):
            continue
        clocks = _read_clock(clock, None)
        if clocks is not None:
            return Said(clock.group(0).strip(), clock.start(), (today,), clocks)
    return None


def _read_clock(clock: re.Match, day_part: str | None) -> tuple[time, ...] | None:
    try:
        if clock.group("hh"):
            hour, minute = int(clock.group("hh")), int(clock.group("mi"))
        else:
            hour, minute = number(clock.group("h")), _minutes(clock.group("min"), clock.group("mm"))
    except ValueError:
        return None
    return _clocks(hour, minute, clock.group("part") or day_part)


def _minutes(word: str | None, digits: str | None) -> int:
    if not word:
        return 0
    return {"半": 30, "一刻": 15, "三刻": 45}.get(word) if digits is None else number(digits)


def _clocks(hour: int, minute: int, part: str | None) -> tuple[time, ...] | None:
    if not (0 <= hour <= 24 and 0 <= minute < 60):
        return None
    hour %= 24
    afternoon = (part in _EVENING and hour < 12) or (part == "中午" and hour < 3) or (part is None and 1 <= hour <= 6)
    if afternoon:
        hour += 12
    elif part is None and hour == 7:
        return time(7, minute), time(19, minute)
    return (time(hour, minute),)
