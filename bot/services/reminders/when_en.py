"""English date expressions, read by dateparser's search_dates (future dates preferred, relative to
the writer's local now). Three things are decided here, not by dateparser: weekdays (it reads
"Tuesday" said on a Tuesday as a week on and "next Friday" said on a Tuesday as this Friday; both
are asked, bot.services.reminders.when), "end of the month" / "end of March" (which it does not
read), and whether a time was said at all (it fills one in). A month name alone ("may", "in May")
sets nothing: it is too often a word or too vague to remind at.
"""
import re
from datetime import datetime, time

from dateparser.search import search_dates

from bot.services.reminders.said import Said, coming_month_end, month_end, weekday_days

_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august", "september",
           "october", "november", "december")
_WEEKDAY = re.compile(r"\b(?:(this|next|coming)\s+)?(" + "|".join(_WEEKDAYS) + r")\b", re.I)
_END = re.compile(r"\b(?:the\s+)?end\s+of\s+(?:the\s+)?(month|" + "|".join(_MONTHS) + r")\b|\bmonth[\s-]end\b", re.I)
_HAS_TIME = re.compile(r"\d\s*(?:am|pm|a\.m\.|p\.m\.)|\d:\d\d|\b(?:noon|midnight|morning|afternoon|evening|tonight)\b",
                       re.I)
_SPAN = re.compile(r"^\s*in\s+\S+\s+(?:minute|hour|day|week)s?\s*$", re.I)
_VAGUE = re.compile(r"^\s*(?:this|next|coming)\s+(?:week|month)\s*$", re.I)
_LETTERS = re.compile(r"[a-z]", re.I)


def find(note: str, now: datetime) -> Said | None:
    if not _LETTERS.search(note):
        return None
    naive = now.replace(tzinfo=None)
    ending = _END.search(note)
    found = search_dates(note, languages=["en"], settings={
        "PREFER_DATES_FROM": "future", "RELATIVE_BASE": naive, "RETURN_AS_TIMEZONE_AWARE": False})
    for words, value in found or ():
        start = note.find(words)
        if ending is not None and ending.start() <= start:
            break
        said = _said(words, start, value, now)
        if said is not None:
            return said
    return _end_of(ending, now) if ending else None


def _said(words: str, start: int, value: datetime, now: datetime) -> Said | None:
    if _VAGUE.match(words):
        return Said(words.strip(), start, vague=True)
    if _SPAN.match(words):
        return Said(words.strip(), start, exact=value.replace(tzinfo=now.tzinfo))
    clocks = (time(value.hour, value.minute),) if _HAS_TIME.search(words) else ()
    weekday = _WEEKDAY.search(words)
    if weekday is not None:
        which = (weekday.group(1) or "").lower()
        index = _WEEKDAYS.index(weekday.group(2).lower())
        return Said(words.strip(), start, _weekday(index, which, now), clocks)
    if not re.search(r"\d|today|tomorrow|tonight|yesterday", words, re.I):
        return None  # a month or a year alone
    day = now.date() if clocks and not _names_a_day(words) else value.date()
    return Said(words.strip(), start, (day,), clocks)


def _weekday(index: int, which: str, now: datetime) -> tuple:
    today = now.date()
    if which == "this":
        return weekday_days(index, today, 0)
    if which == "next" and index > today.weekday():
        return weekday_days(index, today, 0) + weekday_days(index, today, 1)
    if which in ("next", "coming"):
        return weekday_days(index, today, 1 if index <= today.weekday() else 0)
    return weekday_days(index, today, None)


def _names_a_day(words: str) -> bool:
    """Whether the words name a day, not only a time ("at 3pm": dateparser moves it to tomorrow)."""
    return bool(re.search(r"today|tomorrow|tonight|yesterday|\d+\s*[/.-]\s*\d+|\b\d{1,2}(?:st|nd|rd|th)?\b(?!\s*(?:am|pm|:))"
                          r"|" + "|".join(m[:3] for m in _MONTHS), words, re.I))


def _end_of(match: re.Match, now: datetime) -> Said:
    today = now.date()
    month = (match.group(1) or "month").lower()
    day = month_end(today.year, today.month) if month == "month" else coming_month_end(_MONTHS.index(month) + 1, today)
    return Said(match.group(0), match.start(), (day,))
