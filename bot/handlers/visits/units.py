"""A unit's visit checks, working hours and office from the chat: /unit UNIT, /unit set UNIT key=value…
(admins, and managers of the unit or above)."""
from bot.context import Context
from bot.errors import UsageError
from bot.handlers.args import Param, assignments, is_assignment
from bot.handlers.registry import Access, command
from bot.messages import Reply
from bot.services.visits import unit_admin

GROUP = "5-team"


@command("unit", access=Access.MANAGER, params=[Param("unit_name", "text")], group=GROUP)
def show(ctx: Context, unit_name: str) -> Reply:
    return ctx.reply("units/rules", rules=unit_admin.show(ctx.uow, ctx.user_id, unit_name))


@command("unit set", access=Access.MANAGER, params=[Param("words", "words")], group=GROUP)
def set_(ctx: Context, words: list[str]) -> Reply:
    """The unit's name (any words, quoted or not) first, then the settings."""
    name = _until_assignment(words)
    if not name:
        raise UsageError("unit set")
    typed = assignments("unit set", words[len(name):])
    changed = unit_admin.set_rules(ctx.uow, ctx.user_id, " ".join(name), typed)
    return ctx.reply("units/changed", changed=changed)


def _until_assignment(words: list[str]) -> list[str]:
    taken = []
    for word in words:
        if is_assignment(word):
            break
        taken.append(word)
    return taken
