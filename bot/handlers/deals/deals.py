"""Deals: list, show, create, move stage, win, lose, record a payment (回款)."""
from bot.context import Context
from bot.handlers import paging
from bot.handlers.args import Flag, Param
from bot.handlers.registry import command
from bot.i18n import label
from bot.messages import Reply
from bot.services.deals import deals

GROUP = "4-deals"


@command("deals", params=[Param("stage", optional=True)], flags=[paging.PAGE_FLAG], aliases=("商机",), group=GROUP)
def list_deals(ctx: Context, stage: str | None, page: int | None) -> Reply:
    listed = deals.list_deals(ctx.uow, ctx.user_id, stage, ctx.now, page)
    reply = ctx.reply("deals/list", deals=listed.deals, page=listed.page, stage=(stage or "open").lower(),
                      stage_label=_stage_label(ctx))
    return paging.add_buttons(ctx, reply, paging.line("deals", stage), listed.page)


@command("deal", params=[Param("deal")], group=GROUP)
def show_deal(ctx: Context, deal: str) -> Reply:
    return ctx.reply("deals/show", d=deals.show(ctx.uow, ctx.user_id, deal, ctx.now), stage_label=_stage_label(ctx))


@command("newdeal", params=[Param("customer"), Param("amount", kind="decimal"), Param("name", kind="text",
         optional=True)], flags=[Flag("currency", kind="word")], group=GROUP)
def new_deal(ctx: Context, customer: str, amount, name: str | None, currency: str | None) -> Reply:
    created = deals.create(ctx.uow, ctx.user_id, customer, amount, name, currency, ctx.now)
    return ctx.reply("deals/created", d=created)


@command("stage", params=[Param("deal"), Param("stage", kind="text")], group=GROUP)
def stage(ctx: Context, deal: str, stage: str) -> Reply:
    moved = deals.set_stage(ctx.uow, ctx.user_id, deal, stage, ctx.now)
    return ctx.reply("deals/staged", d=moved, stage_label=_stage_label(ctx))


@command("win", params=[Param("deal"), Param("amount", kind="decimal", optional=True)],
         flags=[Flag("currency", kind="word")], aliases=("赢单",), group=GROUP)
def win(ctx: Context, deal: str, amount, currency: str | None) -> Reply:
    result = deals.win(ctx.uow, ctx.user_id, deal, amount, currency, ctx.now)
    return ctx.reply("deals/won", r=result, milestone_label=lambda m: label(f"milestone_{m}", ctx.locale))


@command("lose", params=[Param("deal"), Param("reason", kind="text", optional=True)], group=GROUP)
def lose(ctx: Context, deal: str, reason: str | None) -> Reply:
    lost = deals.lose(ctx.uow, ctx.user_id, deal, reason or "", ctx.locale, ctx.now)
    return ctx.reply("deals/lost", d=lost)


@command("paid", params=[Param("deal"), Param("amount", kind="decimal"), Param("date", kind="date", optional=True)],
         flags=[Flag("confirm"), Flag("currency", kind="word")], aliases=("回款",), group=GROUP)
def paid(ctx: Context, deal: str, amount, date, confirm: bool, currency: str | None) -> Reply:
    result = deals.pay(ctx.uow, ctx.user_id, deal, amount, date, currency, confirm, ctx.now)
    return ctx.reply("deals/paid", r=result)


def _stage_label(ctx: Context):
    return lambda stage: label(f"stage_{stage}", ctx.locale)
