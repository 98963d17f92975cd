"""Trusted places through the console: a spoofed first visit no longer poisons a customer's place,
agreeing visits confirm a place, imported coordinates are trusted at once, a manager re-anchors a
place with the evidence (not found out of his scope), and /setloc with a flagged position stays
tentative."""
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from bot.jobs.visits import manager_digests
from bot.services.core import org
from bot.services.leads import imports
from db.base import utcnow
from db.models import Customer, Lead, OrgUnit, OutboxMessage, User
from tests.conftest import posted, say
from tests.visits.test_visits import clocked_console, reason_codes, visits_of

FOODS = (31.2304, 121.4737)
SPOOF = (31.3000, 121.5000)  # about 8 km from Shanghai Foods
NEW_TEA = (30.2600, 120.1507)  # about 1.9 km north of West Lake Tea's imported place


def console_for(db, settings, clock, handle: str):
    console = clocked_console(db, settings, clock, handle)
    say(console, "/lang en")
    return console


@pytest.fixture
def li(db, settings, records, clock):
    return console_for(db, settings, clock, "li")


def visit_at(console, target: str, where: tuple[float, float], accuracy: int | str = 10) -> str:
    say(console, f"/visit {target}")
    out = say(console, f"/location {where[0]:.6f} {where[1]:.6f} {accuracy}".rstrip())
    say(console, "/visit end")
    return out


def customer(db, name: str) -> Customer:
    with db.uow() as uow:
        return uow.session.scalar(select(Customer).where(Customer.name == name))


def test_a_spoofed_first_visit_does_not_poison_the_place(li, db, clock):
    out = visit_at(li, "foods", SPOOF)
    assert "Verdict: place not yet confirmed" in out and "as a place not yet confirmed" in out
    assert "Location: not yet confirmed" in say(li, "/customer 2")
    clock.advance(days=1)
    out = visit_at(li, "foods", FOODS)
    # The genuine visit is held, not flagged as far from the spoofed place.
    assert "Verdict: place not yet confirmed" in out and "saved location (limit" not in out
    assert "counts once it is confirmed or a manager approves it" in out
    clock.advance(days=1)
    out = visit_at(li, "foods", (FOODS[0] + 0.0002, FOODS[1] + 0.0002), 15)
    assert "Verdict: verified" in out
    assert "confirms the place of Shanghai Foods: 1 visit that waited for it counts now" in out
    assert "(1 too far from it is flagged)" in out
    spoofed, genuine, confirming = visits_of(db, "li")
    assert (spoofed.verdict, spoofed.counts) == ("flagged", False) and "outside_geofence" in reason_codes(spoofed)
    assert (genuine.verdict, genuine.counts) == ("verified", True) and "place_confirmed" in reason_codes(genuine)
    assert (confirming.verdict, confirming.counts) == ("verified", True)
    foods = customer(db, "Shanghai Foods")
    assert (foods.location_trust, foods.location_source) == ("trusted", "visit")
    assert "Location: confirmed" in say(li, f"/customer {foods.id}")
    assert abs(foods.latitude - (FOODS[0] + 0.0001)) < 1e-9
    clock.advance(days=1)
    assert "Verdict: verified" in visit_at(li, "foods", (FOODS[0] - 0.0003, FOODS[1]))
    assert "Verdict: flagged" in visit_at(li, "foods", SPOOF)  # now far from a trusted place
    assert "outside_geofence" in reason_codes(visits_of(db, "li")[-1])


