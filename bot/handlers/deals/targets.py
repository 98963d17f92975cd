"""Targets: `/target [rep|unit] [period]` shows progress (达成率 and pace);
`/target set <rep|unit> <period> <metric> <value>` sets one (managers, over their subtree)."""
from bot.context import Context
from bot.handlers.args import Param
from bot.handlers.registry import command
from bot.i18n import label
from bot.messages import Reply
from bot.services.deals import targets

GROUP = "1-today"


@command("target", params=[Param("who", optional=True), Param("period", optional=True),
         Param("metric", optional=True), Param("value", optional=True), Param("extra", optional=True)],
         aliases=("目标",), group=GROUP)
def target(ctx: Context, who: str | None, period: str | None, metric: str | None, value: str | None,
           extra: str | None) -> Reply:
    if who and who.lower() == "set":
        saved = targets.set_target_words(ctx.uow, ctx.user_id, [period, metric, value, extra], ctx.now)
        return ctx.reply("targets/saved", p=saved, metric_label=_metric_label(ctx))
    shown = targets.show(ctx.uow, ctx.user_id, who, period, ctx.now)
    return ctx.reply("targets/show", v=shown, metric_label=_metric_label(ctx))


def _metric_label(ctx: Context):
    return lambda metric: label(f"metric_{metric}", ctx.locale)
