"""Boards: only counted visits, who reached a value first ranks higher, true ties share, top N plus the
caller, team PK, movement arrows since the previous board, streaks over weekends and holidays."""
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import select

from bot.services.deals import leaderboards
from db.models import Customer, Deal, OrgUnit, User, Visit
from db.models.holiday import Holiday
from tests.conftest import say

SH = ZoneInfo("Asia/Shanghai")
TODAY = date(2026, 11, 26)  # a Thursday


def ids(db) -> dict[str, int]:
    with db.uow() as uow:
        return {u.handle: u.id for u in uow.session.scalars(select(User))}


def unit(db, name) -> int:
    with db.uow() as uow:
        return uow.session.scalar(select(OrgUnit.id).where(OrgUnit.name == name))


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=SH).astimezone(UTC)


def visit(db, user_id, when, counts=True):
    with db.uow() as uow:
        uow.session.add(Visit(user_id=user_id, started_at=when, counts=counts, verdict="verified" if counts else "flagged"))
        uow.commit()


def won(db, user_id, amount, when):
    with db.uow() as uow:
        customer = Customer(name=f"C{amount}{when}", name_key="c", owner_id=user_id)
        uow.session.add(customer)
        uow.session.flush()
        uow.session.add(Deal(name="d", customer_id=customer.id, owner_id=user_id, stage="won",
                             amount=Decimal(amount), won_at=when))
        uow.commit()


def board(db, unit_name="Acme Trading", metric="visits", period="day", **kw):
    with db.uow() as uow:
        boards = leaderboards.compute_boards(uow, [unit(db, unit_name)], metric, period, TODAY, SH, **kw)
        uow.commit()
        return boards[unit(db, unit_name)]


def test_only_counted_visits_and_first_to_reach_ranks_higher(demo_org, db):
    u = ids(db)
    visit(db, u["li"], at(TODAY, 9))
    visit(db, u["li"], at(TODAY, 15))
    visit(db, u["zhang"], at(TODAY, 10))
    visit(db, u["zhang"], at(TODAY, 11))  # reached 2 before li did
    visit(db, u["sam"], at(TODAY, 8))
    visit(db, u["sam"], at(TODAY, 9), counts=False)
    visit(db, u["sam"], at(TODAY - timedelta(days=1), 9))  # yesterday
    lines = board(db).lines
    assert [(line.name, line.rank, int(line.value)) for line in lines] == [
        ("张伟 Zhang Wei", 1, 2), ("李雷 Li Lei", 2, 2), ("Sam Carter", 3, 1)]


def test_true_tie_shares_the_rank(demo_org, db):
    u = ids(db)
    won(db, u["li"], 500, at(TODAY, 10))
    won(db, u["zhang"], 500, at(TODAY, 10))
    won(db, u["sam"], 100, at(TODAY, 9))
    ranks = [(line.rank, line.value) for line in board(db, metric="won_amount", period="month").lines]
    assert ranks == [(1, Decimal(500)), (1, Decimal(500)), (3, Decimal(100))]


def test_top_n_plus_the_callers_own_line(demo_org, db):
    u = ids(db)
    for hour, handle in ((9, "li"), (10, "zhang"), (11, "sam")):
        visit(db, u[handle], at(TODAY, hour))
    result = board(db, top_n=2, caller_id=u["sam"])
    assert [line.name for line in result.lines] == ["李雷 Li Lei", "张伟 Zhang Wei"]
    assert result.caller_line is not None and result.caller_line.rank == 3
    on_top = board(db, top_n=2, caller_id=u["li"])
    assert on_top.caller_line is None and on_top.lines[0].is_caller


def test_team_pk_board_sums_each_sub_team(demo_org, db):
    u = ids(db)
    won(db, u["li"], 300, at(TODAY, 9))
    won(db, u["zhang"], 300, at(TODAY, 10))
    won(db, u["sam"], 500, at(TODAY, 8))
    lines = board(db, metric="won_amount", period="week", by="team").lines
    assert [(line.name, line.value) for line in lines] == [("East Team", Decimal(600)), ("West Team", Decimal(500))]


def test_movement_arrows_since_the_previous_board(demo_org, db):
    u = ids(db)
    visit(db, u["li"], at(TODAY, 9))
    first = board(db)
    with db.uow() as uow:
        leaderboards.save_snapshot(uow, first, at(TODAY, 18))
        uow.commit()
    visit(db, u["sam"], at(TODAY, 10))
    visit(db, u["sam"], at(TODAY, 11))
    lines = {line.name: line.movement for line in board(db).lines}
    assert lines == {"Sam Carter": None, "李雷 Li Lei": -1}


