"""Each spoof check as a pure function: a genuine case that passes, a spoof that is caught; then the
rates over seeded genuine field days and each spoof pattern of issue #15 (pytest -s prints them)."""
import random
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from bot.i18n import render_text
from bot.services.visits import dwell
from bot.services.visits import location_checks as v
from bot.services.visits import spoof_checks as s
from bot.services.visits.review import QueueItem
from tests.visits import fieldday

NOW = datetime(2026, 5, 6, 2, 0, tzinfo=UTC)
LIMITS = v.Thresholds()
SHOP = (31.2304161, 121.4737012)
EAST_OF_SHOP = fieldday.toward(SHOP, 90, 40)


def fix(lat=31.230452, lon=121.473779, accuracy=14.3, taken=NOW, source="static"):
    return v.Fix(lat, lon, accuracy, source, taken, taken + timedelta(seconds=2))


def codes(reasons):
    return [r.code for r in reasons]


def point(lat, lon, seconds, heading=None, accuracy=8.0):
    return s.TrailPoint(lat, lon, NOW + timedelta(seconds=seconds), heading, accuracy)


def walk(bearing_of, metres_of, seconds=(0, 34, 71, 102, 140, 171, 209, 240), start=SHOP, heading_of=None):
    """A trail from `start`: step i goes metres_of(i) along bearing_of(i); heading_of(i) is reported."""
    points, here = [], start
    for i, t in enumerate(seconds):
        if i:
            here = fieldday.toward(here, bearing_of(i), metres_of(i))
        heading = heading_of(i) if heading_of else None
        points.append(point(round(here[0], 6), round(here[1], 6), t, heading))
    return points


def test_exactly_on_the_stored_place():
    saved = s.Place(*SHOP, s.SAVED)
    assert s.check_on_stored_place(fix(), saved, LIMITS) == []  # a real phone: 5 m off
    spoof = s.check_on_stored_place(fix(*SHOP), saved, LIMITS)
    assert codes(spoof) == ["on_stored_place"] and spoof[0].params == {"distance_m": 0.0, "place": "saved"}
    rounded = fix(round(SHOP[0], 6), round(SHOP[1], 6))  # the pin through Telegram's six decimals
    assert codes(s.check_on_stored_place(rounded, saved, LIMITS)) == ["on_stored_place"]
    assert s.check_on_stored_place(fix(*SHOP), None, LIMITS) == []  # no stored place: nothing to compare


def test_accuracy_zero_or_below_a_metre():
    assert s.check_accuracy_implausible(fix(accuracy=3.9), LIMITS) == []
    assert s.check_accuracy_implausible(fix(accuracy=None), LIMITS) == []  # check_accuracy's business
    assert codes(s.check_accuracy_implausible(fix(accuracy=0.0), LIMITS)) == ["accuracy_implausible"]
    assert codes(s.check_accuracy_implausible(fix(accuracy=0.5), LIMITS)) == ["accuracy_implausible"]


def test_the_same_accuracy_on_every_fix():
    assert s.check_accuracy_repeated(fix(accuracy=12.0), [17.4, 9.1, 33.0, 12.0, 8.6], LIMITS) == []
    assert s.check_accuracy_repeated(fix(accuracy=10.0), [10.0, 10.0, 10.0], LIMITS) == []  # too early to tell
    spoof = s.check_accuracy_repeated(fix(accuracy=10.0), [10.0, 10.0, 10.0, 10.0, 25.2], LIMITS)
    assert codes(spoof) == ["accuracy_repeated"] and spoof[0].params == {"accuracy_m": 10.0, "fixes": 5}
    assert s.check_accuracy_repeated(fix(accuracy=None), [None] * 6, LIMITS) == []


def test_a_straight_walk_at_constant_speed():
    # A real walk: the pace and the way wander a little.
    real = walk(lambda i: 80 + (-1) ** i * 6, lambda i: 38 + 5 * (i % 3))
    assert s.check_simulated_walk(real, LIMITS) == []
    # A simulated one: due east, 1.3 m/s, whatever the update times.
    seconds = (0, 34, 71, 102, 140, 171, 209, 240)
    fake = [point(*(round(c, 6) for c in fieldday.toward(SHOP, 90, 1.3 * t)), t) for t in seconds]
    spoof = s.check_simulated_walk(fake, LIMITS)
    assert codes(spoof) == ["live_simulated"] and spoof[0].params["updates"] == 8
    assert s.check_simulated_walk(fake[:4], LIMITS) == []  # too few updates to tell


def test_a_heading_that_disagrees_with_the_path():
    def along(i):
        return 80 + (-1) ** i * 6

    def steps(i):
        return 38 + 5 * (i % 3)

    real = walk(along, steps, heading_of=lambda i: (along(i) + (-1) ** i * 12) % 360)
    assert s.check_heading(real, LIMITS) == []
    frozen = walk(along, steps, heading_of=lambda i: 270)  # walking east, "heading" west
    spoof = s.check_heading(frozen, LIMITS)
    assert codes(spoof) == ["heading_mismatch"] and spoof[0].params["degrees"] > 150
    assert s.check_heading(walk(along, steps), LIMITS) == []  # no heading reported: nothing to compare