def test_two_agreeing_visits_by_another_rep_confirm_the_place_but_one_rep_on_one_day_does_not(
        li, db, settings, clock):
    visit_at(li, "foods", FOODS)
    clock.advance(hours=1)
    out = visit_at(li, "foods", (FOODS[0] + 0.0004, FOODS[1]))
    assert "Verdict: place not yet confirmed" in out and "confirms" not in out
    assert customer(db, "Shanghai Foods").location_trust == "tentative"
    clock.advance(hours=1)
    mei = console_for(db, settings, clock, "mei")
    out = visit_at(mei, "foods", (FOODS[0] - 0.0004, FOODS[1] + 0.0003), 20)
    assert "Verdict: verified" in out and "2 visits that waited for it count now" in out
    assert [(v.verdict, v.counts) for v in visits_of(db, "li")] == [("verified", True), ("verified", True)]
    assert customer(db, "Shanghai Foods").location_trust == "trusted"
    with db.uow() as uow:
        told = sorted(posted(m).text for m in uow.session.scalars(
            select(OutboxMessage).where(OutboxMessage.kind == "direct", OutboxMessage.chat_id == "@li")))
    assert told == [f"The place of Shanghai Foods is now confirmed. Your visit #{n} there counts." for n in (1, 2)]
    # The manager's queue no longer holds them.
    assert "Nothing waits for your review" in say(mei, "/review")


def test_held_visits_are_in_the_review_queue_and_count_once_approved(li, db, settings, clock):
    visit_at(li, "foods", FOODS)
    mei = console_for(db, settings, clock, "mei")
    out = say(mei, "/review")
    assert "Visits to review: 1" in out and "the place of this customer or lead is not confirmed yet" in out
    assert "approved: it now counts" in say(mei, "/review approve 1")
    assert visits_of(db, "li")[0].counts


def test_imported_coordinates_are_trusted_at_once(li, db, settings, clock):
    with db.uow() as uow:
        report = imports.import_leads(
            uow, "公司名称,纬度,经度\nHarbor Tea House,30.2431,120.1507\nBroken Place Co,91,120\n".encode(),
            "leads.csv", "demo pool", utcnow())
        uow.commit()
    assert report.created == 1 and [r.reason for r in report.rejected] == ["bad_coordinates"]
    with db.uow() as uow:
        lead = uow.session.scalar(select(Lead).where(Lead.company == "Harbor Tea House"))
    assert (lead.location_trust, lead.location_source, lead.latitude) == ("trusted", "import", 30.2431)
    assert "claimed" in say(li, f"/claim {lead.id}").lower()
    out = visit_at(li, f"l{lead.id}", (30.2700, 120.1507))
    assert "Verdict: flagged" in out and "from the lead's saved location (limit 500 m)" in out
    clock.advance(days=1)
    assert "Verdict: verified" in visit_at(li, f"l{lead.id}", (30.2433, 120.1509))


def _west_boss(db) -> None:
    with db.uow() as uow:
        west = uow.session.scalar(select(OrgUnit.id).where(OrgUnit.name == "West Team"))
        boss = User(handle="westboss", name="West Boss", unit_id=west, role="manager", data_scope="subtree",
                    locale="en")
        uow.session.add(boss)
        uow.session.flush()
        org.link_console_identity(uow, boss.id, "westboss", utcnow())
        uow.commit()


