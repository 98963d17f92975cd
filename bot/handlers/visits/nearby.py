"""/nearby [RADIUS]: customers and pool leads around the rep, each with its Visit or Claim button
(bot.services.visits.nearby); without a recent position it asks for one, the platform's way."""
from bot.context import Context
from bot.handlers.args import Param
from bot.handlers.registry import command
from bot.handlers.visits.visits import ask_location
from bot.i18n import button
from bot.messages import Reply
from bot.services.visits import nearby as nearby_service
from bot.services.visits.customer_location import NearbyAsked
from bot.services.visits.nearby import Nearby


@command("nearby", params=[Param("radius", kind="text", optional=True)], aliases=("附近",), group="2-visits")
def nearby(ctx: Context, radius: str | None) -> Reply:
    found = nearby_service.nearby(ctx.uow, ctx.user_id, radius, ctx.now)
    if isinstance(found, NearbyAsked):  # no position of the last 15 minutes: the next one answers
        return ask_location(ctx, "visits/nearby_waiting", None, asked=found, request_id=found.request_id)
    return listed(ctx, found)


def listed(ctx: Context, found: Nearby) -> Reply:
    """The list, with a button per place: visit a customer, claim a lead."""
    reply = ctx.reply(nearby_service.LIST_TEMPLATE, nearby=found)
    for made in nearby_service.place_buttons(found):
        reply.buttons.append(button(made["label"], ctx.locale, made["payload"], made.get("style", "default"),
                                    **made["params"]))
    return reply
