"""/nudges on|off: a rep's own switch for private nudges."""
from bot.context import Context
from bot.handlers.args import Param
from bot.handlers.registry import command
from bot.messages import Reply
from bot.services.deals import nudges


@command("nudges", params=[Param("state", kind="choice", choices=("on", "off"))], group="1-today")
def set_nudges(ctx: Context, state: str) -> Reply:
    enabled = nudges.set_enabled(ctx.uow, ctx.user_id, state == "on")
    return ctx.reply("nudges/set", enabled=enabled)
