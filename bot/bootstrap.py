"""The one start-up assembly: every dependency of a bot process is built here, once, and handed to
whoever needs it. Nothing registers itself on import and no module keeps state a test must reset.

    settings -> database (audit listener, shared SECRET_KEY) -> command table -> router
             -> front ends (Slack, Telegram) -> outbox dispatcher -> scheduler (jobs) -> web routes

The CLI, the tests and the benches build their parts through the same functions.
"""
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TextIO

from aiohttp import web

from bot.adapters.console import ConsoleSender
from bot.adapters.front_end import FrontEnd
from bot.budget import Budget, BudgetStore
from bot.config import Settings
from bot.delivery import Dispatcher, Sender
from bot.handlers.core import identity as identity_handlers
from bot.handlers.deals import channels, deals, nudges, rank, screens, targets
from bot.handlers.leads import customers, leads, pool, pool_admin
from bot.handlers.manager import manager
from bot.handlers.plans import plans as plan_handlers
from bot.handlers.registry import CommandTable
from bot.handlers.reminders import reminders as reminder_handlers
from bot.handlers.visits import attendance, location, nearby, photos, review, units, visits
from bot.i18n import DEFAULT_PREFIX
from bot.jobs import care as care_jobs
from bot.jobs import customers as customer_jobs
from bot.jobs import heartbeat, leaderboards, reports
from bot.jobs import nudges as nudge_jobs
from bot.jobs import plans as plan_jobs
from bot.jobs import pool as pool_jobs
from bot.jobs import reminders as reminder_jobs
from bot.jobs import visits as visit_jobs
from bot.metrics import Metrics
from bot.ratelimit import RateLimiter, from_settings
from bot.router import Router
from bot.scheduler import ScheduledJob, Scheduler, collect_jobs
from bot.services.core import audit_log
from bot.services.core.secrets import shared_secret
from bot.web import checkin, miniapp, ops, screen
from bot.web.server import build_web_app
from db.base import utcnow
from db.session import Database

HANDLER_MODULES = (
    identity_handlers,
    visits, location, nearby, photos, attendance, review, units,
    leads, pool, pool_admin, customers,
    deals, rank, targets, nudges, channels, screens,
    manager,
    reminder_handlers,
    plan_handlers,
)
JOB_MODULES = (heartbeat, visit_jobs, pool_jobs, leaderboards, nudge_jobs, reports, reminder_jobs,
               customer_jobs, care_jobs, plan_jobs)


def command_table() -> CommandTable:
    return CommandTable.collect(HANDLER_MODULES)


def jobs() -> list[ScheduledJob]:
    return collect_jobs(JOB_MODULES)


def open_database(url: str, **engine_kwargs: object) -> Database:
    """A database whose every flush is audited."""
    db = Database(url, **engine_kwargs)
    audit_log.install(db)
    return db


def with_secret_key(settings: Settings, db: Database) -> Settings:
    """SECRET_KEY as set, or the one made once and kept in the database, shared by every process."""
    if settings.SECRET_KEY:
        return settings
    with db.uow() as uow:
        secret = shared_secret(uow, "SECRET_KEY")
        uow.commit()
    return settings.model_copy(update={"SECRET_KEY": secret})


def build_router(
    db: Database,
    settings: Settings,
    *,
    commands: CommandTable | None = None,
    metrics: Metrics | None = None,
    limiter: RateLimiter | None = None,
    clock: Callable[[], datetime] = utcnow,
) -> Router:
    return Router(
        db, settings, commands if commands is not None else command_table(),
        metrics=metrics if metrics is not None else Metrics(db),
        limiter=limiter if limiter is not None else from_settings(settings),
        clock=clock,
    )


def send_budget(db: Database) -> Budget:
    """The platforms' rate limits, shared with every process on this database (bot.budget)."""
    return Budget(BudgetStore(db))


def platform_front_ends(settings: Settings, router: Router, budget: Budget) -> list[FrontEnd]:
    front_ends: list[FrontEnd] = []
    if settings.slack_enabled:
        from bot.adapters.slack.front_end import (
            SlackFrontEnd,  # slack-bolt loads only where Slack is configured
        )

        front_ends.append(SlackFrontEnd(settings, router, budget))
    if settings.telegram_enabled:
        from bot.adapters.telegram.front_end import TelegramFrontEnd

        front_ends.append(TelegramFrontEnd(settings, router, budget))
    return front_ends


def web_app(db: Database, settings: Settings, front_ends: list[FrontEnd],
            clock: Callable[[], datetime] = utcnow) -> web.Application:
    """The public listener: the check-in pages (on the router's clock), the office screens, each
    front end's own routes (webhooks) and, with Telegram, its Mini App."""
    page_prefixes = [fe.command_prefix for fe in front_ends if fe.location_ask == "checkin_page"]
    app = build_web_app(checkin.routes(db, settings, page_prefixes[0] if page_prefixes else DEFAULT_PREFIX, clock))
    screen.attach(app, db, settings, clock)
    for front_end in front_ends:
        front_end.add_routes(app)
        if front_end.platform == "telegram":
            app.add_routes(miniapp.routes(front_end.mini_app(), settings, clock))  # type: ignore[attr-defined]
    return app


def admin_app(db: Database, settings: Settings, metrics: Metrics,
              outbox_sender: Callable[[], str] | None = None) -> web.Application:
    """The operator's listener: /healthz and /metrics, behind ADMIN_TOKEN when it is set.
    `outbox_sender`: where this process's posts leave from, as /healthz reports it."""
    guard = [ops.bearer_guard(settings.ADMIN_TOKEN)] if settings.ADMIN_TOKEN else []
    return build_web_app(ops.routes(db, metrics, outbox_sender or (lambda: settings.outbox_sender)), guard)


@dataclass
class BotProcess:
    """Everything one `fieldcrm run` holds."""

    settings: Settings
    db: Database
    metrics: Metrics
    router: Router
    front_ends: list[FrontEnd]
    dispatcher: Dispatcher
    scheduler: Scheduler

    def web_app(self) -> web.Application:
        return web_app(self.db, self.settings, self.front_ends, self.router.clock)

    def admin_app(self, outbox_sender: Callable[[], str] | None = None) -> web.Application:
        return admin_app(self.db, self.settings, self.metrics, outbox_sender)

    def dispose(self) -> None:
        self.db.dispose()


def bot_process(settings: Settings, console_out: TextIO, outbox_metrics: Path | None = None) -> BotProcess:
    """`outbox_metrics`: where a sender child keeps its counters (bot.sender_process), shown in this
    process's /metrics in place of its own dispatcher's."""
    db = open_database(settings.DATABASE_URL, timeouts=settings.database_timeouts())
    settings = with_secret_key(settings, db)
    metrics = Metrics(db, outbox_from=outbox_metrics)
    router = build_router(db, settings, metrics=metrics)
    front_ends = platform_front_ends(settings, router, send_budget(db))
    senders: dict[str, Sender] = {fe.platform: fe.sender for fe in front_ends}
    senders["console"] = ConsoleSender(console_out)
    return BotProcess(
        settings=settings, db=db, metrics=metrics, router=router, front_ends=front_ends,
        dispatcher=Dispatcher(db, senders, metrics=metrics), scheduler=Scheduler(db, settings, jobs()),
    )
