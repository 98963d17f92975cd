"""The day and time a /plan add names, read on the rep's clock (Monday 7 December 2026, 09:00 in Shanghai)."""
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from bot.errors import UserError
from bot.services.plans.schedule import read_day

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 12, 7, 9, 0, tzinfo=SHANGHAI)


@pytest.mark.parametrize(("words", "day", "clock"), [
    ("", date(2026, 12, 7), None),
    ("tomorrow 10:00", date(2026, 12, 8), time(10, 0)),
    ("明天上午10点", date(2026, 12, 8), time(10, 0)),
    ("明天 14:30", date(2026, 12, 8), time(14, 30)),
    ("周三下午3点", date(2026, 12, 9), time(15, 0)),
    ("friday 3pm", date(2026, 12, 11), time(15, 0)),
    ("2026-12-09", date(2026, 12, 9), None),
    ("2026-12-09 2:30pm", date(2026, 12, 9), time(14, 30)),
    ("15:00", date(2026, 12, 7), time(15, 0)),
    ("明天7点", date(2026, 12, 8), time(7, 0)),
])
def test_days_and_times(words, day, clock):
    assert read_day(words, NOW, SHANGHAI) == (day, clock)


@pytest.mark.parametrize(("words", "refusal"), [
    ("yesterday", "plans/past_date"), ("昨天", "plans/past_date"), ("2026-12-01", "plans/past_date"),
    ("08:00", "plans/past_date"), ("next week", "plans/vague_date"), ("下周", "plans/vague_date"),
    ("someday", "plans/bad_date"), ("2026-02-30", "plans/bad_date"),
])
def test_refusals(words, refusal):
    with pytest.raises(UserError) as refused:
        read_day(words, NOW, SHANGHAI)
    assert refused.value.template == refusal
