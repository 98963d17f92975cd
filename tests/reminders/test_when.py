"""Every date expression of the table read at a fixed moment, in Shanghai and in New York: the local
date-time set, the two readings offered, a day asked for ("vague"), or a refusal ("past")."""
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from bot.services.reminders.when import Kind, read

# Tuesday 1 December 2026, 10:00 in Shanghai; Monday 30 November, 21:00 in New York.
NOW = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
SHANGHAI = ZoneInfo("Asia/Shanghai")
NEW_YORK = ZoneInfo("America/New_York")
NONE = None


def at(text: str) -> tuple[str, ...]:
    """'2026-12-08 15:00' or several readings separated by ' | '."""
    return tuple(text.split(" | "))


SHANGHAI_TABLE = [
    # Chinese
    ("下周二下午三点回电", "下周二下午三点", at("2026-12-08 15:00")),
    ("下周二", "下周二", at("2026-12-08 09:00")),
    ("下星期五上午十点半拜访", "下星期五上午十点半", at("2026-12-11 10:30")),
    ("下下周三上午十点", "下下周三上午十点", at("2026-12-16 10:00")),
    ("下午三点回电", "下午三点", at("2026-12-01 15:00")),
    ("晚上8点", "晚上8点", at("2026-12-01 20:00")),
    ("明天上午10点", "明天上午10点", at("2026-12-02 10:00")),
    ("明天15:00开会", "明天15:00", at("2026-12-02 15:00")),
    ("明天3点", "明天3点", at("2026-12-02 15:00")),  # a bare 1-6 is afternoon
    ("明天9点", "明天9点", at("2026-12-02 09:00")),  # a bare 8-11 is morning
    ("明天7点", "明天7点", at("2026-12-02 07:00 | 2026-12-02 19:00")),  # 7 reads both ways: asked
    ("后天", "后天", at("2026-12-03 09:00")),
    ("大后天下午两点", "大后天下午两点", at("2026-12-04 14:00")),
    ("周五再打", "周五", at("2026-12-04 09:00")),
    ("星期天", "星期天", at("2026-12-06 09:00")),
    ("周二下午3点", "周二下午3点", at("2026-12-01 15:00 | 2026-12-08 15:00")),  # said on a Tuesday
    ("周二", "周二", at("2026-12-08 09:00")),  # today's 09:00 has passed: one reading left
    ("这周四", "这周四", at("2026-12-03 09:00")),
    ("月底", "月底", at("2026-12-31 09:00")),
    ("下个月底", "下个月底", at("2027-01-31 09:00")),
    ("客户说三月底前要20台", "三月底", at("2027-03-31 09:00")),
    ("3月15日", "3月15日", at("2027-03-15 09:00")),
    ("十二月二十号下午两点半", "十二月二十号下午两点半", at("2026-12-20 14:30")),
    ("12月20号 下午2点", "12月20号 下午2点", at("2026-12-20 14:00")),
    ("2027年1月5日", "2027年1月5日", at("2027-01-05 09:00")),
    ("3天后", "3天后", at("2026-12-04 10:00")),
    ("2小时后", "2小时后", at("2026-12-01 12:00")),
    ("今晚", "今晚", at("2026-12-01 19:00")),
    ("下周再联系", "下周", "vague"),
    ("下个月", "下个月", "vague"),
    ("昨天见过", "昨天", "past"),
    ("上午9点", "上午9点", "past"),
    ("这周一", "这周一", "past"),
    ("2025年3月1日", "2025年3月1日", "past"),
    ("有3点要求", None, NONE),  # a bare hour with no day is not a time
    ("要20台", None, NONE),
    ("9999999999天后", None, NONE),  # past the calendar's end
    ("13月40日", None, NONE),
    ("十十天后", None, NONE),  # a numeral cn2an cannot read
    ("明天25点", "明天", at("2026-12-02 09:00")),  # no such hour: the day alone
    # English
    ("call back next Tuesday 3pm", "next Tuesday 3pm", at("2026-12-08 15:00")),
    ("next Friday", "next Friday", at("2026-12-04 09:00 | 2026-12-11 09:00")),  # later this week: asked
    ("next Monday", "next Monday", at("2026-12-07 09:00")),
    ("this Friday 2pm", "this Friday 2pm", at("2026-12-04 14:00")),
    ("on Friday", "on Friday", at("2026-12-04 09:00")),
    ("Tuesday 4pm", "Tuesday 4pm", at("2026-12-01 16:00 | 2026-12-08 16:00")),  # said on a Tuesday
    ("tomorrow 10am", "tomorrow 10am", at("2026-12-02 10:00")),
    ("tomorrow morning", "tomorrow morning", at("2026-12-02 09:00")),
    ("at 3pm", "at 3pm", at("2026-12-01 15:00")),
    ("in 3 days", "in 3 days", at("2026-12-04 10:00")),
    ("in 2 hours", "in 2 hours", at("2026-12-01 12:00")),
    ("Dec 20", "Dec 20", at("2026-12-20 09:00")),
    ("meet on 12/20 at 2:30pm", "on 12/20 at 2:30pm", at("2026-12-20 14:30")),
    ("end of month", "end of month", at("2026-12-31 09:00")),
    ("by the end of March", "the end of March", at("2027-03-31 09:00")),
    ("next week", "next week", "vague"),
    ("next month", "next month", "vague"),
    ("met yesterday", "yesterday", "past"),
    ("at 9am", "at 9am", "past"),
    ("on 2025-03-01", "on 2025-03-01", "past"),
    ("met Sam, may buy", None, NONE),  # a month name alone sets nothing
    ("wants 20 units", None, NONE),
]

