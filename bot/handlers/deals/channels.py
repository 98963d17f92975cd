"""A team channel set up from inside it: /channel, /channel set, /channel link, /channel unlink.
Typed in a group chat only; the answers (errors too) are for the whole channel."""
from bot.context import Context
from bot.handlers.args import Param, assignments
from bot.handlers.registry import Access, command
from bot.messages import Audience, Reply
from bot.services.deals import channel_admin

GROUP = "5-team"


def _chat(ctx: Context) -> channel_admin.Chat | None:
    """Where it was typed; None in a private chat, where there is no channel to speak of."""
    incoming = ctx.incoming
    if incoming.is_private:
        return None
    return channel_admin.Chat(incoming.platform, incoming.workspace, incoming.chat_id)


@command("channel", group="6-account", audience=Audience.GROUP)  # everyone may look
def show(ctx: Context) -> Reply:
    chat = _chat(ctx)
    if chat is None:
        return ctx.reply("channel/private_only")
    return ctx.reply("channel/settings", channel=channel_admin.show(ctx.uow, chat))


@command("channel set", access=Access.MANAGER, params=[Param("settings", "words")], group=GROUP,
         audience=Audience.GROUP)
def set_(ctx: Context, settings: list[str]) -> Reply:
    chat = _chat(ctx)
    if chat is None:
        return ctx.reply("channel/private_only")
    typed = assignments("channel set", settings)
    changed = channel_admin.set_settings(ctx.uow, ctx.user_id, chat, typed)
    return ctx.reply("channel/changed", changed=changed)


@command("channel link", access=Access.MANAGER, params=[Param("unit_name", "text")], group=GROUP,
         audience=Audience.GROUP)
def link(ctx: Context, unit_name: str) -> Reply:
    chat = _chat(ctx)
    if chat is None:
        return ctx.reply("channel/private_only")
    linked = channel_admin.link(ctx.uow, ctx.user_id, chat, unit_name, ctx.settings.DEFAULT_TIMEZONE)
    return ctx.reply("channel/linked", linked=linked)


@command("channel unlink", access=Access.MANAGER, group=GROUP, audience=Audience.GROUP)
def unlink(ctx: Context) -> Reply:
    chat = _chat(ctx)
    if chat is None:
        return ctx.reply("channel/private_only")
    return ctx.reply("channel/unlinked", channel=channel_admin.unlink(ctx.uow, ctx.user_id, chat))
