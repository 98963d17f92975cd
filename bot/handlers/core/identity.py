"""Joining, who am I, help and language: the commands every user has from day one."""
from bot.context import Context
from bot.handlers.args import Param
from bot.handlers.registry import ROLE_ACCESS, SHARE_LOCATION_COMMAND, Access, command
from bot.i18n import command_info, label
from bot.messages import Reply
from bot.services.core import identity


@command("join", access=Access.PUBLIC, params=[Param("code")], group="0-account")
def join(ctx: Context, code: str) -> Reply:
    incoming = ctx.incoming
    if not incoming.is_private:
        return ctx.reply("join/private_only")
    joined = identity.join(
        ctx.uow, code, incoming.platform, incoming.workspace, incoming.user_id,
        dm_chat_id=incoming.chat_id, now=ctx.now,
    )
    return ctx.reply_in(
        joined.locale, "join/welcome", joined=joined, role=label(f"role_{joined.role}", joined.locale)
    )


@command("start", access=Access.PUBLIC, params=[Param("code", optional=True)], hidden=True)
def start(ctx: Context, code: str | None) -> Reply:
    """Telegram's deep link t.me/<bot>?start=CODE arrives as /start CODE; ?start=share_location is
    the link a group's /visit or /checkin gives, to share the location in the private chat."""
    if code == SHARE_LOCATION_COMMAND:
        if ctx.user is None or not ctx.user.active:
            return ctx.reply("errors/not_linked")
        shared = ctx.commands.lookup(SHARE_LOCATION_COMMAND)
        assert shared is not None
        return shared.handler(ctx)
    if code:
        return join(ctx, code)
    if ctx.user is None:
        return ctx.reply("errors/not_linked")
    return help_(ctx)


@command("whoami", group="0-account")
def whoami(ctx: Context) -> Reply:
    me = identity.profile(ctx.uow, ctx.user_id)
    return ctx.reply("whoami", me=me, role=label(f"role_{me.role}", ctx.locale))


@command("help", aliases=("h", "帮助"), group="0-account")
def help_(ctx: Context) -> Reply:
    assert ctx.user is not None
    commands = [
        command_info(ctx.locale, c.name) for c in ctx.commands.visible_to(ROLE_ACCESS.get(ctx.user.role, Access.MEMBER))
    ]
    return ctx.reply("help", commands=commands, platform=ctx.incoming.platform)


@command("lang", params=[Param("locale", kind="word")], group="0-account")
def lang(ctx: Context, locale: str) -> Reply:
    chosen = identity.set_locale(ctx.uow, ctx.user_id, locale.lower())
    return ctx.reply_in(chosen, "lang_set")
