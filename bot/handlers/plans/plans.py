"""The rep's plan: /plan [today|tomorrow|week] (a manager: /plan REP [..]), /plan add CUSTOMER [DATE] [TIME],
/plan drop CUSTOMER [DATE], /plan morning on|off|HH:MM."""
from dataclasses import replace

from bot.context import Context
from bot.errors import UserError
from bot.handlers.args import Param
from bot.handlers.registry import command
from bot.i18n import button
from bot.messages import Button, Reply
from bot.services.plans import plans, schedule
from bot.services.plans.plans import Plan

GROUP = "1-today"
PERIOD_WORDS = {"today": "today", "tomorrow": "tomorrow", "week": "week",
                "今天": "today", "明天": "tomorrow", "本周": "week", "一周": "week"}


@command("plan", params=[Param("first", optional=True), Param("second", optional=True)], aliases=("计划",),
         group=GROUP)
def plan(ctx: Context, first: str | None, second: str | None) -> Reply:
    assert ctx.user is not None
    who, period = None, "today"
    for word in (first, second):
        if word is None:
            continue
        if word.lower() in PERIOD_WORDS:
            period = PERIOD_WORDS[word.lower()]
        elif who is None:
            who = word
        else:
            raise UserError("plans/usage")
    shown = plans.plan_for(ctx.uow, ctx.user, period, ctx.now, who)
    return with_stop_buttons(ctx.reply("plans/plan", plan=shown, own=shown.user_id == ctx.user.id),
                             shown, ctx.locale, own=shown.user_id == ctx.user.id)


def with_stop_buttons(reply: Reply, shown: Plan, locale: str, own: bool = True) -> Reply:
    """A "start visit" button per stop of the first day listed (the rep's own plan only)."""
    if not own or not shown.days:
        return reply
    return replace(reply, buttons=[*reply.buttons, *stop_buttons(shown, locale)])


def stop_buttons(shown: Plan, locale: str) -> list[Button]:
    return [button("plan_start_visit", locale, f"visit {stop.ref}", number=stop.number, name=stop.name[:30])
            for stop in shown.days[0].stops]


@command("plan add", params=[Param("target"), Param("when", kind="text", optional=True)], group=GROUP)
def plan_add(ctx: Context, target: str, when: str | None) -> Reply:
    assert ctx.user is not None
    return ctx.reply("plans/added", s=schedule.add(ctx.uow, ctx.user, target, when or "", ctx.now))


@command("plan drop", params=[Param("target"), Param("when", kind="text", optional=True)], group=GROUP)
def plan_drop(ctx: Context, target: str, when: str | None) -> Reply:
    assert ctx.user is not None
    return ctx.reply("plans/dropped", s=schedule.drop(ctx.uow, ctx.user, target, when or "", ctx.now))


@command("plan morning", params=[Param("value", optional=True)], group=GROUP)
def plan_morning(ctx: Context, value: str | None) -> Reply:
    if value is None:
        return ctx.reply("plans/morning_setting", m=schedule.morning_of(ctx.uow, ctx.user_id), changed=False)
    return ctx.reply("plans/morning_setting", m=schedule.set_morning(ctx.uow, ctx.user_id, value, ctx.now), changed=True)
