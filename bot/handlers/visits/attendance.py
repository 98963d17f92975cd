"""Attendance (考勤): /checkin and /checkout, each asking for a location."""
from bot.context import Context
from bot.handlers.registry import command
from bot.handlers.visits.visits import ask_location
from bot.messages import Reply
from bot.services.visits import attendance


@command("checkin", aliases=("签到",), group="1-today")
def checkin(ctx: Context) -> Reply:
    started = attendance.start(ctx.uow, ctx.user_id, "checkin", ctx.now)
    return ask_location(ctx, "attendance/started", started.visit_id, started=started)


@command("checkout", aliases=("签退",), group="1-today")
def checkout(ctx: Context) -> Reply:
    started = attendance.start(ctx.uow, ctx.user_id, "checkout", ctx.now)
    return ask_location(ctx, "attendance/started", started.visit_id, started=started)
