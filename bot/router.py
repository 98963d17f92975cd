"""From a neutral Incoming to replies: dedupe, identify, check access, parse, run, render.

Front ends call Router.handle_async: the command runs in one of the router's few threads
(services are synchronous), so the event loop goes on acking requests meanwhile.
The command's writes, its dedupe row with its answer and its outbox rows commit in one transaction;
the front end tells Router.sent_async when the answer left, and a redelivered event whose answer
never did gets it again (bot.services.core.answers).
"""
import asyncio
import contextvars
import difflib
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextvars import ContextVar
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy.exc import IntegrityError, InterfaceError, OperationalError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from bot.actor import CURRENT_ACTOR, Actor
from bot.config import Settings
from bot.context import Context
from bot.errors import UsageError, UserError
from bot.handlers.args import parse, parse_form
from bot.handlers.registry import LOCATION_COMMAND, PHOTO_COMMAND, ROLE_ACCESS, Access, CommandTable
from bot.handouts import Handouts
from bot.i18n import command_info, pick_locale, render
from bot.messages import Audience, Incoming, Reply
from bot.metrics import Metrics
from bot.ratelimit import RateLimiter
from bot.services.core import answers, identity
from bot.services.core.answers import EventKey
from db import watchdog
from db.base import utcnow
from db.session import Database, UnitOfWork

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
# A file bigger than this is not kept with a stored answer (a redelivery says to ask for it again):
# exports and charts would grow every dedupe row by up to megabytes.
KEPT_FILE_LIMIT = 64 * 1024


@dataclass
class Trace:
    """What one command did, for metrics: set as the router learns it."""

    outcome: str = "ok"
    locale: str | None = None
    # Who may see the command's answers, errors too; CHAT until a command is found (an unknown word,
    # "join first" and the rate limit carry nothing personal).
    audience: Audience = Audience.CHAT
    remembered_locale: str | None = None  # the rate limiter's memory of the user's language


