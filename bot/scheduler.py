"""APScheduler wiring. Each run of a job is claimed in the database (unique job + slot) before it acts,
so several bot processes sharing one PostgreSQL database run every slot exactly once.

Capabilities declare jobs with @scheduled in a module under bot/jobs/; a job is a plain function
(db, slot_time, settings) that runs in a thread. bot.bootstrap collects the jobs of the modules it names.
"""
import asyncio
import logging
import os
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import ModuleType

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from bot.config import Settings
from db.base import utcnow
from db.models import JobRun
from db.session import Database, UnitOfWork

log = logging.getLogger(__name__)

# Interval triggers share this origin so every process computes the same slots.
EPOCH = datetime(2020, 1, 1, tzinfo=UTC)
LOOKBACK = timedelta(hours=2)
PROCESS_ID = f"{socket.gethostname()}:{os.getpid()}"

JobFunc = Callable[[Database, datetime, Settings], object]


@dataclass(frozen=True)
class ScheduledJob:
    name: str
    trigger: Callable[[Settings], BaseTrigger]
    func: JobFunc


def scheduled(name: str, trigger: Callable[[Settings], BaseTrigger]) -> Callable[[JobFunc], JobFunc]:
    """Declare a job; nothing is registered (see collect_jobs)."""

    def declare(func: JobFunc) -> JobFunc:
        func.__job__ = ScheduledJob(name, trigger, func)  # type: ignore[attr-defined]
        return func

    return declare


def collect_jobs(modules: Iterable[ModuleType]) -> list[ScheduledJob]:
    """Every @scheduled job declared in these modules; a name declared twice is a mistake."""
    jobs = [value.__job__ for module in modules for value in vars(module).values()
            if isinstance(getattr(value, "__job__", None), ScheduledJob) and value.__module__ == module.__name__]
    names = [job.name for job in jobs]
    if len(names) != len(set(names)):
        raise RuntimeError(f"a job name is declared twice: {sorted(names)}")
    return jobs


def every(seconds: int) -> Callable[[Settings], BaseTrigger]:
    return lambda _settings: IntervalTrigger(seconds=seconds, start_date=EPOCH, timezone=UTC)


def slot_for(trigger: BaseTrigger, now: datetime) -> datetime:
    """The scheduled fire time this run belongs to: the latest fire time at or before now."""
    fire = trigger.get_next_fire_time(None, now - LOOKBACK)
    latest = None
    while fire is not None and fire <= now:
        latest = fire
        fire = trigger.get_next_fire_time(fire, fire + timedelta(microseconds=1))
    return (latest or now).astimezone(UTC)


def claim_slot(uow: UnitOfWork, job: str, slot: str, claimed_by: str = PROCESS_ID) -> bool:
    """Insert the (job, slot) claim; False when another process already has it. Caller commits."""
    try:
        with uow.session.begin_nested():
            uow.session.add(JobRun(job=job, slot=slot, claimed_by=claimed_by, claimed_at=utcnow()))
    except IntegrityError:
        return False
    return True


def run_claimed(db: Database, job: str, slot: str, action: Callable[[], object]) -> bool:
    """Claim (job, slot) in its own transaction, then act; False when another process had it."""
    with db.uow() as uow:
        if not claim_slot(uow, job, slot):
            return False
        uow.commit()
    error = None
    try:
        action()
    except Exception as exc:
        log.exception("scheduled job %s slot %s failed", job, slot)
        error = repr(exc)[:2000]
    with db.uow() as uow:
        uow.session.execute(
            update(JobRun).where(JobRun.job == job, JobRun.slot == slot).values(finished_at=utcnow(), error=error)
        )
        uow.commit()
    return True


def last_run(db: Database, job: str) -> datetime | None:
    with db.uow() as uow:
        return uow.session.scalar(select(JobRun.claimed_at).where(JobRun.job == job).order_by(JobRun.id.desc()).limit(1))


class Scheduler:
    def __init__(self, db: Database, settings: Settings, jobs: Iterable[ScheduledJob],
                 clock: Callable[[], datetime] = utcnow):
        self.db = db
        self.jobs = {job.name: job for job in jobs}
        self.settings = settings
        self.clock = clock
        self.scheduler = AsyncIOScheduler(timezone=UTC)
        self.runs = 0

    def add(self, job: ScheduledJob) -> None:
        trigger = job.trigger(self.settings)

        async def fire() -> None:
            slot = slot_for(trigger, self.clock()).isoformat()
            try:
                ran = await asyncio.to_thread(
                    run_claimed, self.db, job.name, slot,
                    lambda: job.func(self.db, datetime.fromisoformat(slot), self.settings),
                )
            except (OperationalError, InterfaceError, PoolTimeout) as exc:
                # Unreachable or hung (each request is cut after the command timeout, db.watchdog):
                # one line per slot, not a traceback per job and firing.
                log.warning("scheduled job %s slot %s: database unavailable: %s", job.name, slot,
                            str(getattr(exc, "orig", None) or exc).splitlines()[0][:300])
                return
            if ran:
                self.runs += 1

        self.scheduler.add_job(fire, trigger, id=job.name, name=job.name, misfire_grace_time=300, coalesce=True,
                               max_instances=1)

    def start(self, only: list[str] | None = None) -> None:
        for job in self.jobs.values():
            if only is None or job.name in only:
                self.add(job)
        self.scheduler.start()

    def shutdown(self) -> None:
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
