"""Customers: /customers and /customer <id> [setloc|reanchor|tier LETTER REASON|tier auto|contact NAME
--birthday MM-DD --language zh]."""
from bot.context import Context
from bot.errors import UsageError
from bot.handlers import paging
from bot.handlers.args import Flag, Param
from bot.handlers.registry import command
from bot.messages import Reply
from bot.services.customers import cadence, followups, tiers
from bot.services.leads import contacts, conversion
from bot.services.visits import reanchoring

GROUP = "3-leads"


@command("customers", flags=[paging.PAGE_FLAG], group=GROUP)
def list_(ctx: Context, page: int | None) -> Reply:
    result = conversion.list_customers(ctx.uow, ctx.user_id, ctx.now.date(), page)
    reply = ctx.reply("customers/list", result=result)
    return paging.add_buttons(ctx, reply, "customers", result.page)


@command("customer", params=[Param("customer"),
                             Param("action", "choice", optional=True, choices=("setloc", "reanchor", "tier", "contact")),
                             Param("detail", "text", optional=True)],
         flags=[Flag("birthday", "word"), Flag("language", "word")], group=GROUP)
def show(ctx: Context, customer: str, action: str | None, detail: str | None, birthday: str | None,
         language: str | None) -> Reply:
    """`detail` is the tier and its reason after `tier`, the contact's name after `contact`."""
    if action == "contact":
        done = contacts.set_contact(ctx.uow, ctx.user_id, conversion.customer_id(customer), detail, birthday, language,
                                    ctx.now)
        return ctx.reply("customers/contact_set", done=done)
    if birthday or language:
        raise UsageError("customer")
    if action == "tier":
        tier, _, reason = (detail or "").partition(" ")
        return _tier(ctx, customer, tier or None, reason.strip() or None)
    if detail is not None:
        raise UsageError("customer")
    if action == "setloc":
        setloc = ctx.commands.lookup("setloc")
        if setloc is None:
            raise UsageError("customer")
        return setloc.handler(ctx, customer=str(conversion.customer_id(customer)))
    if action == "reanchor":
        done = reanchoring.reanchor_customer(ctx.uow, ctx.user_id, conversion.customer_id(customer), ctx.now)
        return ctx.reply("customers/reanchored", done=done)
    found = conversion.customer_detail(ctx.uow, ctx.user_id, customer, ctx.now.date())
    return ctx.reply("customers/detail", customer=found,
                     standing=cadence.standing(ctx.uow, found.id, found.owner_id, ctx.now.date()),
                     followups=followups.recent(ctx.uow, ctx.user_id, found.id))


def _tier(ctx: Context, customer: str, tier: str | None, reason: str | None) -> Reply:
    """`tier B reason` pins a tier (managers), `tier auto` goes back to the computed one."""
    if tier is None:
        raise UsageError("customer")
    if tier.lower() in tiers.AUTO_WORDS:
        return ctx.reply("customers/tier_set", tier=tiers.unpin(ctx.uow, ctx.user_id, customer, ctx.now))
    return ctx.reply("customers/tier_set", tier=tiers.pin(ctx.uow, ctx.user_id, customer, tier, reason, ctx.now))
