"""Leads: /leads, /lead, /newlead, /follow, /invalid, /void, /convert."""
from decimal import Decimal

from bot.context import Context
from bot.handlers import paging
from bot.handlers.args import Flag, Param
from bot.handlers.registry import command
from bot.handlers.reminders.reminders import noted_buttons
from bot.i18n import button
from bot.messages import Reply
from bot.services.customers import followups
from bot.services.leads import conversion, lifecycle, reading
from bot.services.reminders import reminders as note_reading

GROUP = "3-leads"


@command("leads", params=[Param("status", optional=True), Param("who", optional=True)], flags=[paging.PAGE_FLAG],
         group=GROUP)
def list_(ctx: Context, status: str | None, who: str | None, page: int | None) -> Reply:
    result = reading.list_leads(ctx.uow, ctx.user_id, status, who, ctx.now.date(), page)
    reply = ctx.reply("leads/list", result=result)
    return paging.add_buttons(ctx, reply, paging.line("leads", status, who), result.page)


@command("lead", params=[Param("lead")], group=GROUP)
def show(ctx: Context, lead: str) -> Reply:
    found = reading.detail(ctx.uow, ctx.user_id, lead, ctx.now)
    reply = ctx.reply("leads/detail", lead=found)
    if found.claimable:
        reply.buttons.append(button("claim", ctx.locale, f"claim {found.id}", style="primary"))
    return reply


@command("newlead", params=[Param("company"), Param("contact", optional=True), Param("phone", optional=True)],
         flags=[Flag("region", "text"), Flag("source", "text"), Flag("industry", "text"), Flag("pool", "text")],
         group=GROUP)
def new(ctx: Context, company: str, contact: str | None, phone: str | None, region: str | None,
        source: str | None, industry: str | None, pool: str | None) -> Reply:
    created = lifecycle.create(ctx.uow, ctx.user_id, company, contact, phone, ctx.now, region=region, source=source,
                               industry=industry, pool_name=pool,
                               default_phone_region=ctx.settings.DEFAULT_PHONE_REGION)
    return ctx.reply("leads/created", created=created)


@command("follow", params=[Param("lead"), Param("note", "text")], group=GROUP)
def follow(ctx: Context, lead: str, note: str) -> Reply:
    """`lead` is a lead (12, #12, l12) or, with a c, a customer (c12)."""
    customer = followups.customer_ref(lead)
    if customer is not None:
        done = followups.follow(ctx.uow, ctx.user_id, customer, note, ctx.now)
        noted = note_reading.from_note(ctx.uow, ctx.user_id, note, ctx.now, customer_id=done.customer_id)
        return noted_buttons(ctx, ctx.reply("customers/followed", done=done, noted=noted), noted)
    moved = lifecycle.follow(ctx.uow, ctx.user_id, lead, note, ctx.now)
    noted = note_reading.from_note(ctx.uow, ctx.user_id, note, ctx.now, lead_id=moved.lead_id)
    return noted_buttons(ctx, ctx.reply("leads/followed", moved=moved, noted=noted), noted)


@command("invalid", params=[Param("lead"), Param("reason", "text")], group=GROUP)
def invalid(ctx: Context, lead: str, reason: str) -> Reply:
    moved = lifecycle.mark_invalid(ctx.uow, ctx.user_id, lead, reason, ctx.now)
    return ctx.reply("leads/invalidated", moved=moved)


@command("void", params=[Param("lead"), Param("reason", "text")], group=GROUP)
def void(ctx: Context, lead: str, reason: str) -> Reply:
    moved = lifecycle.void(ctx.uow, ctx.user_id, lead, reason, ctx.now)
    return ctx.reply("leads/voided", moved=moved)


@command("convert", params=[Param("lead")], flags=[Flag("contact", "text"), Flag("deal", "decimal")], group=GROUP)
def convert(ctx: Context, lead: str, contact: str | None, deal: Decimal | None) -> Reply:
    converted = conversion.convert(ctx.uow, ctx.user_id, lead, ctx.now, contact_name=contact, deal_amount=deal)
    return ctx.reply("leads/converted", converted=converted)
