"""The visit report: /visit end with what came of it, the next step and when to be reminded, typed
or from a form; a reminder date that cannot be read or has passed refuses the whole report."""
from datetime import UTC, datetime

from sqlalchemy import select

from bot.adapters.console import ConsoleAdapter
from bot.bootstrap import build_router
from bot.messages import Incoming
from db.models import Reminder, Visit
from tests.conftest import say
from tests.visits.test_visits import add_records

NOW = datetime(2026, 12, 7, 2, 0, tzinfo=UTC)  # a Monday, 10:00 in Shanghai


def li(router) -> ConsoleAdapter:
    add_records(router.db)
    return ConsoleAdapter(build_router(router.db, router.settings, clock=lambda: NOW), "li", clock=lambda: NOW)


def last_visit(db) -> Visit:
    with db.uow() as uow:
        return uow.session.scalars(select(Visit).order_by(Visit.id.desc()).limit(1)).one()


def test_a_typed_report_records_outcome_next_step_and_a_reminder(router, demo_org):
    console = li(router)
    say(console, "/visit c1")
    out = say(console, "/visit end met the buyer, he's keen --outcome interested --next-step send the quote "
                       "--remind Tuesday 3pm")
    assert "有意向" in out and "send the quote" in out and "提醒" in out, out
    visit = last_visit(router.db)
    assert (visit.end_note, visit.outcome, visit.next_step) == ("met the buyer, he's keen", "interested",
                                                                  "send the quote")
    with router.db.uow() as uow:
        reminder = uow.session.scalars(select(Reminder).where(Reminder.visit_id == visit.id)).one()
        assert reminder.note == "send the quote"
        assert reminder.due_at.astimezone(UTC) == datetime(2026, 12, 8, 7, 0, tzinfo=UTC)  # 15:00 Shanghai


def test_a_form_report_takes_iso_dates_and_refuses_a_past_one_writing_nothing(router, demo_org):
    console = li(router)
    say(console, "/visit c1")
    router = console.router

    def submit(**form) -> str:
        incoming = Incoming(platform="console", workspace="local", chat_id="@li", user_id="li", command="visit",
                            form={"target": "end", **form})
        return "\n".join(f"{r.title} {r.fields} {r.text}" for r in router.handle(incoming))

    refused = submit(note="O'Neil wasn't there", outcome="not_met", remind="2026-12-01 10:00")
    assert "已经过去" in refused
    assert last_visit(router.db).status != "closed"  # nothing written: the visit is still open
    assert "未见到联系人" in submit(note="O'Neil wasn't there", outcome="not_met", remind="2026-12-09 10:00")
    visit = last_visit(router.db)
    assert (visit.status, visit.end_note) == ("closed", "O'Neil wasn't there")
    with router.db.uow() as uow:
        reminder = uow.session.scalars(select(Reminder).where(Reminder.visit_id == visit.id)).one()
        assert reminder.due_at.astimezone(UTC) == datetime(2026, 12, 9, 2, 0, tzinfo=UTC)


def test_report_fields_without_end_or_a_bad_outcome_get_the_usage(router, demo_org):
    console = li(router)
    assert "--outcome" in say(console, "/visit c1 --outcome interested")
    say(console, "/visit c1")
    assert "great" in say(console, "/visit end --outcome great")
    assert last_visit(router.db).status != "closed"
