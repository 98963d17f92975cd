"""Per-rep baselines in the manager's digest: a rep whose positions are flagged, or too perfect to
come from a phone, far more often than his peers' stands out; a small sample or a small gap does not."""
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from bot.jobs.visits import manager_digests
from bot.services.visits.baselines import Tally, outliers, upper_tail
from db.models import OutboxMessage
from tests.conftest import posted, say
from tests.visits.test_visits import Clock, clocked_console


def test_the_binomial_tail():
    assert abs(upper_tail(0, 10, 0.3) - 1.0) < 1e-12
    assert abs(upper_tail(10, 10, 0.5) - 0.5 ** 10) < 1e-12
    assert abs(upper_tail(1, 1, 0.2) - 0.2) < 1e-12


def test_who_stands_out():
    team = {n: Tally(positions=20, flagged=1) for n in range(5)}
    assert outliers(team) == []
    team[9] = Tally(positions=20, flagged=9, too_perfect=0)
    [found] = outliers(team)
    assert (found.user_id, found.kind, found.count, found.positions) == (9, "flagged", 9, 20)
    assert abs(found.peers_share - 5 / 100) < 1e-9
    team[9] = Tally(positions=4, flagged=4)  # too few positions to say anything
    assert outliers(team) == []
    team[9] = Tally(positions=20, flagged=3)  # 15 % against 5 %: not rare enough to bother a manager
    assert outliers(team) == []
    lonely = {1: Tally(positions=30, flagged=30), 2: Tally(positions=10)}
    assert outliers(lonely) == []  # peers with too few positions are no baseline


def test_the_digest_names_the_reps_who_stand_out(db, settings, demo_org):
    clock = Clock(datetime(2026, 5, 1, 1, 0, tzinfo=UTC))  # 09:00 in Shanghai
    reps = {handle: clocked_console(db, settings, clock, handle) for handle in ("li", "zhang", "sam")}
    for day in range(12):
        jitter = day * 0.00013
        say(reps["li"], "/checkin")
        say(reps["li"], f"/location {30.24321 + jitter:.6f} {120.15082 + jitter:.6f}")  # never an accuracy
        say(reps["zhang"], "/checkin")
        say(reps["zhang"], f"/location {30.25111 + jitter:.6f} {120.16123 - jitter:.6f} {10 + day * 7 % 13}")
        say(reps["sam"], "/checkin")
        say(reps["sam"], "/location 30.262218 120.171345 9")  # the very same point every day
        clock.advance(days=1)
    manager_digests(db, clock.now - timedelta(days=1) + timedelta(hours=10), settings)  # 19:00 Shanghai
    with db.uow() as uow:
        [digest] = uow.session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "direct")).all()
        text = posted(digest).text
    assert "近 30 天明显偏离同事的销售" in text
    assert "李雷 Li Lei:12 个位置中有 12 个被标记" in text
    assert "Sam Carter:12 个位置中有 11 个过于完美,不像手机定位" in text
    assert "/visits month --rep sam" in text
    assert "张伟 Zhang Wei:" not in text.split("近 30 天")[1]
