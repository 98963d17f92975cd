"""From a neutral Incoming to replies: dedupe, identify, check access, parse, run, render.

Every front end calls Router.handle (in a worker thread: services are synchronous).
The command's writes, its dedupe row and its outbox rows commit in one transaction.
"""
import difflib
import logging
from dataclasses import replace

from sqlalchemy.exc import IntegrityError, InterfaceError, OperationalError

from bot.actor import CURRENT_ACTOR, Actor
from bot.config import Settings
from bot.context import Context
from bot.errors import UsageError, UserError
from bot.handlers import load_all
from bot.handlers.args import parse
from bot.handlers.registry import LOCATION_COMMAND, ROLE_ACCESS, Access, lookup, visible_to
from bot.i18n import COMMAND_PREFIX, command_info, pick_locale, render
from bot.messages import Incoming, Reply
from bot.services import identity, outbox
from db.base import utcnow
from db.session import Database

log = logging.getLogger(__name__)


class Router:
    def __init__(self, db: Database, settings: Settings, clock=utcnow):
        load_all()
        self.db = db
        self.settings = settings
        self.clock = clock

    def handle(self, incoming: Incoming) -> list[Reply]:
        incoming = self._normalise(incoming)
        COMMAND_PREFIX.set("/crm " if incoming.platform == "slack" else "/")
        try:
            return self._handle(incoming)
        except (OperationalError, InterfaceError):
            log.warning("database unavailable while handling %s", incoming.command, exc_info=True)
            return [render("errors/try_again", self._fallback_locale(incoming))]
        except Exception:
            log.exception("unhandled error in command %r", incoming.command)
            return [render("errors/internal", self._fallback_locale(incoming))]

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

    def _handle(self, incoming: Incoming) -> list[Reply]:
        with self.db.uow() as uow:
            if incoming.event_id and not identity.claim_event(uow, incoming.platform, incoming.event_id):
                log.info("duplicate %s event %s ignored", incoming.platform, incoming.event_id)
                return []
            user = identity.resolve_user(uow, incoming.platform, incoming.workspace, incoming.user_id)
            CURRENT_ACTOR.set(Actor(user.id if user else None, incoming.platform))
            locale = user.locale if user else self._fallback_locale(incoming)
            ctx = Context(uow, incoming, user, locale, self.clock(), self.settings)
            try:
                replies = self._run(ctx)
                direct = outbox.queue_direct_replies(uow, replies)
                uow.commit()
                return direct
            except UserError as error:
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

    def _run(self, ctx: Context) -> list[Reply]:
        incoming, user = ctx.incoming, ctx.user
        cmd = lookup(incoming.command)
        linked = user is not None and user.active
        if not linked and (cmd is None or cmd.access is not Access.PUBLIC):
            return [ctx.reply("errors/not_linked")]
        access = ROLE_ACCESS.get(user.role, Access.MEMBER) if linked else Access.PUBLIC
        if cmd is None:
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