# The same moment is Monday 21:00 in New York.
NEW_YORK_TABLE = [
    ("tomorrow 10am", "tomorrow 10am", at("2026-12-01 10:00")),
    ("next Tuesday 3pm", "next Tuesday 3pm", at("2026-12-01 15:00 | 2026-12-08 15:00")),
    ("Monday", "Monday", at("2026-12-07 09:00")),
    ("at 8pm", "at 8pm", "past"),
    ("at 11pm", "at 11pm", at("2026-11-30 23:00")),
    ("end of month", "end of month", "past"),  # today is the month's last day, and its 09:00 has passed
    ("明天上午10点", "明天上午10点", at("2026-12-01 10:00")),
    ("下周二", "下周二", at("2026-12-08 09:00")),
    ("周一", "周一", at("2026-12-07 09:00")),
    ("月底", "月底", "past"),
]


def check(note: str, words: str | None, expected, zone: ZoneInfo) -> None:
    reading = read(note, NOW, zone)
    if expected is NONE:
        assert reading is None, reading
        return
    assert reading is not None and reading.words == words
    if expected in ("vague", "past"):
        assert reading.kind == Kind(expected) and reading.at is None and not reading.candidates
        return
    local = [moment.strftime("%Y-%m-%d %H:%M") for moment in ((reading.at,) if reading.at else reading.candidates)]
    assert tuple(local) == expected
    assert reading.kind == (Kind.AT if len(expected) == 1 else Kind.CHOOSE)
    assert all(moment.tzinfo is not None and moment.utcoffset() == moment.astimezone(zone).utcoffset()
               for moment in (reading.at, *reading.candidates) if moment)


@pytest.mark.parametrize(("note", "words", "expected"), SHANGHAI_TABLE, ids=[row[0] for row in SHANGHAI_TABLE])
def test_shanghai(note, words, expected):
    check(note, words, expected, SHANGHAI)


@pytest.mark.parametrize(("note", "words", "expected"), NEW_YORK_TABLE, ids=[row[0] for row in NEW_YORK_TABLE])
def test_new_york(note, words, expected):
    check(note, words, expected, NEW_YORK)


def test_the_first_expression_of_a_note_wins():
    reading = read("call back Friday, not next week", NOW, SHANGHAI)
    assert reading is not None and reading.words == "Friday"
    reading = read("下周三拜访,月底前签约", NOW, SHANGHAI)
    assert reading is not None and reading.words == "下周三"
