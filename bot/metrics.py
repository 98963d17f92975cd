"""What /metrics shows, through prometheus-client: this process's own figures (command latency by
command and outcome, rate-limit refusals, outbox deliveries and failures of its dispatcher, whether
it is the sender) plus
figures read from the shared database at scrape time (outbox backlog by status, scheduled runs per
job), which every process reports alike.

One Metrics per process, built by bot.bootstrap and handed to whoever counts; each has its own
registry, so nothing is global and two processes in one test never share a figure. When the posts
leave from a sender child (bot.sender_process), its outbox counters are kept in files of
prometheus-client's multiprocess mode and shown here, summed over the child's restarts.
"""
import time
from collections.abc import Iterator
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from db.base import utcnow
from db.models import JobRun, OutboxMessage
from db.session import Database

CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
OUTBOX_STATUSES = ("pending", "sending", "sent", "dead")


class Metrics:
    def __init__(self, db: Database | None = None, outbox_from: Path | None = None):
        """`outbox_from`: the sender child's multiprocess directory, whose counters stand in for this
        process's own outbox counters (which then count nothing and are not shown)."""
        self.registry = CollectorRegistry()
        outbox_registry = None if outbox_from else self.registry
        self.command_latency = Histogram(
            "fieldcrm_command_duration_seconds", "Time to answer one command, by command and outcome.",
            ("command", "outcome"), buckets=LATENCY_BUCKETS, registry=self.registry,
        )
        self.commands = Counter("fieldcrm_commands", "Commands handled, by command and outcome.",
                                ("command", "outcome"), registry=self.registry)
        self.rate_limited = Counter("fieldcrm_rate_limited", "Commands refused by the per-user rate limit.",
                                    ("platform",), registry=self.registry)
        self.outbox_delivered = Counter("fieldcrm_outbox_delivered", "Posts this process's dispatcher delivered.",
                                        registry=outbox_registry)
        self.outbox_failures = Counter(
            "fieldcrm_outbox_failures", "Failed delivery attempts by this process's dispatcher (retried or dead).",
            registry=outbox_registry,
        )
        self.outbox_sending = Gauge(
            "fieldcrm_outbox_sending", "1 while this process's dispatcher is the database's one outbox sender, "
            "0 while it stands by.", multiprocess_mode="livemax", registry=outbox_registry,
        )
        if outbox_from:
            MultiProcessCollector(self.registry, path=str(outbox_from))
        self.registry.register(SharedFigures(db))

    def command_done(self, command: str, outcome: str, seconds: float) -> None:
        self.command_latency.labels(command, outcome).observe(seconds)
        self.commands.labels(command, outcome).inc()

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


class SharedFigures(Collector):
    """Read from the database at each scrape; a database that does not answer is reported, not raised."""

    def __init__(self, db: Database | None):
        self.db = db

    def collect(self) -> Iterator[Metric]:
        up = 0.0
        if self.db is not None:
            try:
                yield from self._from_database(self.db)
                up = 1.0
            except Exception:  # the scrape still answers: what this process knows, and that the database is down
                up = 0.0
        yield GaugeMetricFamily("fieldcrm_database_up", "1 when the database answered this scrape.", value=up)
        yield GaugeMetricFamily("fieldcrm_scrape_timestamp_seconds", "When this page was written.", value=time.time())

    @staticmethod
    def _from_database(db: Database) -> list[Metric]:
        with db.deadline(db.timeouts.connect), db.uow() as uow:
            by_status = dict(uow.session.execute(
                select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
            ).all())
            oldest = uow.session.scalar(
                select(func.min(OutboxMessage.created_at)).where(OutboxMessage.status.in_(("pending", "sending")))
            )
            runs = uow.session.execute(
                select(JobRun.job, func.count(), func.count(JobRun.error), func.max(JobRun.claimed_at))
                .group_by(JobRun.job)
            ).all()
        now = utcnow()
        messages = GaugeMetricFamily("fieldcrm_outbox_messages",
                                     "Outbox rows by status (pending and sending are the backlog).", labels=["status"])
        for status in OUTBOX_STATUSES:
            messages.add_metric([status], by_status.get(status, 0))
        backlog = by_status.get("pending", 0) + by_status.get("sending", 0)
        age = max(0.0, (now - oldest).total_seconds()) if oldest else 0.0
        ran = CounterMetricFamily("fieldcrm_scheduled_runs", "Scheduled slots run, by job (all processes).",
                                  labels=["job"])
        failed = CounterMetricFamily("fieldcrm_scheduled_failures", "Scheduled slots that raised, by job.",
                                     labels=["job"])
        last = GaugeMetricFamily("fieldcrm_scheduled_last_run_age_seconds", "Seconds since the job last ran, by job.",
                                 labels=["job"])
        for job, total, errors, last_claimed in runs:
            ran.add_metric([job], total)
            failed.add_metric([job], errors)
            if last_claimed:
                last.add_metric([job], max(0.0, (now - last_claimed).total_seconds()))
        return [
            messages,
            GaugeMetricFamily("fieldcrm_outbox_backlog", "Outbox rows waiting for delivery.", value=backlog),
            GaugeMetricFamily("fieldcrm_outbox_oldest_pending_seconds", "Age of the oldest undelivered outbox row.",
                              value=age),
            ran, failed, last,
        ]
