"""« Previous / Next » buttons for a paged list answer: the same command line with `--page N`."""
from bot.context import Context
from bot.handlers.args import Flag
from bot.i18n import button
from bot.messages import Reply
from bot.services.core.paging import Page

PAGE_FLAG = Flag("page", kind="int")
MAX_PAYLOAD_BYTES = 64  # Telegram's callback data limit; a longer line gets no button (typing --page N still works)


def quoted(value: str) -> str:
    """A word for a command line: quoted when it holds a space."""
    return f'"{value}"' if any(c.isspace() for c in value) else value


def line(command: str, *parts: str | None, **flags: str | None) -> str:
    """A command line from its positional words and its flags (None left out)."""
    words = [command, *(quoted(p) for p in parts if p)]
    words += [f"--{name.replace('_', '-')} {quoted(value)}" for name, value in flags.items() if value]
    return " ".join(words)


def add_buttons(ctx: Context, reply: Reply, command_line: str, page: Page) -> Reply:
    for key, number, wanted in (("previous_page", page.number - 1, page.number > 1),
                                ("next_page", page.number + 1, page.has_next)):
        payload = f"{command_line} --page {number}"
        if wanted and len(payload.encode()) <= MAX_PAYLOAD_BYTES:
            reply.buttons.append(button(key, ctx.locale, payload))
    return reply
