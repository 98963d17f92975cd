"""A shared location with no command: whatever waits for a location receives it."""
from bot.context import Context
from bot.errors import UsageError
from bot.handlers.args import Param
from bot.handlers.registry import LOCATION_COMMAND, command
from bot.messages import Reply


@command(LOCATION_COMMAND, params=[Param("coordinates", kind="text", optional=True)], hidden=True)
def location(ctx: Context, coordinates: str | None) -> Reply:
    if ctx.incoming.location is None:
        raise UsageError(LOCATION_COMMAND)
    return ctx.reply("errors/no_location_expected")