def test_reanchoring_is_offered_with_the_evidence_and_applied_by_a_manager_in_scope(
        li, db, settings, clock, records):
    tea = records["tea"]
    for hours, jitter in ((0, 0.0), (4, 0.0003), (24, -0.0002)):
        clock.advance(hours=hours)
        out = visit_at(li, "c1", (NEW_TEA[0] + jitter, NEW_TEA[1] + jitter))
        assert "Verdict: flagged" in out and "from the customer's saved location" in out
    mei = console_for(db, settings, clock, "mei")
    out = say(mei, "/review")
    assert "West Lake Tea: the last 3 verified visits agree on another place" in out
    assert "(#3 2026-05-07 李雷 Li Lei 1,857 m away; #2 2026-05-06 李雷 Li Lei 1,913 m away; #1 2026-05-06" in out
    assert f"/customer {tea} reanchor" in out
    # The evening digest of that day offers it too.
    manager_digests(db, datetime(2026, 5, 7, 10, 35, tzinfo=UTC), settings)
    with db.uow() as uow:
        [digest] = uow.session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "direct")).all()
    assert "West Lake Tea: the last 3 verified visits agree on another place (#3 2026-05-07" in posted(digest).text
    assert f"/customer {tea} reanchor" in posted(digest).text
    _west_boss(db)
    west = console_for(db, settings, clock, "westboss")
    refused = say(west, f"/customer {tea} reanchor")
    assert refused == say(west, "/customer 999 reanchor").replace("999", str(tea)) and "West Lake" not in refused
    assert "Only a manager" in say(li, f"/customer {tea} reanchor")
    assert customer(db, "West Lake Tea").location_source == "import"
    out = say(mei, f"/customer {tea} reanchor")
    assert "Place moved: West Lake Tea" in out and "3 of these visits count now" in out
    assert "m from the old place" in out
    tea_now = customer(db, "West Lake Tea")
    assert (tea_now.location_source, tea_now.location_trust) == ("reanchor", "trusted")
    assert abs(tea_now.latitude - (NEW_TEA[0] + 0.0001 / 3)) < 1e-9
    assert [(v.verdict, v.counts) for v in visits_of(db, "li")] == [("verified", True)] * 3
    assert "Nothing to re-anchor" in say(mei, f"/customer {tea} reanchor")
    clock.advance(days=1)
    assert "Verdict: verified" in visit_at(li, "c1", (NEW_TEA[0] + 0.0001, NEW_TEA[1]))


def test_no_offer_while_far_visits_do_not_agree_or_fall_on_one_day(li, db, settings, clock):
    for hours in (0, 2, 4):
        clock.advance(hours=hours)
        visit_at(li, "c1", (NEW_TEA[0] + hours * 0.0001, NEW_TEA[1]))
    mei = console_for(db, settings, clock, "mei")
    out = say(mei, "/review")
    assert "Visits to review: 3" in out and "agree on another place" not in out


def test_setloc_with_a_flagged_position_gives_a_tentative_place(li, db, clock):
    assert "Set the location of Shanghai Foods" in say(li, "/setloc c2")
    out = say(li, f"/location {FOODS[0]} {FOODS[1]}")  # no accuracy: flagged
    assert "kept as not yet confirmed" in out and "no accuracy given" in out
    foods = customer(db, "Shanghai Foods")
    assert (foods.location_trust, foods.location_source, foods.latitude) == ("tentative", "owner", FOODS[0])
    clock.advance(days=1)
    out = visit_at(li, "foods", SPOOF)
    assert "Verdict: place not yet confirmed" in out and "saved location (limit" not in out
    # A flagged position never replaces a trusted place.
    say(li, "/setloc c1")
    assert "Location not changed: West Lake Tea" in say(li, "/location 30.2600 120.1600 900")
    assert customer(db, "West Lake Tea").location_trust == "trusted"
    say(li, "/setloc c2")
    clock.advance(minutes=20)
    out = say(li, f"/location {FOODS[0]} {FOODS[1]} 12")
    assert "now checked against this place" in out and "counts now" not in out
    assert customer(db, "Shanghai Foods").location_trust == "trusted"
    # The visit that waited for the place is judged against it: it was 8 km away, so it is flagged now.
    held = visits_of(db, "li")[0]
    assert held.verdict == "flagged" and "outside_geofence" in reason_codes(held)


def test_a_good_setloc_makes_the_visits_that_waited_count(li, db, clock):
    visit_at(li, "foods", FOODS)
    clock.advance(minutes=10)
    say(li, "/setloc c2")
    out = say(li, f"/location {FOODS[0] + 0.0003} {FOODS[1]} 8")
    assert "now checked against this place. 1 visit that waited for it counts now." in out
    assert [(v.verdict, v.counts) for v in visits_of(db, "li")] == [("verified", True)]
    assert customer(db, "Shanghai Foods").location_source == "owner"
