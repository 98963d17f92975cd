"""/rank: the leaderboard on demand (individual, or sub-teams with --team)."""
from bot.context import Context
from bot.handlers.args import Flag, Param
from bot.handlers.registry import command
from bot.i18n import label
from bot.messages import Audience, Reply
from bot.services.deals import leaderboards

GROUP = "1-today"


# Group-safe: the board the team's group is pushed anyway (bot/jobs), asked for on demand.
@command("rank", params=[Param("words", kind="text", optional=True)], flags=[Flag("team")],
         aliases=("排行", "排行榜"), group=GROUP, audience=Audience.CHAT)
def rank(ctx: Context, words: str | None, team: bool) -> Reply:
    board = leaderboards.board_from_words(ctx.uow, ctx.user_id, (words or "").split(), team, ctx.now)
    return ctx.reply("rank/board", b=board, metric=label(f"metric_{board.metric}", ctx.locale),
                     period=label(f"period_{board.window.period}", ctx.locale))