def test_streaks_skip_weekends_and_holidays_but_break_on_a_missed_working_day(demo_org, db):
    u = ids(db)
    with db.uow() as uow:
        uow.session.add(Holiday(day=date(2026, 11, 23), name="test holiday"))  # Monday
        uow.commit()
    # li: Thu 19, Fri 20, (weekend, Monday holiday), Tue 24, Wed 25; today not yet -> 4
    for day in (19, 20, 24, 25):
        visit(db, u["li"], at(date(2026, 11, day), 10))
    # zhang: missed Tue 24 -> streak is Wed 25 + today = 2
    for day in (20, 25, 26):
        visit(db, u["zhang"], at(date(2026, 11, day), 10))
    with db.uow() as uow:
        streak = leaderboards.streaks(uow, [u["li"], u["zhang"], u["sam"]], TODAY, SH)
    assert streak == {u["li"]: 4, u["zhang"]: 2, u["sam"]: 0}


def test_rank_command_in_both_languages(console, db):
    u = ids(db)
    now = datetime.now(UTC)
    start_of_today = datetime.now(SH).replace(hour=0, minute=0, second=0, microsecond=0)
    visit(db, u["li"], max(now - timedelta(minutes=5), start_of_today))  # still today just after midnight
    say(console, "/as sam")
    out = say(console, "/rank visits today Acme")
    assert "Acme Trading · verified visits · today" in out and "1. 李雷 Li Lei — 1" in out
    assert "Sam Carter — nothing yet ◀" in out
    say(console, "/as li")
    assert "1. 李雷 Li Lei — 1 ◀" in say(console, "/rank 拜访 今天")
    assert "不是榜单" in say(console, "/rank bananas")
    say(console, "/as sam")
    assert say(console, "/rank East") == say(console, "/rank Nowhere").replace("Nowhere", "East")  # like not found


def test_nested_boards_from_one_query_each_rank_their_own_members(demo_org, db):
    u = ids(db)
    visit(db, u["li"], at(TODAY, 9))
    visit(db, u["li"], at(TODAY, 10))
    visit(db, u["zhang"], at(TODAY, 8))
    visit(db, u["sam"], at(TODAY, 11))
    units = [unit(db, "Acme Trading"), unit(db, "East Team"), unit(db, "West Team")]
    with db.uow() as uow:
        boards = leaderboards.compute_boards(uow, units, "visits", "day", TODAY, SH, caller_id=u["sam"], with_extras=False)
    company, east, west = (boards[unit_id] for unit_id in units)
    assert [(line.name, line.rank, int(line.value)) for line in company.lines] == [
        ("李雷 Li Lei", 1, 2), ("张伟 Zhang Wei", 2, 1), ("Sam Carter", 3, 1)]
    assert [(line.name, line.rank) for line in east.lines] == [("李雷 Li Lei", 1), ("张伟 Zhang Wei", 2)]
    assert east.caller_line is None and west.lines[0].is_caller and west.total == 1


def test_boards_from_one_query_keep_ties_empty_boards_and_leave_out_inactive_reps(demo_org, db):
    u = ids(db)
    won(db, u["li"], 500, at(TODAY, 10))
    won(db, u["zhang"], 500, at(TODAY, 10))  # a true tie with li: same value, same moment
    won(db, u["sam"], 900, at(TODAY, 9))
    with db.uow() as uow:
        uow.session.get(User, u["sam"]).active = False
        uow.commit()
    units = [unit(db, "Acme Trading"), unit(db, "East Team"), unit(db, "West Team")]
    with db.uow() as uow:
        boards = leaderboards.compute_boards(uow, units, "won_amount", "month", TODAY, SH, with_extras=False)
        teams = leaderboards.compute_boards(uow, units[:1], "won_amount", "month", TODAY, SH, by="team",
                                           with_extras=False)
    company, east, west = (boards[unit_id] for unit_id in units)
    tie = [("张伟 Zhang Wei", 1, Decimal(500)), ("李雷 Li Lei", 1, Decimal(500))]  # ties in code-point order
    assert [(line.name, line.rank, line.value) for line in company.lines] == tie
    assert [(line.name, line.rank, line.value) for line in east.lines] == tie
    assert (west.unit_name, west.lines, west.total) == ("West Team", [], 0)
    assert [(line.name, line.rank, line.value) for line in teams[units[0]].lines] == [("East Team", 1, Decimal(1000))]
