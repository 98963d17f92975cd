"""Visits through the console: each rule with a genuine case and a spoof, bad input, concurrency."""
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from bot.adapters.console import ConsoleAdapter
from bot.bootstrap import build_router
from bot.messages import Incoming, Location
from db.models import Customer, Lead, User, Visit
from db.models.visit import VisitSettings
from tests.conftest import say

# Shared with the other visit test modules: a clock the test moves, customers and a lead.
WEST_LAKE = (30.2431, 120.1507)
# Where a phone at West Lake Tea reports itself: some metres off its saved place, six decimals.
NEAR_WEST_LAKE = (30.243168, 120.150746)
PEOPLES_SQUARE = (31.2304, 121.4737)
# 10:00 in Shanghai on a Wednesday.
START = datetime(2026, 5, 6, 2, 0, tzinfo=UTC)


@dataclass
class Clock:
    now: datetime = START

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def user_id(db, handle: str) -> int:
    with db.uow() as uow:
        return uow.session.scalar(select(User.id).where(User.handle == handle))


def add_records(db) -> dict[str, int]:
    """c1 West Lake Tea (li, known place), c2 Shanghai Foods (li, no place), c3 Sam's Diner (sam), l1 lead (li)."""
    li, sam = user_id(db, "li"), user_id(db, "sam")
    with db.uow() as uow:
        tea = Customer(name="West Lake Tea", name_key="westlaketea", owner_id=li,
                       latitude=WEST_LAKE[0], longitude=WEST_LAKE[1], location_source="import",
                       location_trust="trusted")
        foods = Customer(name="Shanghai Foods", name_key="shanghaifoods", owner_id=li)
        diner = Customer(name="Sam's Diner", name_key="samsdiner", owner_id=sam)
        uow.session.add_all([tea, foods, diner])
        lead = Lead(company="Bund Bakery", name_key="bundbakery", owner_id=li, status="pending")
        uow.session.add(lead)
        uow.commit()
        return {"tea": tea.id, "foods": foods.id, "diner": diner.id, "lead": lead.id}


def clocked_console(db, settings, clock: Clock, user: str = "li") -> ConsoleAdapter:
    return ConsoleAdapter(build_router(db, settings, clock=clock), user, clock=clock)


def visits_of(db, handle: str) -> list[Visit]:
    uid = user_id(db, handle)
    with db.uow() as uow:
        return list(uow.session.scalars(select(Visit).where(Visit.user_id == uid).order_by(Visit.id)))


def reason_codes(visit: Visit) -> list[str]:
    return [r["code"] for r in visit.reasons]



@pytest.fixture
def li(db, settings, records, clock):
    console = clocked_console(db, settings, clock)
    say(console, "/lang en")
    return console


def test_genuine_visit_is_verified_pinned_and_closed_with_duration(li, db, clock):
    out = say(li, "/visit tea first call")
    assert "Visit started: West Lake Tea" in out and "/location LAT LON" in out
    clock.advance(minutes=1)
    out = say(li, "/location 30.2433 120.1509 25")
    assert "Verdict: verified" in out and "Distance: 29 m" in out
    clock.advance(minutes=44)
    assert "Duration: 45 min" in say(li, "/visit end signed the sample order")
    [visit] = visits_of(db, "li")
    assert (visit.verdict, visit.counts, visit.source, visit.status) == ("verified", True, "typed", "closed")
    assert visit.taken_at == clock.now - timedelta(minutes=44) and visit.end_note == "signed the sample order"
    assert visit.note == "first call" and round(visit.distance_m) == 29


def test_a_visit_note_with_an_apostrophe_is_kept_as_typed(li, db):
    out = say(li, "/visit c1 at the customer's office, “new” building")
    assert "Visit started: West Lake Tea" in out and "quote" not in out
    assert "Duration" in say(li, "/visit end the buyer’s boss joined")
    [visit] = visits_of(db, "li")
    assert (visit.note, visit.end_note) == ("at the customer's office, “new” building", "the buyer’s boss joined")


