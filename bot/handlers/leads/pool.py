"""The public pool (公海): /pool, /claim, /release, /assign."""
from bot.context import Context
from bot.handlers.args import Flag, Param
from bot.handlers.registry import command
from bot.i18n import button
from bot.messages import Reply
from bot.services.leads import claims
from bot.services.leads import pool as pool_service

GROUP = "3-leads"


@command("pool", params=[Param("query", "text", optional=True)],
         flags=[Flag("region", "text"), Flag("source", "text"), Flag("industry", "text")], group=GROUP,
         aliases=("公海",))
def show(ctx: Context, query: str | None, region: str | None, source: str | None, industry: str | None) -> Reply:
    listing = pool_service.page(ctx.uow, ctx.user_id, query, region=region, source=source, industry=industry)
    reply = ctx.reply("pool/page", listing=listing)
    for item in listing.items:
        reply.buttons.append(button("claim_lead", ctx.locale, f"claim {item.id}", style="primary", id=item.id))
    previous = listing.payload(listing.page - 1) if listing.page > 1 else None
    following = listing.payload(listing.page + 1) if listing.has_next else None
    if previous:
        reply.buttons.append(button("previous_page", ctx.locale, previous))
    if following:
        reply.buttons.append(button("next_page", ctx.locale, following))
    return reply


@command("claim", params=[Param("lead")], group=GROUP, aliases=("领取",))
def claim(ctx: Context, lead: str) -> Reply:
    claimed = claims.claim(ctx.uow, ctx.user_id, lead, ctx.now)
    return ctx.reply("pool/claimed", claimed=claimed)


@command("release", params=[Param("lead"), Param("reason", "text", optional=True)], flags=[Flag("pool", "text")],
         group=GROUP)
def release(ctx: Context, lead: str, reason: str | None, pool: str | None) -> Reply:
    released = claims.release(ctx.uow, ctx.user_id, lead, reason, pool, ctx.now)
    return ctx.reply("pool/released", released=released)


@command("assign", params=[Param("lead"), Param("rep")], group=GROUP)
def assign(ctx: Context, lead: str, rep: str) -> Reply:
    assigned = claims.assign(ctx.uow, ctx.user_id, lead, rep, ctx.now)
    return ctx.reply("pool/assigned", assigned=assigned)
