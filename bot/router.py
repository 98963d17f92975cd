"""From a neutral Incoming to replies: dedupe, identify, check access, parse, run, render.

Every front end calls Router.handle (in a worker thread: services are synchronous), or, with
COMMAND_WORKERS > 0, in worker processes (handle_async); the rate limit, metrics and the
locale memory stay in the main process either way.
The command's writes, its dedupe row and its outbox rows commit in one transaction.
"""
import asyncio
import contextvars
import difflib
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextvars import ContextVar
from dataclasses import dataclass, replace

from sqlalchemy.exc import IntegrityError, InterfaceError, OperationalError

from bot import metrics
from bot.actor import CURRENT_ACTOR, Actor
from bot.config import Settings
from bot.context import Context
from bot.errors import UsageError, UserError
from bot.handlers import load_all
from bot.handlers.args import parse
from bot.handlers.registry import LOCATION_COMMAND, ROLE_ACCESS, Access, lookup, visible_to
from bot.i18n import COMMAND_PREFIX, command_info, pick_locale, render
from bot.messages import Incoming, Reply
from bot.ratelimit import RateLimiter, from_settings
from bot.services.core import identity, outbox
from bot.workers import Answer, WorkerPool
from db.base import utcnow
from db.session import Database

log = logging.getLogger(__name__)

# Platforms whose people are operators at a terminal, not chat users: never rate limited.
UNLIMITED_PLATFORMS = frozenset({"console"})
# How the last command handled in this context ended (tests and metrics read it).
LAST_OUTCOME: ContextVar[str] = ContextVar("LAST_OUTCOME", default="")
# Commands run at most this many at once per process (handle_async). More threads do not answer
# faster: they fight over the GIL with the event loop, which then acks new requests late, and
# each holds a database connection. Work beyond this waits in the queue, costing nothing.
# Measured on 2 cores (bench/slack_path.py, bench/telegram_path.py): 2 beat 4 and the default 6.
# The price: two long commands (an export) at once delay the others' answers, never their acks.
COMMAND_THREADS = 2


@dataclass
class Trace:
    """What one command did, for metrics: set as the router learns it."""

    outcome: str = "ok"
    locale: str | None = None


@dataclass
class Outcome:
    """One command's replies and what the main process records about it (crosses process bounds)."""

    replies: list[Reply]
    outcome: str
    command: str  # metric name: a registered command, "(none)" or "(unknown)"
    seconds: float
    locale: str | None = None  # the CRM user's language, when known