def test_chinese_user_gets_chinese_replies(db, settings, records, clock):
    console = clocked_console(db, settings, clock)
    assert "开始拜访" in say(console, "/visit c1")
    assert "已核验" in say(console, "/location 30.2431 120.1508 10")
    say(console, "/visit end")
    say(console, "/visit c1")
    assert "精度 2,000 米,超过上限 200 米" in say(console, "/location 30.2431 120.1508 2000")


@pytest.mark.parametrize(
    ("location", "reason", "text"),
    [
        ("30.2432 120.1508 2000", "low_accuracy", "accuracy 2,000 m is worse than 200 m"),
        ("30.2432 120.1508", "no_accuracy", "no accuracy given"),
        ("30.2700 120.1508 10", "outside_geofence", "m from the customer's saved location (limit 500 m)"),
    ],
)
def test_spoofs_are_flagged_with_the_reason(li, db, location, reason, text):
    say(li, "/visit c1")
    out = say(li, f"/location {location}")
    assert "Verdict: flagged" in out and text in out and "manager will review" in out
    [visit] = visits_of(db, "li")
    assert visit.verdict == "flagged" and not visit.counts and reason in reason_codes(visit)


def test_impossible_travel_from_the_previous_visit(li, db, clock):
    say(li, "/visit c1")
    say(li, "/location 30.2431 120.1508 10")
    say(li, "/visit end")
    clock.advance(minutes=20)
    say(li, "/visit c2")
    out = say(li, f"/location {PEOPLES_SQUARE[0]} {PEOPLES_SQUARE[1]} 10")
    assert "impossible travel: 167.4 km in 20 min" in out
    say(li, "/visit end")
    clock.advance(hours=3)  # a genuine drive back: 167 km in 3 h
    say(li, "/visit c1")
    assert "Verdict: verified" in say(li, "/location 30.2432 120.1507 12")
    assert [v.verdict for v in visits_of(db, "li")] == ["verified", "flagged", "verified"]


def test_the_reps_own_position_again_at_another_visit_is_a_replay_a_colleagues_is_not(li, db, clock, settings):
    say(li, "/visit c1")
    say(li, "/location 30.243112 120.150713 10")
    say(li, "/visit end")
    clock.advance(hours=1)
    say(li, "/visit c1")
    out = say(li, "/location 30.243112 120.150713 12")
    assert "Verdict: flagged" in out and "of your position at another visit 1.0 h before: a replay?" in out
    say(li, "/visit end")
    clock.advance(days=3)
    say(li, "/visit c1")
    assert "of a position you sent 3 days before: a replay?" in say(li, "/location 30.243113 120.150712 14")
    assert [v.verdict for v in visits_of(db, "li")] == ["verified", "flagged", "flagged"]
    zhang = clocked_console(db, settings, clock, "zhang")  # at the very same point: not his own history
    say(zhang, "/checkin")
    assert "replay" not in say(zhang, "/location 30.243112 120.150713 10")


def test_first_verified_visit_gives_a_tentative_place_and_a_flagged_one_does_not(li, db):
    say(li, "/visit foods")
    say(li, "/location 31.2304 121.4737")  # no accuracy: flagged
    say(li, "/visit end")
    with db.uow() as uow:
        assert uow.session.scalar(select(Customer.latitude).where(Customer.name == "Shanghai Foods")) is None
    say(li, "/visit foods")
    out = say(li, "/location 31.2305 121.4738 12")
    assert "Verdict: place not yet confirmed" in out and "kept for Shanghai Foods as a place not yet confirmed" in out
    with db.uow() as uow:
        foods = uow.session.scalar(select(Customer).where(Customer.name == "Shanghai Foods"))
    assert (foods.latitude, foods.longitude, foods.location_source, foods.location_trust) == (
        31.2305, 121.4738, "visit", "tentative")
    assert (visits_of(db, "li")[-1].verdict, visits_of(db, "li")[-1].counts) == ("unconfirmed", False)


