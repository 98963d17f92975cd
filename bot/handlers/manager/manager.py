"""Manager commands: handover (离职交接) and its undo, team view, reports, audit trail, exports."""
from dataclasses import replace
from datetime import date

from bot.context import Context
from bot.handlers import paging
from bot.handlers.args import Flag, Param
from bot.handlers.manager import charts
from bot.handlers.registry import Access, command
from bot.i18n import button
from bot.messages import Reply
from bot.services.core import paging as pages
from bot.services.manager import audit, export, handover, reports, team

GROUP = "5-team"


def _today(ctx: Context) -> date:
    assert ctx.user is not None
    return team.local_today(ctx.now, ctx.user.timezone)


@command(
    "handover", access=Access.MANAGER, group=GROUP,
    params=[Param("from_user"), Param("to_user"), Param("what", kind="choice", optional=True, choices=handover.WHAT)],
    flags=[Flag("stay", kind="choice", choices=tuple(handover.STAY)), Flag("until", kind="date"), Flag("deactivate")],
)
def handover_(ctx: Context, from_user: str, to_user: str, what: str | None, stay: str | None, until: date | None,
              deactivate: bool) -> Reply:
    result = handover.hand_over(ctx.uow, ctx.user_id, from_user, to_user, what or "all", stay, until, deactivate,
                                now=ctx.now, today=_today(ctx))
    reply = ctx.reply("manager/handover_done", result=result)
    return replace(reply, buttons=[button("manager_undo", ctx.locale, f"undo_handover {result.batch_id}", "danger")])


@command("undo_handover", access=Access.MANAGER, group=GROUP, params=[Param("batch", kind="int", optional=True)])
def undo_handover(ctx: Context, batch: int | None) -> Reply:
    result = handover.undo(ctx.uow, ctx.user_id, batch, now=ctx.now, today=_today(ctx))
    return ctx.reply("manager/undo_done", result=result)


@command("team", access=Access.MANAGER, group=GROUP, params=[Param("unit", kind="text", optional=True)],
         flags=[paging.PAGE_FLAG])
def team_(ctx: Context, unit: str | None, page: int | None) -> Reply:
    view = team.build(ctx.uow, ctx.user_id, unit, ctx.now)
    shown = pages.of_rows(pages.number(page), len(view.rows))
    # The chart comes with the first page only: the next pages are more rows of the same table.
    chart = charts.team_chart(view, ctx.locale) if view.rows and shown.number == 1 else None
    reply = ctx.reply("manager/team", view=view, stages=team.OPEN_STAGES, page=shown)
    paging.add_buttons(ctx, reply, paging.line("team", unit), shown)
    return replace(reply, file_name="team.png", file_bytes=chart) if chart else reply


@command(
    "report", access=Access.MANAGER, group=GROUP,
    params=[Param("period", kind="choice", optional=True, choices=reports.PERIODS),
            Param("unit", kind="text", optional=True)],
    flags=[paging.PAGE_FLAG],
)
def report(ctx: Context, period: str | None, unit: str | None, page: int | None) -> Reply:
    result, standing = reports.build(ctx.uow, ctx.user_id, period or "week", unit, ctx.now)
    shown = pages.of_rows(pages.number(page), len(result.rows))
    reply = ctx.reply("manager/report", report=result, page=shown)
    paging.add_buttons(ctx, reply, paging.line("report", period or "week", unit), shown)
    chart = charts.team_chart(standing, ctx.locale) if result.rows and shown.number == 1 else None
    if chart:
        reply = replace(reply, file_name=f"report-{result.period.first_day.isoformat()}.png", file_bytes=chart)
    return reply


@command("audit", access=Access.MANAGER, group=GROUP,
         params=[Param("record_type"), Param("record_id", kind="int")], flags=[paging.PAGE_FLAG])
def audit_(ctx: Context, record_type: str, record_id: int, page: int | None) -> Reply:
    history = audit.history(ctx.uow, ctx.user_id, record_type, record_id, _today(ctx), page)
    reply = ctx.reply("manager/audit", history=history)
    return paging.add_buttons(ctx, reply, paging.line("audit", record_type, str(record_id)), history.page)


@command(
    "export", access=Access.MANAGER, group=GROUP,
    params=[Param("kind", kind="choice", choices=export.KINDS)],
    flags=[Flag("since", kind="date"), Flag("until", kind="date"), Flag("unit", kind="text"),
           Flag("format", kind="choice", choices=export.FORMATS)],
)
def export_(ctx: Context, kind: str, since: date | None, until: date | None, unit: str | None,
            format: str | None) -> Reply:  # noqa: A002 - the flag is --format
    made = export.to_file(ctx.uow, ctx.user_id, kind, format or "xlsx", since, until, unit, _today(ctx))
    reply = ctx.reply("manager/export_done", made=made, kind=kind)
    return replace(reply, file_name=made.name, file_bytes=made.content)
