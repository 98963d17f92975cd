"""A shared location with no command: whatever waits for a location receives it (bot.services.visits.shared_location)."""

from bot.context import Context
from bot.errors import UsageError
from bot.handlers.args import Param
from bot.handlers.registry import LOCATION_COMMAND, command
from bot.handlers.visits import nearby, visits
from bot.messages import TYPED, Reply
from bot.services.visits import shared_location
from bot.services.visits.customer_location import CustomerLocated
from bot.services.visits.location_checks import Fix
from bot.services.visits.nearby import Nearby
from bot.services.visits.refusals import Refused


@command(LOCATION_COMMAND, params=[Param("coordinates", kind="text", optional=True)], hidden=True)
def location(ctx: Context, coordinates: str | None) -> list[Reply]:
    shared = ctx.incoming.location
    if shared is None and ctx.incoming.location_ask != TYPED:
        return [visits.share_location(ctx)]  # asked the platform's way: nobody types coordinates there
    if shared is None:
        raise UsageError(LOCATION_COMMAND)
    fix = Fix(
        shared.latitude, shared.longitude, shared.accuracy_m, shared.source,
        taken_at=shared.taken_at or ctx.incoming.sent_at or ctx.now, arrived_at=ctx.now, forwarded=shared.forwarded,
        heading=shared.heading,
    )
    result = shared_location.receive_location(
        ctx.uow, ctx.user_id, fix, ctx.now, ctx.incoming.is_private, shared.message_id, shared.edited
    )
    if result is None:
        return []
    if isinstance(result, Refused):  # told like any refusal; the visit it was meant for keeps a trace
        return [ctx.reply(f"errors/{result.template}", **result.params)]
    if isinstance(result, shared_location.LiveUpdate):
        # Live updates arrive every few seconds: answer only when they change the verdict.
        return [ctx.reply("visits/live_changed", update=result)] if result.changed else []
    if isinstance(result, Nearby):
        return [nearby.listed(ctx, result)]
    if isinstance(result, CustomerLocated):
        return [ctx.reply("visits/customer_located", located=result)]
    template = "visits/pinned" if result.kind == "visit" else "attendance/pinned"
    return [ctx.reply(template, pinned=result)]