def test_no_location_visit_stays_unverified_until_a_location_comes_in_the_window(li, db, clock):
    out = say(li, "/visit c1 --no-location basement, no signal")
    assert "without location" in out and "basement, no signal" in out and "2026-05-07 10:00" in out
    out = say(li, "/visit end")
    assert "still waits for its location" in out and "until 2026-05-07 10:00" in out and "does not count" not in out
    [visit] = visits_of(db, "li")
    assert (visit.verdict, visit.counts, visit.source) == ("unverified", False, "none")
    clock.advance(hours=2)  # a position taken now, long after the visit ended: it says nothing of the visit
    out = say(li, "/location 30.2432 120.1508 15")
    assert "Verdict: flagged" in out and "position taken 2.0 h after the visit's time was over" in out
    [visit] = visits_of(db, "li")
    assert not visit.counts and visit.taken_at == clock.now


def test_a_no_signal_visit_verified_by_a_position_taken_during_it(li, db, clock):
    say(li, "/visit c1 --no-location basement, no signal")
    clock.advance(minutes=50)  # still at the customer, out of the basement: the position is the visit's
    out = say(li, "/location 30.2432 120.1508 15")
    assert "Verdict: verified" in out and "attached 0.8 h after the visit started" in out
    out = say(li, "/visit end")
    assert "Verdict: verified" in out
    [visit] = visits_of(db, "li")
    assert visit.counts


def test_no_location_window_closes(li, db, clock):
    say(li, "/visit c1 --no-location tunnel")
    say(li, "/visit end")
    clock.advance(hours=25)
    assert "nothing is waiting for a location" in say(li, "/location 30.2432 120.1508 15")
    assert visits_of(db, "li")[0].verdict == "unverified"


def test_window_and_thresholds_come_from_the_unit_settings(li, db, clock):
    with db.uow() as uow:
        from db.models import OrgUnit

        east = uow.session.scalar(select(OrgUnit.id).where(OrgUnit.name == "East Team"))
        uow.session.add(VisitSettings(unit_id=east, accuracy_max_m=2500, geofence_m=500, max_speed_kmh=150,
                                      no_location_hours=2, work_start_min=540, work_end_min=1080,
                                      late_threshold_min=15))
        uow.commit()
    say(li, "/visit c1")
    assert "Verdict: verified" in say(li, "/location 30.2432 120.1508 2000")
    say(li, "/visit end")
    assert "2026-05-06 12:00" in say(li, "/visit c1 --no-location tunnel")


def test_a_location_sent_late_keeps_the_time_it_was_taken(db, settings, records, clock):
    router = build_router(db, settings, clock=clock)
    li = clocked_console(db, settings, clock)
    say(li, "/lang en")
    say(li, "/visit c1")
    taken = clock.now + timedelta(minutes=1)
    clock.advance(minutes=40)
    [reply] = router.handle(Incoming(
        platform="console", workspace="local", chat_id="@li", user_id="li", sent_at=taken,
        location=Location(30.243213, 120.150817, 10, "static", taken_at=taken),
    ))
    assert "sent 39 min after it was taken" in reply.fields[-1][1]
    [visit] = visits_of(db, "li")
    assert visit.taken_at == taken and visit.arrived_at == clock.now and visit.verdict == "verified"


def test_lead_targets_and_ids(li, db, records):
    assert f"(l{records['lead']})" in say(li, f"/visit l{records['lead']}")
    say(li, "/visit end")
    assert "West Lake Tea" in say(li, f"/visit #{records['tea']}")
    say(li, "/visit end")
    assert [v.lead_id for v in visits_of(db, "li")] == [records["lead"], None]


