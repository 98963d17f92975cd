"""The rep's own history a position is judged against, read by the location step's one statement
(shared_location.lookup, evidence.History): his last accuracies and his earlier positions, on SQLite
and on PostgreSQL alike. And live-location updates, which never set a customer's place."""
import time
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.services.visits import shared_location
from bot.services.visits.location_checks import Fix
from db.models import Customer, OrgUnit, VisitSettings
from tests.conftest import say
from tests.fakes.telegram_api import location_update, text_update
from tests.visits.test_visits import clocked_console, reason_codes, visits_of
from tests.visits.test_visits_telegram import live_edit, texts, tg  # noqa: F401 (tg: a fixture)

TEA = (30.243112, 120.150713)  # some metres off West Lake Tea's saved place
# An accuracy as a browser reports it: 17 significant digits, all of which must survive the read.
ODD_ACCURACY = "13.798000335693359"


@pytest.fixture
def li(db, settings, records, clock):
    console = clocked_console(db, settings, clock)
    say(console, "/lang en")
    return console


def visit(li, clock, where: tuple[float, float], accuracy: str = "", **later: float) -> str:
    clock.advance(**(later or {"minutes": 10}))
    say(li, "/visit c1")
    out = say(li, f"/location {where[0]:.6f} {where[1]:.6f} {accuracy}".rstrip())
    say(li, "/visit end")
    return out


def step(n: int) -> tuple[float, float]:
    """n x 11 m north of TEA: never a replay of each other, all within the geofence."""
    return TEA[0] + n * 0.0001, TEA[1]


def test_the_same_accuracy_is_compared_newest_first_and_a_missing_one_breaks_the_run(li, db, clock):
    visit(li, clock, step(0))  # no accuracy: the oldest of the history
    for n in range(1, 5):
        visit(li, clock, step(n), ODD_ACCURACY)
    # This one and the four before it report the very same value (the missing one is older).
    assert "accuracy_repeated" in reason_codes(_last(db, li, clock, 5))
    visit(li, clock, step(6))  # no accuracy
    visit(li, clock, step(7), ODD_ACCURACY)
    # Five of the last six report it, but the run is broken by the one that reported none.
    assert "accuracy_repeated" not in reason_codes(_last(db, li, clock, 8))


def _last(db, li, clock, n: int):
    visit(li, clock, step(n), ODD_ACCURACY)
    return visits_of(db, "li")[-1]


def _replay_days(db, days: int) -> None:
    with db.uow() as uow:
        east = uow.session.scalar(select(OrgUnit.id).where(OrgUnit.name == "East Team"))
        uow.session.add(VisitSettings(unit_id=east, accuracy_max_m=200, geofence_m=500, max_speed_kmh=150,
                                      no_location_hours=24, work_start_min=540, work_end_min=1080,
                                      late_threshold_min=15, replay_days=days))
        uow.commit()


def test_an_earlier_position_counts_within_the_units_replay_days_only(li, db, clock):
    _replay_days(db, 200)  # wider than the default 90: the statement reads the unit's own window
    visit(li, clock, TEA, "10")
    visit(li, clock, step(3), "10", days=10)
    assert "of a position you sent 160 days before: a replay?" in visit(li, clock, TEA, "12", days=150)
    out = visit(li, clock, step(3), "12", days=51)  # 201 days after the one there: too old to compare
    assert "Verdict: verified" in out and "replay" not in out


def test_an_earlier_position_older_than_the_default_window_does_not_count(li, db, clock):
    visit(li, clock, TEA, "10")
    assert "replay" not in visit(li, clock, TEA, "12", days=91)


def test_a_visits_own_position_is_never_a_replay_of_itself(li, db, clock):
    visit(li, clock, TEA, "10")
    [pinned] = visits_of(db, "li")
    again = Fix(*TEA, 12.0, "typed", clock.now + timedelta(hours=1), clock.now + timedelta(hours=1))
    with db.uow() as uow:
        around = shared_location.lookup(uow, pinned.user_id, again, again.arrived_at)
    # /setloc compares with every earlier position; a visit with every position but its own.
    assert [(f.latitude, f.longitude, f.accuracy_m) for f in around.history.earlier_fixes()] == [(*TEA, 10.0)]
    assert shared_location.gather(pinned, again, None, around).earlier_fixes == ()


def foods(db) -> Customer:
    with db.uow() as uow:
        return uow.session.scalar(select(Customer).where(Customer.name == "Shanghai Foods"))


def test_a_live_update_never_answers_setloc_a_shared_position_does(tg, db):  # noqa: F811
    """A live location shared before /setloc keeps updating on its own: its next update is not the
    owner showing where the customer is, so it must not make the place trusted."""
    start = int(time.time()) - 120
    assert "没有需要定位的操作" in texts(tg(location_update(31.230417, 121.473702, accuracy=8, live_period=900,
                                                      message_id=60, date=start)))
    tg(text_update("/setloc c2"))
    assert tg(live_edit(31.230517, 121.473702, message_id=60, date=start, edit_date=start + 30)) == []
    assert foods(db).latitude is None
    assert "已保存客户位置" in texts(tg(location_update(31.230417, 121.473712, accuracy=9)))
    assert (foods(db).latitude, foods(db).location_trust) == (31.230417, "trusted")


def test_a_live_trails_updates_never_move_or_confirm_a_place(tg, db):  # noqa: F811
    tg(text_update("/visit c2"))
    start = int(time.time()) - 150
    out = texts(tg(location_update(31.230417, 121.473702, accuracy=12, live_period=900, message_id=61, date=start)))
    assert "已将此位置暂存为 Shanghai Foods 的待确认地点" in out
    for n in range(1, 5):
        tg(live_edit(31.230417 + n * 0.0002, 121.473702, message_id=61, date=start, edit_date=start + n * 30))
    assert (foods(db).latitude, foods(db).location_trust) == (31.230417, "tentative")
    [held] = visits_of(db, "li")
    assert (held.verdict, held.counts) == ("unconfirmed", False)
