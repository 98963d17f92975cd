"""The command menu Telegram shows (setMyCommands), with summaries in each language."""
import logging
import re

from telegram import BotCommand

from bot.handlers.registry import Access, CommandTable
from bot.i18n import command_info

log = logging.getLogger(__name__)

MAX_COMMANDS = 100
COMMAND_NAME = re.compile(r"[a-z0-9_]{1,32}")


def bot_commands(table: CommandTable, locale: str) -> list[BotCommand]:
    """The command menu: what every member may use, plus /join, with summaries in `locale`."""
    names = [c.name for c in table.visible_to(Access.MEMBER)]
    if table.lookup("join") is not None and "join" not in names:
        names.append("join")
    commands = []
    for name in names:
        if not COMMAND_NAME.fullmatch(name):
            log.warning("telegram: command %r left out of the menu: names are 1-32 of a-z 0-9 _", name)
            continue
        summary = (command_info(locale, name)["summary"] or name).strip()[:256]
        commands.append(BotCommand(name, summary))
    return commands[:MAX_COMMANDS]
