"""The office screen: `/board screen [UNIT]` gives a manager a long-lived, revocable link to a
full-screen leaderboard page for his team (bot.web.screen); `/board screen list` shows his live
links, `/board screen revoke ID|UNIT|all` ends them. The link is answered privately: anyone holding
it sees the team's board."""
from bot.context import Context
from bot.handlers.args import Param
from bot.handlers.registry import Access, command
from bot.messages import Audience, Reply
from bot.services.deals import screen_links

GROUP = "5-team"


@command("board screen", params=[Param("unit", kind="text", optional=True)], access=Access.MANAGER, group=GROUP,
         audience=Audience.PRIVATE)
def board_screen(ctx: Context, unit: str | None) -> Reply:
    first, _, rest = (unit or "").strip().partition(" ")
    if first.lower() in screen_links.LIST_WORDS and not rest:
        return ctx.reply("screen/list", links=screen_links.live_links(ctx.uow, ctx.user_id))
    if first.lower() in screen_links.REVOKE_WORDS:
        return ctx.reply("screen/revoked", r=screen_links.revoke(ctx.uow, ctx.user_id, rest, ctx.now))
    issued = screen_links.issue(ctx.uow, ctx.user_id, unit, ctx.settings.SECRET_KEY, ctx.now)
    url = f"{ctx.settings.PUBLIC_BASE_URL.rstrip('/')}/screen/{issued.token}"
    return ctx.reply("screen/issued", i=issued, url=url)