@pytest.mark.parametrize(
    ("line", "text"),
    [
        ("/visit nosuchplace", 'No customer or lead you can see matches "nosuchplace"'),
        ("/visit diner", "No customer or lead you can see"),  # Sam's customer, outside Li's scope
        ("/visit c999", "No customer or lead you can see"),
        ("/visit a", "matches several records"),
        ("/visit", "Usage: /visit CUSTOMER|end"),
        ("/visit end", "no open visit"),
        ("/visit c1 --no-location", "needs a value"),
        ("/location 30 120", "nothing is waiting for a location"),
        ("/visits someday", "Usage: /visits"),
    ],
)
def test_bad_input_is_explained_and_writes_nothing(li, db, line, text):
    assert text in say(li, line)
    assert visits_of(db, "li") == []


def test_two_open_visits_and_bad_coordinates_are_refused(li, db):
    say(li, "/visit c1")
    assert "Visit #1 at West Lake Tea is still open" in say(li, "/visit c2").replace("#1", "#1")
    for coordinates in ("0 0", "95 120", "30 200"):
        assert "not a usable position" in say(li, f"/location {coordinates} 10")
    [visit] = visits_of(db, "li")
    assert visit.status == "waiting" and visit.latitude is None


def test_location_in_a_group_chat_is_refused(li, db, settings, clock):
    say(li, "/visit c1")
    router = build_router(db, settings, clock=clock)
    [reply] = router.handle(Incoming(
        platform="console", workspace="local", chat_id="#sales", user_id="li", is_private=False,
        location=Location(30.2432, 120.1508, 10, "static", taken_at=clock.now),
    ))
    assert "private chat" in reply.text
    assert visits_of(db, "li")[0].latitude is None


def test_visits_listing_for_self_rep_and_unit(li, db, settings, clock):
    say(li, "/visit c1")
    say(li, "/location 30.2432 120.1508 10")
    out = say(li, "/visits")
    assert "1 record, 1 counted" in out and "West Lake Tea - verified" in out
    assert say(li, "/visits --rep sam") == "There is no user @sam."
    mei = clocked_console(db, settings, clock, "mei")
    say(mei, "/lang en")
    assert "of 李雷 Li Lei" in say(mei, "/visits --rep li")
    assert "West Lake Tea" in say(mei, "/visits week --unit East Team")
    assert "no unit" in say(mei, "/visits --unit Nowhere")
    assert "Nothing recorded" in say(mei, "/visits 2026-05-01 --rep li")


def test_setloc_sets_a_customer_location_for_its_owner_only(li, db, settings, clock):
    assert "Set the location of Shanghai Foods" in say(li, "/setloc c2")
    assert "Customer location saved" in say(li, "/location 31.2301 121.4701 8")
    with db.uow() as uow:
        foods = uow.session.scalar(select(Customer).where(Customer.name == "Shanghai Foods"))
    assert foods.location_source == "owner" and foods.latitude == 31.2301
    assert "No customer or lead you can see" in say(li, "/setloc diner")


def test_two_visit_commands_at_the_same_moment_open_one_visit(pg_db, clock):
    from bot.config import load_settings
    from bot.services.core import demo

    with pg_db.uow() as uow:
        demo.load_demo(uow, clock.now)
        uow.commit()
    add_records(pg_db)
    settings = load_settings(env_file=None, DATABASE_URL=pg_db.url, SECRET_KEY="k")
    router = build_router(pg_db, settings, clock=clock)
    barrier = threading.Barrier(4)
    answers = []

    def tap(target: str) -> None:
        barrier.wait()
        answers.extend(r.text for r in router.handle(Incoming(
            platform="console", workspace="local", chat_id="@li", user_id="li", command="visit", args=target)))

    threads = [threading.Thread(target=tap, args=(t,)) for t in ("c1", "c2", "c1", "c2")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with pg_db.uow() as uow:
        opened = uow.session.scalar(select(func.count()).select_from(Visit).where(Visit.user_id == user_id(pg_db, "li")))
    assert opened == 1
    assert sum("尚未结束" in a for a in answers) == 3
