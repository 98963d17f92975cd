"""Prometheus text exposition (format 0.0.4), written by hand: no extra dependency.

In-process figures (command latency per command and outcome, outbox deliveries and failures of
the dispatchers this process runs) plus figures read from the database at scrape time (outbox
backlog by status, scheduled runs per job), which every process reports alike.
"""
import bisect
import threading
import time
from collections.abc import Iterable
from typing import Protocol

from aiohttp import web
from sqlalchemy import func, select

from db.base import utcnow
from db.models import JobRun, OutboxMessage
from db.session import Database

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(pairs: dict[str, str]) -> str:
    if not pairs:
        return ""
    return "{" + ",".join(f'{k}="{_escape(v)}"' for k, v in pairs.items()) + "}"


def _number(value: float) -> str:
    if value == float("inf"):
        return "+Inf"
    return repr(float(value)) if not float(value).is_integer() else str(int(value))


class Histogram:
    def __init__(self, name: str, help_text: str, label_names: tuple[str, ...], buckets=LATENCY_BUCKETS):
        self.name = name
        self.help = help_text
        self.label_names = label_names
        self.bounds = tuple(buckets)
        self._series: dict[tuple[str, ...], list[float]] = {}  # per bucket counts + [sum, count]
        self._lock = threading.Lock()

    def observe(self, seconds: float, *labels: str) -> None:
        index = bisect.bisect_left(self.bounds, seconds)
        with self._lock:
            series = self._series.setdefault(labels, [0.0] * (len(self.bounds) + 2))
            if index < len(self.bounds):
                series[index] += 1
            series[-2] += seconds
            series[-1] += 1

    def count(self, *labels: str) -> int:
        series = self._series.get(labels)
        return int(series[-1]) if series else 0

    def lines(self) -> Iterable[str]:
        yield f"# HELP {self.name} {self.help}"
        yield f"# TYPE {self.name} histogram"
        with self._lock:
            snapshot = {k: list(v) for k, v in self._series.items()}
        for labels, series in sorted(snapshot.items()):
            base = dict(zip(self.label_names, labels, strict=True))
            cumulative = 0.0
            for bound, hits in zip(self.bounds, series, strict=False):
                cumulative += hits
                yield f"{self.name}_bucket{_labels({**base, 'le': _number(bound)})} {_number(cumulative)}"
            yield f"{self.name}_bucket{_labels({**base, 'le': '+Inf'})} {_number(series[-1])}"
            yield f"{self.name}_sum{_labels(base)} {_number(series[-2])}"
            yield f"{self.name}_count{_labels(base)} {_number(series[-1])}"

    def reset(self) -> None:
        with self._lock:
            self._series.clear()


class Counter:
    def __init__(self, name: str, help_text: str, label_names: tuple[str, ...]):
        self.name = name
        self.help = help_text
        self.label_names = label_names
        self._values: dict[tuple[str, ...], float] = {}
        self._lock = threading.Lock()

    def inc(self, *labels: str, amount: float = 1.0) -> None:
        with self._lock:
            self._values[labels] = self._values.get(labels, 0.0) + amount

    def value(self, *labels: str) -> float:
        return self._values.get(labels, 0.0)

    def lines(self) -> Iterable[str]:
        yield f"# HELP {self.name} {self.help}"
        yield f"# TYPE {self.name} counter"
        with self._lock:
            snapshot = dict(self._values)
        for labels, value in sorted(snapshot.items()):
            yield f"{self.name}{_labels(dict(zip(self.label_names, labels, strict=True)))} {_number(value)}"

    def reset(self) -> None:
        with self._lock:
            self._values.clear()


COMMAND_LATENCY = Histogram(
    "fieldcrm_command_duration_seconds", "Time to answer one command, by command and outcome.",
    ("command", "outcome"),
)
COMMANDS = Counter("fieldcrm_commands_total", "Commands handled, by command and outcome.", ("command", "outcome"))
RATE_LIMITED = Counter("fieldcrm_rate_limited_total", "Commands refused by the per-user rate limit.", ("platform",))
WORKER_RESTARTS = Counter("fieldcrm_command_worker_restarts_total",
                          "Times the command worker processes (COMMAND_WORKERS) died and were started again.", ())


