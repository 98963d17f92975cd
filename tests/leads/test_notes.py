"""Free-text notes take whatever is typed: apostrophes, stray quotes, full-width quotes, emoji."""
import pytest
from sqlalchemy import select

from db.models.lead import LeadFollowup
from tests.conftest import say


def notes(db, lead_id: int) -> list[str]:
    with db.uow() as uow:
        return list(uow.session.scalars(
            select(LeadFollowup.note).where(LeadFollowup.lead_id == lead_id).order_by(LeadFollowup.id)))


@pytest.mark.parametrize("note", [
    "customer's budget is approved",
    "customer’s budget is approved",
    'he said "maybe next week',
    "客户说“预算已经批了”,下周签 👍",
    "call back -- or --not, she’ll decide 😀",
])
def test_a_follow_up_note_is_stored_and_shown_as_typed(console, demo_pool, note):
    say(console, "/as li")
    say(console, "/lang en")
    say(console, "/claim 6")
    out = say(console, f"/follow 6 {note}")
    assert "Follow-up recorded on #6" in out and "quote" not in out
    assert notes(demo_pool, 6) == [note.strip()]
    assert note.strip() in say(console, "/lead 6")


def test_quotes_still_group_a_multi_word_company_before_a_note(console, demo_pool):
    say(console, "/as li")
    say(console, "/lang en")
    assert "A quote is not closed" in say(console, '/newlead "Acme Steel')
    out = say(console, "/newlead “Acme Steel Works” Bob")
    assert "Acme Steel Works" in out and "is yours" in out


def test_a_quoted_whole_note_loses_only_its_outer_quotes(console, demo_pool):
    say(console, "/as li")
    say(console, "/claim 6")
    say(console, '/follow 6 "call back on Friday"')
    say(console, "/follow 6 “周五回电”")
    assert notes(demo_pool, 6) == ["call back on Friday", "周五回电"]


def test_a_reason_ends_where_the_commands_own_flag_begins(console, demo_pool):
    from db.models import LeadEvent

    say(console, "/as li")
    say(console, "/lang en")
    say(console, "/claim 6")
    out = say(console, "/release 6 they're \"not buying\" this year --pool \"demo pool\"")
    assert 'is back in the pool "demo pool"' in out
    with demo_pool.uow() as uow:
        reason = uow.session.scalars(select(LeadEvent.reason).where(LeadEvent.lead_id == 6)
                                     .order_by(LeadEvent.id.desc())).first()
    assert reason == "they're \"not buying\" this year"