class Router:
    def __init__(self, db: Database, settings: Settings, clock=utcnow, limiter: RateLimiter | None = None):
        load_all()
        self.db = db
        self.settings = settings
        self.clock = clock
        self.limiter = limiter if limiter is not None else from_settings(settings)
        self._executor: ThreadPoolExecutor | None = None
        self._executor_lock = threading.Lock()
        workers = max(0, settings.COMMAND_WORKERS)
        self._worker_pool = WorkerPool(settings, workers) if workers else None

    async def handle_async(self, incoming: Incoming, answer_in_worker: Answer | None = None) -> list[Reply]:
        """handle() in one of the router's few worker threads (or processes), for the event loop.

        answer_in_worker: how a worker process may post the replies itself (a picklable callable
        taking them); those replies are then not returned. Threads always return them."""
        if self._worker_pool is not None:
            return await self._handle_in_workers(incoming, answer_in_worker)
        context = contextvars.copy_context()
        return await asyncio.get_running_loop().run_in_executor(self._workers(), context.run, self.handle, incoming)

    def _workers(self) -> ThreadPoolExecutor:
        if self._executor is None:
            with self._executor_lock:
                if self._executor is None:
                    self._executor = ThreadPoolExecutor(COMMAND_THREADS, thread_name_prefix="router")
        return self._executor

    # ------------------------------------------------------------ worker processes

    async def _handle_in_workers(self, incoming: Incoming, answer: Answer | None) -> list[Reply]:
        """Rate limit here (one bucket per user whichever worker runs him), run in a worker, record here."""
        started = time.perf_counter()
        normalised = self._normalise(incoming)
        COMMAND_PREFIX.set("/crm " if normalised.platform == "slack" else "/")
        trace = Trace()
        refused = self._rate_limited(normalised, trace)
        if refused is not None:
            self._record(normalised, Outcome(refused, trace.outcome, self._metric_name(normalised),
                                             time.perf_counter() - started))
            return refused
        try:
            result = await self._worker_pool.run(incoming, answer)
        except Exception:  # logged by the pool; the user gets the polite line in his own language
            locale = await asyncio.to_thread(self._user_locale, normalised)
            result = Outcome([render("errors/internal", locale)], "internal", self._metric_name(normalised),
                             time.perf_counter() - started)
        self._record(normalised, result)
        return result.replies

    def _user_locale(self, incoming: Incoming) -> str:
        """The user's own language for a reply written in the main process (a worker crashed)."""
        try:
            with self.db.uow() as uow:
                user = identity.resolve_user(uow, incoming.platform, incoming.workspace, incoming.user_id)
                if user is not None:
                    return user.locale
        except Exception:
            log.warning("could not read the locale of %s user %s", incoming.platform, incoming.user_id)
        return self._fallback_locale(incoming)

    def worker_pids(self) -> list[int]:
        """The command worker processes running now (COMMAND_WORKERS > 0)."""
        return self._worker_pool.pids() if self._worker_pool is not None else []

    async def aclose(self) -> None:
        """Stop the worker processes, if any (app shutdown); commands in flight finish first."""
        if self._worker_pool is not None:
            await self._worker_pool.close()

    def _record(self, incoming: Incoming, result: Outcome) -> None:
        LAST_OUTCOME.set(result.outcome)
        metrics.observe_command(result.command, result.outcome, result.seconds)
        if result.locale and incoming.platform not in UNLIMITED_PLATFORMS:
            self.limiter.remember_locale(self._limit_key(incoming), result.locale)

    def handle(self, incoming: Incoming) -> list[Reply]:
        result = self.measured(incoming)
        self._record(self._normalise(incoming), result)
        return result.replies

    def measured(self, incoming: Incoming, check_limit: bool = True) -> Outcome:
        """handle() without recording: the replies and what to record (a worker process returns it)."""
        incoming = self._normalise(incoming)
        COMMAND_PREFIX.set("/crm " if incoming.platform == "slack" else "/")
        started = time.perf_counter()
        trace = Trace()
        try:
            refused = self._rate_limited(incoming, trace) if check_limit else None
            replies = refused if refused is not None else self._handle(incoming, trace)
        except (OperationalError, InterfaceError) as exc:
            trace.outcome = "try_again"
            # One line, not a traceback per command: an outage would bury everything else.
            log.warning("database unavailable while handling %s: %s", incoming.command,
                        str(exc.orig or exc).splitlines()[0][:300])
            replies = [render("errors/try_again", self._fallback_locale(incoming))]
        except Exception:
            trace.outcome = "internal"
            log.exception("unhandled error in command %r", incoming.command)
            replies = [render("errors/internal", self._fallback_locale(incoming))]
        return Outcome(replies, trace.outcome, self._metric_name(incoming), time.perf_counter() - started, trace.locale)

    @staticmethod
    def _limit_key(incoming: Incoming) -> tuple[str, str, str]:
        return (incoming.platform, incoming.workspace, incoming.user_id)

    def _rate_limited(self, incoming: Incoming, trace: Trace) -> list[Reply] | None:
        """Refuse before any database work; the refusal is told once per streak, then floods are dropped."""
        if incoming.platform in UNLIMITED_PLATFORMS:
            return None
        verdict = self.limiter.check(self._limit_key(incoming))
        if verdict.allowed:
            return None
        trace.outcome = "rate_limited"
        metrics.RATE_LIMITED.inc(incoming.platform)
        if not verdict.tell:
            return []
        log.warning("rate limit: %s user %s refused for %ss", incoming.platform, incoming.user_id, verdict.wait_seconds)
        locale = pick_locale(verdict.locale, incoming.language_hint, self.settings.DEFAULT_LOCALE)
        return [render("errors/rate_limited", locale, seconds=verdict.wait_seconds)]

    @staticmethod
    def _metric_name(incoming: Incoming) -> str:
        """Registered names only: arbitrary typed words must not become metric series."""
        cmd = lookup(incoming.command) if incoming.command else None
        return cmd.name if cmd is not None else ("(none)" if not incoming.command else "(unknown)")

    def _normalise(self, incoming: Incoming) -> Incoming:
        if incoming.button and not incoming.command:
            # A button carries a command line; it is re-parsed and re-checked like typed text.
            name, _, rest = incoming.button.strip().lstrip("/").partition(" ")
            return replace(incoming, command=name.lower(), args=rest)
        if incoming.location and not incoming.command:
            return replace(incoming, command=LOCATION_COMMAND)
        return replace(incoming, command=incoming.command.lower().lstrip("/"))

    def _fallback_locale(self, incoming: Incoming) -> str:
        return pick_locale(incoming.language_hint, self.settings.DEFAULT_LOCALE)

    def _handle(self, incoming: Incoming, trace: Trace) -> list[Reply]:
        with self.db.uow() as uow:
            if incoming.event_id and not identity.claim_event(uow, incoming.platform, incoming.event_id):
                trace.outcome = "duplicate"
                log.info("duplicate %s event %s ignored", incoming.platform, incoming.event_id)
                return []
            user = identity.resolve_user(uow, incoming.platform, incoming.workspace, incoming.user_id)
            CURRENT_ACTOR.set(Actor(user.id if user else None, incoming.platform))
            locale = user.locale if user else self._fallback_locale(incoming)
            trace.locale = user.locale if user else None
            ctx = Context(uow, incoming, user, locale, self.clock(), self.settings)
            try:
                replies = self._run(ctx, trace)
                direct = outbox.queue_direct_replies(uow, replies)
                uow.commit()
                trace.locale = user.locale if user else None  # /lang may just have changed it
                return direct
            except UserError as error:
                trace.outcome = "usage_error" if isinstance(error, UsageError) else "refused"
                uow.rollback()
                self._remember_event(incoming)
                return [self._render_error(error, locale)]

    def _remember_event(self, incoming: Incoming) -> None:
        """A refused command still consumed its event: a retry must not answer twice."""
        if not incoming.event_id:
            return
        with self.db.uow() as uow:
            try:
                if identity.claim_event(uow, incoming.platform, incoming.event_id):
                    uow.commit()
            except IntegrityError:
                pass

    def _run(self, ctx: Context, trace: Trace) -> list[Reply]:
        incoming, user = ctx.incoming, ctx.user
        cmd = lookup(incoming.command)
        linked = user is not None and user.active
        if not linked and (cmd is None or cmd.access is not Access.PUBLIC):
            trace.outcome = "not_linked"
            return [ctx.reply("errors/not_linked")]
        access = ROLE_ACCESS.get(user.role, Access.MEMBER) if linked else Access.PUBLIC
        if cmd is None:
            trace.outcome = "unknown"
            return [self._unknown(ctx, access)]
        if cmd.access > access:
            raise UserError("forbidden", command=cmd.name)
        kwargs = parse(cmd.name, incoming.args, cmd.params, cmd.flags)
        result = cmd.handler(ctx, **kwargs)
        return result if isinstance(result, list) else [result]

    def _unknown(self, ctx: Context, access: Access) -> Reply:
        names = [c.name for c in visible_to(access)]
        guess = difflib.get_close_matches(ctx.incoming.command, names, n=1, cutoff=0.5)
        return ctx.reply(
            "errors/unknown_command", command=ctx.incoming.command[:40], suggestion=guess[0] if guess else None
        )

    def _render_error(self, error: UserError, locale: str) -> Reply:
        if isinstance(error, UsageError):
            return render(
                f"errors/{error.template}", locale, usage=command_info(locale, error.command)["usage"], **error.params
            )
        return render(f"errors/{error.template}", locale, **error.params)


def command_line(text: str) -> tuple[str, str]:
    """Split '/cmd args' (or 'cmd args') into name and argument text."""
    text = text.strip()
    if not text:
        return "", ""
    name, _, rest = text.lstrip("/").partition(" ")
    name, _, _bot = name.partition("@")  # Telegram's /cmd@botname in groups
    return name.lower(), rest.strip()