def observe_command(command: str, outcome: str, seconds: float) -> None:
    COMMAND_LATENCY.observe(seconds, command, outcome)
    COMMANDS.inc(command, outcome)


class DeliveryCounters(Protocol):
    delivered: int
    failures: int


_dispatchers: list[DeliveryCounters] = []


def watch_dispatcher(dispatcher: DeliveryCounters) -> None:
    """Report this process's outbox dispatcher (bot.delivery.Dispatcher) on /metrics."""
    if dispatcher not in _dispatchers:
        _dispatchers.append(dispatcher)


def _gauge(name: str, help_text: str, samples: Iterable[tuple[dict[str, str], float]], kind: str = "gauge"
           ) -> list[str]:
    lines = [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"]
    lines.extend(f"{name}{_labels(labels)} {_number(value)}" for labels, value in samples)
    return lines


def database_lines(db: Database) -> list[str]:
    """Figures every process reads from the shared database."""
    with db.uow() as uow:
        by_status = dict(uow.session.execute(
            select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
        ).all())
        oldest = uow.session.scalar(
            select(func.min(OutboxMessage.created_at)).where(OutboxMessage.status.in_(("pending", "sending")))
        )
        runs = uow.session.execute(
            select(JobRun.job, func.count(), func.count(JobRun.error), func.max(JobRun.claimed_at)).group_by(JobRun.job)
        ).all()
    now = utcnow()
    lines = _gauge("fieldcrm_outbox_messages", "Outbox rows by status (pending and sending are the backlog).",
                   [({"status": s}, float(by_status.get(s, 0))) for s in ("pending", "sending", "sent", "dead")])
    lines += _gauge("fieldcrm_outbox_backlog", "Outbox rows waiting for delivery.",
                    [({}, float(by_status.get("pending", 0) + by_status.get("sending", 0)))])
    age = (now - oldest).total_seconds() if oldest else 0.0
    lines += _gauge("fieldcrm_outbox_oldest_pending_seconds", "Age of the oldest undelivered outbox row.",
                    [({}, max(0.0, age))])
    lines += _gauge("fieldcrm_scheduled_runs_total", "Scheduled slots run, by job (all processes).",
                    [({"job": job}, float(total)) for job, total, _e, _l in runs], kind="counter")
    lines += _gauge("fieldcrm_scheduled_failures_total", "Scheduled slots that raised, by job.",
                    [({"job": job}, float(errors)) for job, _t, errors, _l in runs], kind="counter")
    lines += _gauge("fieldcrm_scheduled_last_run_age_seconds", "Seconds since the job last ran, by job.",
                    [({"job": job}, max(0.0, (now - last).total_seconds())) for job, _t, _e, last in runs if last])
    return lines


def process_lines() -> list[str]:
    lines: list[str] = []
    lines += COMMAND_LATENCY.lines()
    lines += COMMANDS.lines()
    lines += RATE_LIMITED.lines()
    lines += WORKER_RESTARTS.lines()
    lines += _gauge("fieldcrm_outbox_delivered_total", "Posts this process's dispatcher delivered.",
                    [({}, float(sum(d.delivered for d in _dispatchers)))], kind="counter")
    lines += _gauge("fieldcrm_outbox_failures_total",
                    "Failed delivery attempts by this process's dispatcher (retried or dead).",
                    [({}, float(sum(d.failures for d in _dispatchers)))], kind="counter")
    return lines


def exposition(db: Database | None) -> str:
    lines = process_lines()
    up = 1.0
    if db is not None:
        try:
            lines += database_lines(db)
        except Exception:  # the scrape still answers: what this process knows, and that the database is down
            up = 0.0
    lines += _gauge("fieldcrm_database_up", "1 when the database answered this scrape.", [({}, up)])
    lines += _gauge("fieldcrm_scrape_timestamp_seconds", "When this page was written.", [({}, time.time())])
    return "\n".join(lines) + "\n"


async def metrics_view(request: web.Request) -> web.Response:
    import asyncio

    from bot.web import DB_KEY

    body = await asyncio.to_thread(exposition, request.app.get(DB_KEY))
    return web.Response(body=body.encode(), headers={"Content-Type": CONTENT_TYPE})
