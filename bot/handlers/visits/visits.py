"""Visits: /visit, /visit end, /visit X --no-location REASON, /visits, and the hidden /setloc."""
from dataclasses import replace
from datetime import date

from bot.context import Context
from bot.errors import UsageError
from bot.handlers import paging
from bot.handlers.args import Flag, Param
from bot.handlers.registry import SHARE_LOCATION_COMMAND, command
from bot.handlers.reminders.reminders import noted_buttons
from bot.messages import Reply
from bot.services.reminders import reminders
from bot.services.visits import brief, checkin_links, customer_location, visits

END_WORDS = ("end", "结束")
PERIODS = ("today", "yesterday", "week", "month")


def ask_location(ctx: Context, template: str, visit_id: int | None, /, *, request_id: int | None = None,
                 **context: object) -> Reply:
    """A reply that asks for the location the way the platform allows (keyboard, page link, hint); the
    page's link names the visit waiting for it, or the /nearby or /setloc request (`request_id`)."""
    url = None
    if visit_id is not None or request_id is not None:
        url = checkin_links.url(ctx.settings.PUBLIC_BASE_URL, ctx.settings.SECRET_KEY, ctx.user_id, visit_id, ctx.now,
                                request_id)
    reply = ctx.reply(template, ask=ctx.incoming.location_ask, **context)
    return replace(reply, request_location=True, checkin_url=url)


@command(
    "visit",
    params=[Param("target"), Param("note", kind="text", optional=True)],
    # The visit report's fields go with `end`: what came of it, the next step, when to be reminded.
    flags=[Flag("no-location", kind="text"), Flag("outcome", kind="choice", choices=visits.OUTCOMES),
           Flag("next-step", kind="text"), Flag("remind", kind="text")],
    aliases=("拜访",),
    group="2-visits",
)
def visit(ctx: Context, target: str, note: str | None, no_location: str | None, outcome: str | None,
          next_step: str | None, remind: str | None) -> Reply:
    if target.lower() in END_WORDS and not no_location:
        return end(ctx, note, outcome, next_step, remind)
    if outcome or next_step or remind:
        raise UsageError("visit", "report_needs_end")
    started = visits.start_visit(ctx.uow, ctx.user_id, target, note, ctx.now, no_location_reason=no_location)
    zone = visits.zone_of(visits.active_user(ctx.uow, ctx.user_id))
    known = brief.visit_brief(ctx.uow, started.target, ctx.now.astimezone(zone).date(), zone, started.visit_id)
    if not started.needs_location:
        return ctx.reply("visits/started_without_location", started=started, brief=known)
    return ask_location(ctx, "visits/started", started.visit_id, started=started, brief=known)


def end(ctx: Context, note: str | None, outcome: str | None, next_step: str | None, remind: str | None) -> Reply:
    """/visit end [NOTE] [--outcome O] [--next-step TEXT] [--remind WHEN]: the visit report. A reminder
    date in the note is read as before; one given with --remind must be readable and to come."""
    ended = visits.end_visit(ctx.uow, ctx.user_id, note, ctx.now, outcome, next_step)
    noted = None
    if remind:
        noted = reminders.from_note(ctx.uow, ctx.user_id, next_step or note or "", ctx.now, visit_id=ended.visit_id,
                                    when_words=remind)
    elif note:
        noted = reminders.from_note(ctx.uow, ctx.user_id, note, ctx.now, visit_id=ended.visit_id)
    reply = ctx.reply("visits/ended", ended=ended, noted=noted)
    return noted_buttons(ctx, reply, noted) if noted else reply


@command(
    "visits",
    params=[Param("period", optional=True)],
    flags=[Flag("rep", kind="word"), Flag("unit", kind="text"), paging.PAGE_FLAG],
    group="2-visits",
)
def list_visits(ctx: Context, period: str | None, rep: str | None, unit: str | None, page: int | None) -> Reply:
    day = None
    if period and period.lower() not in PERIODS:
        try:
            day = date.fromisoformat(period)
        except ValueError:
            raise UsageError("visits", "bad_date", value=period[:40]) from None
    listed = visits.list_visits(ctx.uow, ctx.user_id, ctx.now, period and period.lower(), day, rep, unit,
                                page_no=page)
    reply = ctx.reply("visits/list", listed=listed)
    return paging.add_buttons(ctx, reply, paging.line("visits", period, rep=rep, unit=unit), listed.page)


@command("setloc", params=[Param("customer", kind="text")], hidden=True)
def setloc(ctx: Context, customer: str) -> Reply:
    """Also reached from `/customer <id> setloc` through the command table."""
    requested = customer_location.request_customer_location(ctx.uow, ctx.user_id, customer, ctx.now)
    return ask_location(ctx, "visits/setloc_waiting", None, requested=requested, request_id=requested.request_id)


@command(SHARE_LOCATION_COMMAND, hidden=True)
def share_location(ctx: Context) -> Reply:
    """Ask again for the location a visit, check-in, /setloc or /nearby waits for (a group sends the rep here);
    the newest of them, as in bot.services.visits.shared_location.receive_location."""
    waiting = visits.waiting_for_location(ctx.uow, ctx.user_id)
    setloc_ = customer_location.pending_request(ctx.uow, ctx.user_id, ctx.now)
    if setloc_ is not None and (waiting is None or setloc_[1] > waiting.created_at):
        asked = setloc_[0]
        if isinstance(asked, customer_location.NearbyAsked):
            return ask_location(ctx, "visits/nearby_waiting", None, asked=asked, request_id=asked.request_id)
        return ask_location(ctx, "visits/setloc_waiting", None, requested=asked, request_id=asked.request_id)
    if waiting is None:
        return ctx.reply("errors/no_location_expected")
    return ask_location(ctx, "visits/waiting", waiting.visit_id, waiting=waiting)