class Router:
    """Built by bot.bootstrap.build_router with the process's command table, metrics and rate limiter."""

    def __init__(self, db: Database, settings: Settings, commands: CommandTable, *, metrics: Metrics,
                 limiter: RateLimiter, clock: Callable[[], datetime] = utcnow):
        self.db = db
        self.commands = commands
        self.settings = settings
        self.metrics = metrics
        self.clock = clock
        self.limiter = limiter
        self._executor: ThreadPoolExecutor | None = None
        self._executor_lock = threading.Lock()
        self.handouts = Handouts()  # answers handed to the front ends, not yet reported sent
        self._answered: list[EventKey] = []  # reported sent, to be marked in the next batch
        self._marking: asyncio.Future | None = None

    async def handle_async(self, incoming: Incoming) -> list[Reply]:
        """handle() in one of the router's few threads, for the event loop, answered within the
        command timeout (db.watchdog) counted from now: a command still queued then never runs and
        is told to try again; a running one has that deadline on its database work."""
        at = time.monotonic() + self.settings.DATABASE_COMMAND_TIMEOUT
        job = self._threads().submit(contextvars.copy_context().run, self.handle, incoming, at)
        running = asyncio.wrap_future(job)
        done, _ = await asyncio.wait({running}, timeout=at - time.monotonic())
        if not done and job.cancel():
            incoming = self._normalise(incoming)
            trace = Trace(outcome="try_again")
            log.warning("database busy: %s waited %g s for a free command thread", incoming.command,
                        self.settings.DATABASE_COMMAND_TIMEOUT)
            self._record(incoming, trace, self.settings.DATABASE_COMMAND_TIMEOUT)
            return [self._try_again_reply(incoming, trace)]
        return await running

    def _threads(self) -> ThreadPoolExecutor:
        if self._executor is None:
            with self._executor_lock:
                if self._executor is None:
                    self._executor = ThreadPoolExecutor(COMMAND_THREADS, thread_name_prefix="router")
        return self._executor

    async def aclose(self) -> None:
        """Let the commands in flight finish and the answers sent be marked (app shutdown)."""
        await self.marked()
        if self._executor is not None:
            await asyncio.to_thread(self._executor.shutdown, wait=True)

    def handle(self, incoming: Incoming, deadline: float | None = None) -> list[Reply]:
        """Run one event; its database work must be done by `deadline` (time.monotonic(); default:
        the command timeout from now), else the user is told to try again."""
        incoming = self._normalise(incoming)
        started = time.perf_counter()
        trace = Trace()
        at = time.monotonic() + self.settings.DATABASE_COMMAND_TIMEOUT if deadline is None else deadline
        try:
            with watchdog.deadline_at(at):
                refused = self._rate_limited(incoming, trace)
                replies = refused if refused is not None else self._handle(incoming, trace)
        except (OperationalError, InterfaceError, PoolTimeout) as exc:
            trace.outcome = "try_again"
            # One line, not a traceback per command: an outage would bury everything else.
            log.warning("database unavailable while handling %s: %s", incoming.command,
                        str(getattr(exc, "orig", None) or exc).splitlines()[0][:300])
            replies = [self._try_again_reply(incoming, trace)]
        except Exception:
            trace.outcome = "internal"
            log.exception("unhandled error in command %r", incoming.command)
            replies = [render("errors/internal", self._fallback_locale(incoming), command_prefix=incoming.command_prefix)]
        self._record(incoming, trace, time.perf_counter() - started)
        return replies

    def _try_again_reply(self, incoming: Incoming, trace: Trace) -> Reply:
        """In the language the user was last answered in (the database cannot say now)."""
        locale = pick_locale(trace.remembered_locale, incoming.language_hint, self.settings.DEFAULT_LOCALE)
        return render("errors/try_again", locale, command_prefix=incoming.command_prefix)

    def _record(self, incoming: Incoming, trace: Trace, seconds: float) -> None:
        LAST_OUTCOME.set(trace.outcome)
        self.metrics.command_done(self._metric_name(incoming), trace.outcome, seconds)
        if trace.locale and incoming.platform not in UNLIMITED_PLATFORMS:
            self.limiter.remember_locale(self._limit_key(incoming), trace.locale)

    @staticmethod
    def _limit_key(incoming: Incoming) -> tuple[str, str, str]:
        return (incoming.platform, incoming.workspace, incoming.user_id)

    def _rate_limited(self, incoming: Incoming, trace: Trace) -> list[Reply] | None:
        """Refuse before any database work; the refusal is told once per streak, then floods are dropped."""
        if incoming.platform in UNLIMITED_PLATFORMS:
            return None
        verdict = self.limiter.check(self._limit_key(incoming))
        trace.remembered_locale = verdict.locale
        if verdict.allowed:
            return None
        trace.outcome = "rate_limited"
        self.metrics.rate_limited.labels(incoming.platform).inc()
        if not verdict.tell:
            return []
        log.warning("rate limit: %s user %s refused for %ss", incoming.platform, incoming.user_id, verdict.wait_seconds)
        locale = pick_locale(verdict.locale, incoming.language_hint, self.settings.DEFAULT_LOCALE)
        return [render("errors/rate_limited", locale, command_prefix=incoming.command_prefix,
                       seconds=verdict.wait_seconds)]

    def _metric_name(self, incoming: Incoming) -> str:
        """Declared names only: arbitrary typed words must not become metric series."""
        cmd = self.commands.resolve(incoming.command, incoming.args)[0] if incoming.command else None
        return cmd.name if cmd is not None else ("(none)" if not incoming.command else "(unknown)")

    def _normalise(self, incoming: Incoming) -> Incoming:
        if incoming.button and not incoming.command:
            # A button carries a command line; it is re-parsed and re-checked like typed text.
            name, _, rest = incoming.button.strip().lstrip("/").partition(" ")
            return replace(incoming, command=name.lower(), args=rest)
        if incoming.location and not incoming.command:
            return replace(incoming, command=LOCATION_COMMAND)
        if incoming.attachment is not None and not incoming.command:
            return replace(incoming, command=PHOTO_COMMAND)
        return replace(incoming, command=incoming.command.lower().lstrip("/"))

    def _fallback_locale(self, incoming: Incoming) -> str:
        return pick_locale(incoming.language_hint, self.settings.DEFAULT_LOCALE)

    def _handle(self, incoming: Incoming, trace: Trace) -> list[Reply]:
        key = event_key(incoming)
        with self.db.uow() as uow:
            if key is not None and not identity.claim_event(uow, key.platform, key.workspace, key.event_id):
                return self._duplicate(uow, incoming, key, trace)
            user = identity.resolve_user(uow, incoming.platform, incoming.workspace, incoming.user_id)
            CURRENT_ACTOR.set(Actor(user.id if user else None, incoming.platform))
            locale = user.locale if user else self._fallback_locale(incoming)
            trace.locale = user.locale if user else None
            ctx = Context(uow, incoming, user, locale, self.clock(), self.settings, self.commands)
            try:
                replies = self._for_whom(self._run(ctx, trace), trace, incoming)
                self._keep(uow, key, replies)
                uow.commit()
                trace.locale = user.locale if user else None  # /lang may just have changed it
            except UserError as error:
                trace.outcome = "usage_error" if isinstance(error, UsageError) else "refused"
                uow.rollback()
                refusal = self._for_whom([self._render_error(error, locale, incoming.command_prefix)], trace,
                                         incoming)
                self._remember_event(key, refusal)
                return refusal
            return replies

    @staticmethod
    def _for_whom(replies: list[Reply], trace: Trace, incoming: Incoming) -> list[Reply]:
        """Typed in a group chat, every answer of the command, errors too, carries its declared
        audience: the platforms send a PRIVATE one to the caller alone, a GROUP one to all."""
        if trace.audience is not Audience.CHAT and not incoming.is_private:
            return [replace(reply, audience=trace.audience) for reply in replies]
        return replies

    def _remember_event(self, key: EventKey | None, refusal: list[Reply]) -> None:
        """A refused command still consumed its event: a retry must not act, and gets the same answer."""
        if key is None:
            return
        with self.db.uow() as uow:
            try:
                if identity.claim_event(uow, key.platform, key.workspace, key.event_id):
                    self._keep(uow, key, refusal)
                    uow.commit()
            except IntegrityError:
                pass

    # -- the kept answer: written with the effect, sent again to a redelivery until confirmed sent

    def _keep(self, uow: UnitOfWork, key: EventKey | None, replies: list[Reply]) -> None:
        """Store the answer with the effect; noted as on its way before the commit, so a retry
        waiting on the claim finds it so. No replies: nothing to keep, nothing to wait for."""
        if key is not None and replies:
            answers.keep(uow, key, [reply.to_json(KEPT_FILE_LIMIT) for reply in replies])
            self.handouts.hand_out(key)

    def _duplicate(self, uow: UnitOfWork, incoming: Incoming, key: EventKey, trace: Trace) -> list[Reply]:
        """A redelivered event: nothing again, unless its answer was never confirmed sent."""
        trace.outcome = "duplicate"
        kept = answers.kept(uow, key)
        if kept is None or not kept.unsent or not self.handouts.hand_out_again(key, kept.received_at):
            log.info("duplicate %s event %s ignored", incoming.platform, incoming.event_id)
            return []
        trace.outcome = "resent"
        log.info("duplicate %s event %s: its answer was never confirmed sent, sending it again",
                 incoming.platform, incoming.event_id)
        return [reply for data in kept.answer or [] for reply in self._restored(data, incoming)]

    def _restored(self, data: dict, incoming: Incoming) -> list[Reply]:
        """A kept reply; a file that was too big to keep becomes a line saying to ask for it again."""
        reply = Reply.from_json(data)
        if "file_dropped" not in data:
            return [reply]
        locale = reply.locale or self._fallback_locale(incoming)
        return [reply, render("answers/file_again", locale, command_prefix=incoming.command_prefix,
                              file_name=data["file_dropped"],
                              command=f"{incoming.command} {incoming.args}".strip()[:200])]

    def sent(self, incoming: Incoming, delivered: bool) -> None:
        """The front end is done with the answer to `incoming`; `delivered`: every reply left. Marks
        the row at once (sent_async batches); only for an answer this process handed out."""
        key = event_key(incoming)
        if key is None or not self.handouts.sending(key):
            return
        if delivered:
            self._mark_answered([key])
        else:
            self.handouts.reported(key, delivered=False)

    async def sent_async(self, incoming: Incoming, delivered: bool) -> None:
        """sent() for the event loop, without waiting: the answers reported sent meanwhile are
        marked together, one executemany UPDATE by the dedupe key in one of the router's threads.
        Each stays noted as on its way until its mark commits, so a retry between never resends it;
        a crash before the mark repeats it once at most."""
        key = event_key(incoming)
        if key is None or not self.handouts.sending(key):
            return
        if not delivered:
            self.handouts.reported(key, delivered=False)
            return
        self._answered.append(key)
        if self._marking is None or self._marking.done():
            self._marking = asyncio.ensure_future(self._mark_batches())

    async def marked(self) -> None:
        """Wait until every answer reported sent is marked (tests, shutdown)."""
        while self._marking is not None and not self._marking.done():
            await asyncio.shield(self._marking)

    async def _mark_batches(self) -> None:
        loop = asyncio.get_running_loop()
        while self._answered:
            keys, self._answered = self._answered, []
            await loop.run_in_executor(self._threads(), self._mark_answered, keys)

    def _mark_answered(self, keys: list[EventKey]) -> None:
        try:
            with watchdog.deadline(self.settings.DATABASE_COMMAND_TIMEOUT), self.db.uow() as uow:
                answers.mark_answered(uow, keys, utcnow())
                uow.commit()
        except SQLAlchemyError as exc:  # the answers did leave: a redelivery would only repeat one once
            log.warning("could not mark %d answered events: %s", len(keys), str(exc).splitlines()[0][:300])
        finally:
            for key in keys:
                self.handouts.reported(key, delivered=True)

    def _run(self, ctx: Context, trace: Trace) -> list[Reply]:
        incoming, user = ctx.incoming, ctx.user
        linked = user is not None and user.active
        if incoming.text is not None and not incoming.command:
            return [self._plain_text(ctx, linked, trace)]
        cmd, args = self.commands.resolve(incoming.command, incoming.args)
        if not linked and (cmd is None or cmd.access is not Access.PUBLIC):
            trace.outcome = "not_linked"
            return [ctx.reply("errors/not_linked")]
        access = ROLE_ACCESS.get(user.role, Access.MEMBER) if linked else Access.PUBLIC
        if cmd is None:
            trace.outcome = "unknown"
            return [self._unknown(ctx, access)]
        trace.audience = cmd.audience
        if cmd.access > access:
            raise UserError("forbidden", command=cmd.name)
        kwargs = (parse(cmd.name, args, cmd.params, cmd.flags) if incoming.form is None
                  else parse_form(cmd.name, incoming.form, cmd.params, cmd.flags))
        result = cmd.handler(ctx, **kwargs)
        replies = result if isinstance(result, list) else [result]
        if any(reply.refused for reply in replies):  # answered, not raised (a refused position, "not linked")
            trace.outcome = "refused"
        return replies

    @staticmethod
    def _plain_text(ctx: Context, linked: bool, trace: Trace) -> Reply:
        """Words that are no command, in a private chat: how to join, or where the commands are."""
        trace.outcome = "plain_text" if linked else "not_linked"
        return ctx.reply("errors/plain_text" if linked else "errors/not_linked")

    def _unknown(self, ctx: Context, access: Access) -> Reply:
        names = [c.name for c in self.commands.visible_to(access)]
        guess = difflib.get_close_matches(ctx.incoming.command, names, n=1, cutoff=0.5)
        return ctx.reply(
            "errors/unknown_command", command=ctx.incoming.command[:40], suggestion=guess[0] if guess else None
        )

    def _render_error(self, error: UserError, locale: str, command_prefix: str) -> Reply:
        if isinstance(error, UsageError):
            reply = render(f"errors/{error.template}", locale, command_prefix=command_prefix,
                           usage=command_info(locale, error.command)["usage"], **error.params)
        else:
            reply = render(f"errors/{error.template}", locale, command_prefix=command_prefix, **error.params)
        return replace(reply, refused_field=error.field)


def event_key(incoming: Incoming) -> EventKey | None:
    """The dedupe key of an event the platform may deliver again; None when it never does."""
    if not incoming.event_id:
        return None
    return EventKey.of(incoming.platform, incoming.workspace, incoming.event_id)


def command_line(text: str) -> tuple[str, str]:
    """Split '/cmd args' (or 'cmd args') into name and argument text."""
    text = text.strip()
    if not text:
        return "", ""
    name, _, rest = text.lstrip("/").partition(" ")
    name, _, _bot = name.partition("@")  # Telegram's /cmd@botname in groups
    return name.lower(), rest.strip()