@pytest.mark.parametrize(("value", "count"), [
    (31.23, 2), (121.474, 3), ("31.230", 2), (31.230416, 6), ("121.47370120000001", 14), (1e-05, 5), (120.0, 0),
])
def test_decimals_as_received(value, count):
    assert s.decimals(value) == count


def test_typed_coordinates():
    assert s.check_typed_coordinates(31.230416, 121.473701, LIMITS) == []  # Telegram: six decimals
    assert s.check_typed_coordinates(31.2304, 121.473701, LIMITS) == []  # one that ends in zeros
    assert s.check_typed_coordinates(31.23041612203, 121.47370099871, LIMITS) == []  # the check-in page
    spoof = s.check_typed_coordinates(31.23, 121.474, LIMITS)
    assert codes(spoof) == ["typed_coordinates"] and spoof[0].params == {"decimals": 3}


def test_a_replayed_position():
    last_week = s.EarlierFix(31.230452, 121.473779, 14.3, NOW - timedelta(days=7))
    # Back at the same shop a week later: the phone lands metres away, as GPS does.
    assert s.check_replayed_position(fix(31.230489, 121.473731, 11.8), [last_week], LIMITS) == []
    # Last week's position again, 0.3 m of jitter added.
    replay = s.check_replayed_position(fix(31.230454, 121.473780, 14.3), [last_week], LIMITS)
    assert codes(replay) == ["replayed_position"] and replay[0].params["days"] == 7
    this_morning = replace(last_week, taken_at=NOW - timedelta(hours=3))
    same_day = s.check_replayed_position(fix(31.230454, 121.473780, 14.3), [this_morning], LIMITS)
    assert codes(same_day) == ["replayed_position_recent"] and same_day[0].params["hours"] == 3.0
    long_ago = replace(last_week, taken_at=NOW - timedelta(days=LIMITS.replay_days + 1))
    assert s.check_replayed_position(fix(31.230454, 121.473780, 14.3), [long_ago], LIMITS) == []
    resent = replace(last_week, taken_at=NOW)  # the same fix pinned twice is not a replay
    assert s.check_replayed_position(fix(31.230452, 121.473779, 14.3), [resent], LIMITS) == []


def test_a_replayed_trail():
    def along(i):
        return 80 + (-1) ** i * 6

    last_week = [replace(p, taken_at=p.taken_at - timedelta(days=7))
                 for p in walk(along, lambda i: 38 + 5 * (i % 3))]
    again = [replace(p, latitude=p.latitude + 0.000002, longitude=p.longitude - 0.000002) for p in walk(
        along, lambda i: 38 + 5 * (i % 3))]  # every update within 0.3 m of last week's
    spoof = s.check_replayed_trail(again, [last_week], LIMITS)
    assert codes(spoof) == ["replayed_trail"] and spoof[0].params == {"updates": 8, "days": 7}
    real = walk(lambda i: 84 + (-1) ** i * 9, lambda i: 41 + 4 * (i % 2), start=fieldday.toward(SHOP, 200, 6))
    assert s.check_replayed_trail(real, [last_week], LIMITS) == []  # the same walk, done again for real


def test_a_position_taken_after_the_visit():
    window = s.VisitWindow(NOW, NOW + timedelta(minutes=40))
    assert s.check_taken_after_visit(fix(taken=NOW + timedelta(minutes=20)), window, LIMITS) == []
    late = s.check_taken_after_visit(fix(taken=NOW + timedelta(hours=4, minutes=40)), window, LIMITS)
    assert codes(late) == ["taken_after_visit"] and late[0].params == {"hours": 4.0}
    still_open = s.VisitWindow(NOW)
    assert s.check_taken_after_visit(fix(taken=NOW + timedelta(hours=2)), still_open, LIMITS) == []
    assert codes(s.check_taken_after_visit(fix(taken=NOW + timedelta(hours=5)), still_open, LIMITS)) == [
        "taken_after_visit"]


def test_a_backdated_position():
    window = s.VisitWindow(NOW)
    assert s.check_taken_before_start(fix(taken=NOW - timedelta(minutes=2)), window, LIMITS) == []  # cached fix
    spoof = s.check_taken_before_start(fix(taken=NOW - timedelta(hours=2)), window, LIMITS)
    assert codes(spoof) == ["taken_before_start"] and spoof[0].params == {"minutes": 120}


def test_a_checkin_away_from_the_office():
    office = v.Thresholds(office=SHOP)
    assert s.check_away_from_office("checkin", fix(), office) == []
    at_home = fix(*fieldday.toward(SHOP, 30, 4000))
    spoof = s.check_away_from_office("checkin", at_home, office)
    assert codes(spoof) == ["away_from_office"] and spoof[0].params["place"] == "office"
    assert spoof[0].params["limit_m"] == 200
    assert s.check_away_from_office("checkout", at_home, office) == []  # last customer: fine
    assert s.check_away_from_office("checkin", at_home, LIMITS) == []  # no office set
    assert s.check_away_from_office("checkin", at_home, v.Thresholds(office=SHOP, office_radius_m=5000)) == []


