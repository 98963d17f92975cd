"""Pools set up from chat: /pool admin [create|rules|members] (the rules are in
bot.services.leads.pool_admin; who may is decided there too, per pool)."""
from bot.context import Context
from bot.errors import UsageError
from bot.handlers.args import Flag, Param, assignments, is_assignment
from bot.handlers.registry import command
from bot.messages import Reply
from bot.services.leads import pool_admin

NAME = "pool admin"
ACTIONS = ("create", "rules", "members")
MEMBER_ACTIONS = ("add", "remove")


@command(NAME, params=[Param("action", "choice", optional=True, choices=ACTIONS), Param("typed", "words", optional=True)],
         flags=[Flag("admin")], group="3-leads")
def admin(ctx: Context, action: str | None, typed: list[str], admin: bool) -> Reply:
    if action == "create":
        return _create(ctx, typed)
    if action == "rules":
        return _rules(ctx, typed)
    if action == "members":
        return _members(ctx, typed, admin)
    if typed or admin:
        raise UsageError(NAME)
    return ctx.reply("pool_admin/list", pools=pool_admin.administered(ctx.uow, ctx.user_id))


def _create(ctx: Context, typed: list[str]) -> Reply:
    if not typed:
        raise UsageError(NAME)
    created = pool_admin.create(ctx.uow, ctx.user_id, typed[0], typed[1:])
    return ctx.reply("pool_admin/created", pool=created)


def _rules(ctx: Context, typed: list[str]) -> Reply:
    """NAME key=value...: the pool's name is every word before the first key=value."""
    split = next((i for i, word in enumerate(typed) if is_assignment(word)), len(typed))
    if split == 0:
        raise UsageError(NAME)
    changed = pool_admin.set_rules(ctx.uow, ctx.user_id, " ".join(typed[:split]), assignments(NAME, typed[split:]))
    return ctx.reply("pool_admin/rules_changed", changed=changed)


def _members(ctx: Context, typed: list[str], admin: bool) -> Reply:
    """NAME add|remove UNIT-or-@handle: the pool's name is every word before add or remove."""
    split = next((i for i, word in enumerate(typed) if word.lower() in MEMBER_ACTIONS), None)
    who = " ".join(typed[split + 1 :]) if split else ""
    if not who:
        raise UsageError(NAME)
    changed = pool_admin.change_member(ctx.uow, ctx.user_id, " ".join(typed[:split]), typed[split].lower(), who,
                                       admin, ctx.now)
    return ctx.reply("pool_admin/members_changed", changed=changed)
