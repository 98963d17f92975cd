"""Reminders in English on the console (SQLite and PostgreSQL): the answers, the list, the picked
reading, and the direct message as its reader sees it."""
from datetime import UTC, datetime

from sqlalchemy import select

from bot.adapters.console import ConsoleAdapter
from bot.bootstrap import build_router
from bot.jobs.reminders import send_reminders
from db.models import OutboxMessage
from tests.conftest import posted, say
from tests.visits.test_visits import Clock

TUESDAY_10 = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai, the demo org's zone


def test_english_notes_set_ask_and_refuse(db, settings, demo_pool):
    clock = Clock(TUESDAY_10)
    console = ConsoleAdapter(build_router(db, settings, clock=clock), "li", clock=clock)
    say(console, "/lang en")
    say(console, "/claim 6")
    out = say(console, "/follow 6 call back next Tuesday 3pm")
    assert "Follow-up recorded on #6" in out
    assert 'Reminder #1 set for Tue 8 Dec 15:00 ("next Tuesday 3pm")' in out
    out = say(console, "/follow 6 send the quote next Friday")
    assert '"next Friday" could mean Fri 4 Dec 09:00 or Fri 11 Dec 09:00' in out
    assert "[Fri 4 Dec 09:00] /remind pick 2 1" in out and "[Fri 11 Dec 09:00] /remind pick 2 2" in out
    assert "Reminder #2 set for Fri 11 Dec 09:00" in say(console, "/remind pick 2 2")
    assert "no such choice" in say(console, "/remind pick 2 1")
    assert "has already passed, so no reminder is set" in say(console, "/follow 6 met them at 9am")
    assert "names no day" in say(console, "/follow 6 call next week")
    listed = say(console, "/remind")
    assert listed.index("#1 Tue 8 Dec 15:00") < listed.index("#2 Fri 11 Dec 09:00")
    assert "[Cancel #1] /remind cancel 1" in listed

    clock.now = datetime(2026, 12, 8, 7, 0, tzinfo=UTC)  # Tuesday 8 December, 15:00 in Shanghai
    assert send_reminders(db, clock.now, settings) == 1
    assert send_reminders(db, clock.now, settings) == 0
    with db.uow() as uow:
        [message] = uow.session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "direct")).all()
    shown = posted(message)
    assert shown.title == "Reminder: Tue 8 Dec 15:00"
    assert "call back next Tuesday 3pm" in shown.text and "Lead #6" in shown.text
