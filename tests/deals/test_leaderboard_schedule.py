"""Scheduled board pushes: each channel at its own local 18:00, once, also on daylight-saving days,
and once even when two scheduler processes share one PostgreSQL database."""
import threading
from collections import Counter
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select

from bot.jobs.leaderboards import push_due
from db.models import OrgUnit, OutboxMessage, TeamChannel
from db.models.board import ChannelBoardSettings
from db.session import Database
from tests.conftest import load_demo_org, posted


def add_berlin(db: Database, weekends: bool) -> None:
    with db.uow() as uow:
        west = uow.session.scalar(select(OrgUnit.id).where(OrgUnit.name == "West Team"))
        berlin = TeamChannel(platform="telegram", workspace="bot", chat_id="-100berlin", name="berlin", unit_id=west,
                             locale="en", timezone="Europe/Berlin")
        uow.session.add(berlin)
        uow.session.flush()
        if weekends:
            for channel in uow.session.scalars(select(TeamChannel)):
                uow.session.add(ChannelBoardSettings(channel_id=channel.id, include_weekends=True))
        uow.commit()


def run_day(db: Database, day: date, step_minutes: int = 5) -> list[tuple[str, str, datetime]]:
    """Drive the job through one UTC day (plus a margin) and return (chat, period, when) pushed."""
    pushed = []
    chats = {}
    with db.uow() as uow:
        chats = {c.id: c.chat_id for c in uow.session.scalars(select(TeamChannel))}
    moment = datetime(day.year, day.month, day.day, tzinfo=UTC) - timedelta(hours=2)
    end = moment + timedelta(hours=28)
    while moment < end:
        for p in push_due(db, moment):
            pushed.append((chats[p.channel_id], p.period, moment))
        moment += timedelta(minutes=step_minutes)
    return pushed


def day_pushes(pushed):
    return sorted((chat, when.strftime("%m-%d %H:%M")) for chat, period, when in pushed if period == "day")


def test_each_channel_at_its_own_1800_on_a_working_day(demo_org, db):
    add_berlin(db, weekends=False)
    pushed = run_day(db, date(2026, 11, 26))  # Thursday
    assert day_pushes(pushed) == [("#sales", "11-26 10:00"), ("-100berlin", "11-26 17:00")]
    with db.uow() as uow:
        boards = uow.session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "board")).all()
    assert sorted(b.chat_id for b in boards) == ["#sales", "-100berlin"]
    assert all("leaderboard" in posted(b).title for b in boards)


def test_friday_adds_the_week_board_and_sunday_pushes_nothing_by_default(demo_org, db):
    add_berlin(db, weekends=False)
    friday = Counter((chat, period) for chat, period, _ in run_day(db, date(2026, 11, 27), step_minutes=15))
    assert friday == Counter({("#sales", "day"): 1, ("#sales", "week"): 1,
                              ("-100berlin", "day"): 1, ("-100berlin", "week"): 1})
    assert run_day(db, date(2026, 11, 29), step_minutes=30) == []  # Sunday


def test_daylight_saving_days_push_once_at_local_1800(demo_org, db):
    add_berlin(db, weekends=True)
    spring = run_day(db, date(2026, 3, 29))  # Berlin springs forward (Sunday)
    assert day_pushes(spring) == [("#sales", "03-29 10:00"), ("-100berlin", "03-29 16:00")]
    autumn = run_day(db, date(2026, 10, 25))  # Berlin falls back (Sunday)
    assert day_pushes(autumn) == [("#sales", "10-25 10:00"), ("-100berlin", "10-25 17:00")]


def test_last_working_day_gets_the_month_board(demo_org, db):
    pushed = run_day(db, date(2026, 11, 30), step_minutes=30)  # Monday, last working day of November
    assert ("#sales", "month") in {(chat, period) for chat, period, _ in pushed}


def test_two_processes_on_one_postgres_push_once(pg_db):

    load_demo_org(pg_db)
    add_berlin(pg_db, weekends=False)
    results: list[int] = []
    # Shanghai's 18:05, then Berlin's 18:05: four "processes" race at each.
    for moment in (datetime(2026, 11, 26, 10, 5, tzinfo=UTC), datetime(2026, 11, 26, 17, 5, tzinfo=UTC)):
        barrier = threading.Barrier(4)

        def process(at=moment, gate=barrier) -> None:
            db = Database(pg_db.url)  # its own engine, like another process
            gate.wait()
            results.append(len(push_due(db, at)))
            db.dispose()

        threads = [threading.Thread(target=process) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert sum(results) == 2
    with pg_db.uow() as uow:
        boards = uow.session.scalars(select(OutboxMessage.chat_id).where(OutboxMessage.kind == "board")).all()
    assert sorted(boards) == ["#sales", "-100berlin"]


def test_two_channels_of_one_team_each_get_arrows_since_their_own_last_board(demo_org, db):
    """A team with a Slack channel and a Telegram group gets the same board in both; the second
    must not show "=" against the board the first got a moment ago, but movement since its own."""
    from tests.deals.test_leaderboards import ids, won

    u = ids(db)
    with db.uow() as uow:
        company = uow.session.scalar(select(TeamChannel.unit_id).where(TeamChannel.chat_id == "#sales"))
        uow.session.add(TeamChannel(platform="telegram", workspace="bot", chat_id="-100same", name="group",
                                    unit_id=company, locale="en", timezone="Asia/Shanghai"))
        uow.commit()
    won(db, u["li"], 100, datetime(2026, 11, 26, 2, 0, tzinfo=UTC))
    won(db, u["sam"], 50, datetime(2026, 11, 26, 3, 0, tzinfo=UTC))
    thursday = run_day(db, date(2026, 11, 26), step_minutes=15)
    assert sorted(chat for chat, period, _ in thursday if period == "day") == ["#sales", "-100same"]
    won(db, u["sam"], 500, datetime(2026, 11, 27, 2, 0, tzinfo=UTC))
    won(db, u["li"], 20, datetime(2026, 11, 27, 3, 0, tzinfo=UTC))
    run_day(db, date(2026, 11, 27), step_minutes=15)
    with db.uow() as uow:
        boards = uow.session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "board")
                                     .order_by(OutboxMessage.id)).all()
        texts = {(b.chat_id, posted(b).title.split("(")[-1]): posted(b).text for b in boards
                 if "today" in posted(b).title}
    first_day = [text for (chat, day), text in texts.items() if day.startswith("2026-11-26")]
    assert len(first_day) == 2 and not any(mark in text for text in first_day for mark in ("=", "↑", "↓"))
    for chat in ("#sales", "-100same"):
        (friday,) = [text for (c, day), text in texts.items() if c == chat and day.startswith("2026-11-27")]
        assert "↑1 Sam Carter" in friday and "↓1 李雷 Li Lei" in friday
