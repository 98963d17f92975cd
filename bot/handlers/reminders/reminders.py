"""Reminders: /remind lists them, /remind cancel N, /remind pick N K (the buttons of a note that could
mean two times); and what a /follow or /visit end note set, added to that command's answer."""
from dataclasses import replace

from bot.context import Context
from bot.errors import UsageError
from bot.handlers.args import Param
from bot.handlers.registry import command
from bot.i18n import button, format_number, format_when
from bot.messages import Reply
from bot.services.reminders import reminders
from bot.services.reminders.reminders import NoteReading
from bot.services.reminders.when import Kind

ACTIONS = ("cancel", "pick")
CANCEL_BUTTONS = 10


@command("remind", params=[Param("action", "choice", optional=True, choices=ACTIONS),
                           Param("reminder", optional=True), Param("choice", optional=True)],
         aliases=("提醒",), group="1-today")
def remind(ctx: Context, action: str | None, reminder: str | None, choice: str | None) -> Reply:
    if action is None:
        listed = reminders.list_open(ctx.uow, ctx.user_id)
        reply = ctx.reply("reminders/list", reminders=listed)
        buttons = [button("reminder_cancel", ctx.locale, f"remind cancel {r.id}", id=r.id)
                   for r in listed[:CANCEL_BUTTONS] if r.at is not None]
        return replace(reply, buttons=[*reply.buttons, *buttons])
    if reminder is None:
        raise UsageError("remind")
    if action == "cancel":
        return ctx.reply("reminders/cancelled", r=reminders.cancel(ctx.uow, ctx.user_id, reminder, ctx.now))
    return ctx.reply("reminders/picked", r=reminders.pick(ctx.uow, ctx.user_id, reminder, choice or "", ctx.now))


def noted_buttons(ctx: Context, reply: Reply, noted: NoteReading) -> Reply:
    """A note's answer with its buttons: the two readings to choose from, the amount to record."""
    buttons = list(reply.buttons)
    if noted.kind is Kind.CHOOSE and noted.reminder_id is not None:
        buttons += [button("reminder_pick", ctx.locale, f"remind pick {noted.reminder_id} {n}",
                           when=format_when(at, ctx.locale)) for n, at in enumerate(noted.candidates, 1)]
    if noted.deal_command is not None and noted.amount is not None:
        buttons.append(button("reminder_deal", ctx.locale, noted.deal_command,
                              amount=format_number(noted.amount.value, ctx.locale)))
    return replace(reply, buttons=buttons)

