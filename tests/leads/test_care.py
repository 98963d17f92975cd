"""Customer care's calendar: when a birthday is kept and which holiday a customer's language greets."""
from datetime import date

import pytest

from bot.services.leads.care import holiday_on, next_birthday


def test_a_birthday_comes_this_year_or_next_and_02_29_is_kept_on_02_28_in_other_years():
    assert next_birthday(12, 5, date(2026, 12, 2)) == date(2026, 12, 5)
    assert next_birthday(1, 1, date(2026, 12, 2)) == date(2027, 1, 1)
    assert next_birthday(12, 2, date(2026, 12, 2)) == date(2026, 12, 2)
    assert next_birthday(2, 29, date(2027, 1, 10)) == date(2027, 2, 28)
    assert next_birthday(2, 29, date(2028, 1, 10)) == date(2028, 2, 29)


@pytest.mark.parametrize(("language", "day", "greeting"), [
    ("zh", date(2027, 2, 6), "spring_festival"),  # its first day
    ("zh", date(2027, 2, 5), None),  # New Year's Eve: no greeting of its own
    ("zh", date(2027, 2, 7), None),  # the festival's second day
    ("zh", date(2027, 9, 15), "mid_autumn"),
    ("zh", date(2027, 10, 1), "national_day"),
    ("zh", date(2027, 4, 5), None),  # Tomb-Sweeping Day is not greeted
    ("zh", date(2027, 12, 25), None),
    ("en", date(2027, 12, 25), "christmas"),
    ("en", date(2027, 1, 1), "new_year"),
    ("en", date(2027, 7, 4), None),  # a US holiday, not an international one
    ("en", date(2027, 2, 6), None),
])
def test_each_language_greets_its_own_holidays_on_their_first_day(language, day, greeting):
    assert holiday_on(language, day) == greeting