def test_a_unit_can_set_the_thresholds():
    stricter = v.Thresholds(typed_decimals=6, same_accuracy_fixes=3, backdate_min=60)
    assert codes(s.check_typed_coordinates(31.230416, 121.473701, stricter)) == ["typed_coordinates"]
    assert codes(s.check_accuracy_repeated(fix(accuracy=10.0), [10.0, 10.0], stricter)) == ["accuracy_repeated"]
    assert s.check_taken_before_start(fix(taken=NOW - timedelta(minutes=45)), s.VisitWindow(NOW), stricter) == []
    assert v.Thresholds().replay_fraction == 0.05 and v.Thresholds().office_default_radius_m == 200


def test_every_reason_reads_in_both_languages():
    reasons = [
        s.check_on_stored_place(fix(*SHOP), s.Place(*SHOP, s.ADDRESS), LIMITS),
        s.check_accuracy_implausible(fix(accuracy=0.0), LIMITS),
        s.check_away_from_office("checkin", fix(*fieldday.toward(SHOP, 30, 4000)), v.Thresholds(office=SHOP)),
        s.check_replayed_position(fix(), [s.EarlierFix(31.230452, 121.473779, 14.3, NOW - timedelta(hours=2))],
                                  LIMITS),
    ]
    items = [r.to_json() for found in reasons for r in found]
    en = render_text("review/item", "en", item=review_item(items))
    zh = render_text("review/item", "zh", item=review_item(items))
    assert "exactly on the address's map point (0.0 m off)" in en and "4,000 m from the office (limit 200 m)" in en
    assert "与地址的地图坐标完全重合" in zh and "签到位置距办公室 4,000 米" in zh and "2.0 小时前" in zh


def review_item(reasons):
    return QueueItem(visit_id=1, kind="visit", rep_name="Li", target_name=None, taken_local=NOW, verdict="flagged",
                     reasons=reasons, distance_m=None, accuracy_m=None, source="static")


GENUINE_BUDGET = 0.02
CATCH_FLOOR = 0.95


def reasons_of(evidence: s.Evidence, limits: v.Thresholds) -> list[v.Reason]:
    """Every check of a position as the location step runs them: the spoof checks and, on a visit's
    live trail, its stay at the place (bot.services.visits.dwell)."""
    found = s.spoof_reasons(evidence, limits)
    if evidence.trail and evidence.kind == "visit":
        found += dwell.check_dwell(dwell.dwell_of(evidence.trail, evidence.place, limits.geofence_m), limits)
    return found


@pytest.fixture(scope="module")
def genuine():
    return fieldday.genuine_cases()


def test_genuine_field_days_are_rarely_flagged(genuine):
    flagged, by_code = 0, Counter()
    for case in genuine:
        found = reasons_of(case.evidence, fieldday.LIMITS)
        flagged += bool(found)
        by_code.update(f"{r.code} ({case.kind})" for r in found)
    rate = flagged / len(genuine)
    print(f"\ngenuine: {flagged} of {len(genuine)} positions flagged ({rate:.2%}); {dict(by_code)}")
    assert len(genuine) > 3000 and rate <= GENUINE_BUDGET


@pytest.mark.parametrize("pattern", list(fieldday.SPOOFS))
def test_each_spoof_pattern_is_caught(genuine, pattern):
    spoof, caught_by = fieldday.SPOOFS[pattern]
    rng = random.Random(pattern)
    spoofed = [c for c in (spoof(rng, case) for case in rng.sample(genuine, 400)) if c is not None]
    caught = sum(bool(caught_by & set(codes(reasons_of(c.evidence, fieldday.LIMITS)))) for c in spoofed)
    print(f"\n{pattern}: caught {caught} of {len(spoofed)} ({caught / len(spoofed):.1%})")
    assert len(spoofed) >= 50 and caught / len(spoofed) >= CATCH_FLOOR


def test_replay_catch_by_jitter(genuine):
    """How much jitter a replay may add and still be caught (printed; the floor holds for jitter within
    3 % of the accuracy, the pattern above). Beyond the tolerance (5 % of the better accuracy) a
    replayed single position is as far from its original as two genuine fixes can be."""
    rng = random.Random(3)
    sample = rng.sample(genuine, 300)
    for fraction in (0.01, 0.03, 0.05, 0.08, 0.15):
        spoofed = [c for c in (fieldday.replayed_position(rng, case, fraction) for case in sample) if c is not None]
        caught = sum(bool(codes(s.check_replayed_position(c.evidence.fix, c.evidence.earlier_fixes, fieldday.LIMITS)))
                     for c in spoofed)
        print(f"\nreplayed position, jitter within {fraction:.0%} of its accuracy: caught {caught / len(spoofed):.1%}")
        if fraction <= 0.03:
            assert caught / len(spoofed) >= CATCH_FLOOR
