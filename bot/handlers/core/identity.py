"""Joining, who am I, help and language: the commands every user has from day one."""
from bot.context import Context
from bot.handlers.args import Param
from bot.handlers.registry import ROLE_ACCESS, SHARE_LOCATION_COMMAND, Access, command
from bot.i18n import command_info, label
from bot.messages import Audience, Reply
from bot.services.core import identity

# What a rep does most, shown first by /help; the rest follows by what people do (each command's group).
MOST_USED = ("visit", "follow", "checkin")


# Group-safe: typed in a group it only says to join in the private chat.
@command("join", access=Access.PUBLIC, params=[Param("code")], group="6-account", audience=Audience.CHAT)
def join(ctx: Context, code: str) -> Reply:
    incoming = ctx.incoming
    if not incoming.is_private:
        return ctx.reply("join/private_only")
    joined = identity.join(
        ctx.uow, code, incoming.platform, incoming.workspace, incoming.user_id,
        dm_chat_id=incoming.chat_id, now=ctx.now, display_name=incoming.display_name,
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


@command("whoami", group="6-account")
def whoami(ctx: Context) -> Reply:
    me = identity.profile(ctx.uow, ctx.user_id)
    return ctx.reply("whoami", me=me, role=label(f"role_{me.role}", ctx.locale))


@command("help", aliases=("h", "帮助"), group="6-account", audience=Audience.CHAT)
def help_(ctx: Context) -> Reply:
    assert ctx.user is not None
    visible = ctx.commands.visible_to(ROLE_ACCESS.get(ctx.user.role, Access.MEMBER))
    top = [command_info(ctx.locale, c.name) for name in MOST_USED for c in visible if c.name == name]
    groups: dict[str, list[dict[str, str]]] = {}
    for c in visible:
        if c.name not in MOST_USED:
            groups.setdefault(c.group.split("-", 1)[-1], []).append(command_info(ctx.locale, c.name))
    return ctx.reply("help", top=top, groups=list(groups.items()), platform=ctx.incoming.platform)


@command("lang", params=[Param("locale", kind="word")], group="6-account", audience=Audience.CHAT)
def lang(ctx: Context, locale: str) -> Reply:
    chosen = identity.set_locale(ctx.uow, ctx.user_id, locale.lower())
    return ctx.reply_in(chosen, "lang_set")
