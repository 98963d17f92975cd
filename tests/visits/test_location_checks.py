"""Each location check as a pure function: one genuine case that passes, one spoof that is caught."""
from datetime import UTC, datetime, timedelta

from bot.services.visits import location_checks as v

NOW = datetime(2026, 5, 6, 2, 0, tzinfo=UTC)
LIMITS = v.Thresholds()


def fix(lat=30.2431, lon=120.1507, accuracy=15.0, source="static", taken=NOW, arrived=NOW, forwarded=False):
    return v.Fix(lat, lon, accuracy, source, taken, arrived, forwarded)


def codes(reasons):
    return [r.code for r in reasons]


def test_forwarded_is_rejected():
    assert v.check_forwarded(fix()) == []
    assert codes(v.check_forwarded(fix(forwarded=True))) == ["forwarded"]
    assert v.verdict_of(v.rejections(fix(forwarded=True))) == "rejected"


def test_future_date_beyond_clock_skew_is_rejected():
    assert v.check_future(fix(taken=NOW + timedelta(seconds=30))) == []
    spoof = v.check_future(fix(taken=NOW + timedelta(hours=2)))
    assert codes(spoof) == ["future"] and spoof[0].severity == v.REJECT and spoof[0].params["minutes"] == 120


def test_venue_and_manual_are_flagged():
    assert v.check_source(fix(source="live")) == [] and v.check_source(fix(source="web")) == []
    assert codes(v.check_source(fix(source="venue"))) == ["manual"]


def test_accuracy_missing_or_too_coarse():
    assert v.check_accuracy(fix(accuracy=50), LIMITS) == []
    assert codes(v.check_accuracy(fix(accuracy=None), LIMITS)) == ["no_accuracy"]
    coarse = v.check_accuracy(fix(accuracy=1500), LIMITS)
    assert codes(coarse) == ["low_accuracy"] and coarse[0].params == {"accuracy_m": 1500, "limit_m": 200}
    assert v.check_accuracy(fix(accuracy=1500), v.Thresholds(accuracy_max_m=2000)) == []


def test_geofence_with_distance():
    near = v.distance_to(fix(lat=30.2440), (30.2431, 120.1507))
    assert 90 < near < 110 and v.check_geofence(near, 500, "customer") == []
    far = v.distance_to(fix(lat=30.26), (30.2431, 120.1507))
    outside = v.check_geofence(far, 500, "customer")
    assert codes(outside) == ["outside_geofence"] and outside[0].params["distance_m"] == round(far)
    assert outside[0].params["place"] == "customer"
    assert v.check_geofence(None, 500, "customer") == []  # no known place: nothing to compare with


def test_impossible_travel():
    before = v.PreviousFix(31.2304, 121.4737, NOW - timedelta(hours=2))  # Shanghai, 2 h ago: 83 km/h
    assert v.check_travel(fix(), before, LIMITS) == []
    teleport = v.PreviousFix(31.2304, 121.4737, NOW - timedelta(minutes=20))  # 165 km in 20 min
    reasons = v.check_travel(fix(), teleport, LIMITS)
    assert codes(reasons) == ["impossible_travel"] and reasons[0].params["speed_kmh"] > 400
    jitter = v.PreviousFix(30.2435, 120.1507, NOW - timedelta(seconds=1))  # 45 m in a second: GPS noise
    assert v.check_travel(fix(), jitter, LIMITS) == []


def test_a_live_location_that_never_moves():
    moving = [(30.2431, 120.1507), (30.24311, 120.15072), (30.24309, 120.15069)]
    assert v.check_live_still(moving) == []
    assert codes(v.check_live_still([(30.2431, 120.1507)] * 3)) == ["live_not_moving"]
    assert v.check_live_still([(30.2431, 120.1507)] * 2) == []  # too early to tell


def test_sent_late_is_kept_as_a_note():
    assert v.check_sent_late(fix(taken=NOW - timedelta(minutes=2))) == []
    late = v.check_sent_late(fix(taken=NOW - timedelta(hours=3)))
    assert codes(late) == ["sent_late"] and late[0].severity == v.NOTE
    assert v.verdict_of(late) == "verified"


def test_work_hours():
    assert v.check_work_hours("checkin", 9 * 60 + 10, LIMITS) == []
    assert codes(v.check_work_hours("checkin", 9 * 60 + 40, LIMITS)) == ["late_checkin"]
    assert v.check_work_hours("checkout", 17 * 60 + 50, LIMITS) == []
    assert codes(v.check_work_hours("checkout", 16 * 60, LIMITS)) == ["early_checkout"]


def test_verdict_of_severities():
    assert v.verdict_of([]) == "verified"
    assert v.verdict_of([v.Reason("x", v.NOTE)]) == "verified"
    assert v.verdict_of([v.Reason("x", v.FLAG).to_json()]) == "flagged"
    assert v.verdict_of([], has_location=False) == "unverified"
