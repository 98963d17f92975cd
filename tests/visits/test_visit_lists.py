"""/visits pages a long period 50 visits at a time, and its totals count the whole period, not the page."""
from datetime import timedelta

from db.models import Visit
from tests.conftest import say
from tests.visits.test_visits import START, Clock, add_records, clocked_console, user_id


def test_a_busy_week_pages_and_the_next_button_keeps_the_filters(db, settings, demo_org):
    records = add_records(db)
    li = user_id(db, "li")
    with db.uow() as uow:
        uow.session.add_all(Visit(user_id=li, customer_id=records["tea"], status="closed", verdict="verified",
                                  counts=i % 2 == 0, started_at=START - timedelta(minutes=10 * (i + 1)),
                                  ended_at=START - timedelta(minutes=10 * i)) for i in range(53))
        uow.commit()
    mei = clocked_console(db, settings, Clock())
    mei.user = "mei"
    say(mei, "/lang en")
    first = mei.router.handle(mei.to_incoming("/visits today --unit East Team"))[0]
    assert "53 records, 27 counted." in first.text and "Showing 1–50 of 53 · page 1." in first.text
    assert first.text.count("@ West Lake Tea") == 50
    [following] = first.buttons
    assert following.label == "Next »" and following.payload == 'visits today --unit "East Team" --page 2'
    second = mei.router.handle(mei.to_incoming("/" + following.payload))[0]
    assert second.text.count("@ West Lake Tea") == 3 and "Showing 51–53 of 53 · page 2." in second.text
    assert "53 records, 27 counted." in second.text
    assert [b.payload for b in second.buttons] == ['visits today --unit "East Team" --page 1']


def test_the_review_queue_pages_ten_at_a_time_oldest_first(db, settings, demo_org):
    records = add_records(db)
    li = user_id(db, "li")
    with db.uow() as uow:
        uow.session.add_all(Visit(user_id=li, customer_id=records["tea"], status="closed", verdict="flagged",
                                  started_at=START - timedelta(minutes=10 * (12 - i)),
                                  ended_at=START - timedelta(minutes=10 * (12 - i) - 5)) for i in range(12))
        uow.commit()
    mei = clocked_console(db, settings, Clock())
    mei.user = "mei"
    say(mei, "/lang en")
    first = mei.router.handle(mei.to_incoming("/review"))
    assert "Oldest first: showing 1–10 of 12 · page 1." in first[0].text and len(first) == 11
    [following] = [b for b in first[-1].buttons if b.payload.startswith("review --page")]
    assert following.label == "Next »" and following.payload == "review --page 2"
    second = mei.router.handle(mei.to_incoming("/" + following.payload))
    assert "showing 11–12 of 12 · page 2." in second[0].text and len(second) == 3
    assert [b.label for b in second[-1].buttons][-1] == "« Previous"
    assert [r.buttons[0].payload for r in second[1:]] == ["review approve 11", "review approve 12"]
