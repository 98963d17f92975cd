"""Scheduled runs are claimed in the database: two processes on one PostgreSQL run each slot once."""
import asyncio
import threading
from datetime import UTC, datetime

from apscheduler.triggers.cron import CronTrigger
from sqlalchemy import select

from bot.config import load_settings
from bot.scheduler import ScheduledJob, Scheduler, run_claimed, slot_for
from db.models import JobRun
from db.session import Database


def test_slot_is_the_scheduled_time_even_when_a_process_fires_late():
    trigger = CronTrigger(hour=18, minute=0, timezone="Asia/Shanghai")
    on_time = slot_for(trigger, datetime(2026, 3, 2, 10, 0, 1, tzinfo=UTC))
    late = slot_for(trigger, datetime(2026, 3, 2, 10, 4, 30, tzinfo=UTC))
    assert on_time == late == datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def test_two_processes_racing_for_one_slot_run_it_once(pg_db):
    ran: list[str] = []
    barrier = threading.Barrier(8)

    def process(name: str) -> None:
        database = Database(pg_db.url)
        barrier.wait()
        run_claimed(database, "leaderboard", "2026-11-27T10:00:00+00:00", lambda: ran.append(name))
        database.dispose()

    threads = [threading.Thread(target=process, args=(f"p{i}",)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(ran) == 1
    with pg_db.uow() as uow:
        runs = uow.session.scalars(select(JobRun)).all()
    assert len(runs) == 1 and runs[0].finished_at is not None


async def test_two_apschedulers_on_one_database_run_each_slot_once(pg_db):
    calls: list[datetime] = []
    job = ScheduledJob(
        "test.every_second",
        lambda _s: CronTrigger(second="*", timezone=UTC),
        lambda db, slot, settings: calls.append(slot),
    )
    settings = load_settings(env_file=None, DATABASE_URL=pg_db.url)
    schedulers = [Scheduler(Database(pg_db.url), settings, [job]) for _ in range(2)]
    try:
        for scheduler in schedulers:
            scheduler.start(only=["test.every_second"])
        await asyncio.sleep(3.5)
    finally:
        for scheduler in schedulers:
            scheduler.shutdown()
    # A run in flight at shutdown still finishes in its thread (only its awaiting coroutine is
    # cancelled, so a scheduler's own `runs` counter may miss it): count the finished runs recorded.
    def finished() -> list[str]:
        with pg_db.uow() as uow:
            return list(uow.session.scalars(select(JobRun.slot).where(
                JobRun.job == "test.every_second", JobRun.finished_at.is_not(None))))
    for _ in range(40):
        if len(finished()) == len(calls):
            break
        await asyncio.sleep(0.05)
    assert len(calls) >= 2
    assert len(calls) == len(set(calls)), "a slot ran twice"
    assert sorted(finished()) == sorted(slot.isoformat() for slot in calls)


def test_a_failing_job_is_recorded_and_not_rerun(db):
    def boom() -> None:
        raise ValueError("bad data")

    assert run_claimed(db, "sweep", "slot-1", boom) is True
    assert run_claimed(db, "sweep", "slot-1", boom) is False
    with db.uow() as uow:
        run = uow.session.scalar(select(JobRun))
    assert "bad data" in run.error
