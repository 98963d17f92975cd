"""The command menu Telegram shows (setMyCommands), with summaries in each language, and the Mini
App's menu button (setChatMenuButton).

Everyone's menu (default scope, one per language) holds what a member may use. A manager's or an
admin's private chat gets its own menu (BotCommandScopeChat) with his commands too, set at start for
every linked one and again when someone links or changes language; nowhere else shows them.
Everyone linked gets the Mini App button in his private chat when he links, sends /start or changes
language (Telegram takes only an https URL for it: without one, no button).
"""
import asyncio
import logging
import re
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from telegram import BotCommand, BotCommandScopeChat, MenuButtonWebApp, WebAppInfo
from telegram.error import TelegramError

from bot.handlers.registry import ROLE_ACCESS, Access, CommandTable
from bot.i18n import command_info, label
from bot.services.core import identity
from db.session import Database

log = logging.getLogger(__name__)

MAX_COMMANDS = 100
COMMAND_NAME = re.compile(r"[a-z0-9_]{1,32}")
PLATFORM = "telegram"
# Roles whose private chat gets a menu of its own, and the commands after which it is set again.
OWN_MENU_ROLES = tuple(role for role, access in ROLE_ACCESS.items() if access > Access.MEMBER)
RELINKING_COMMANDS = ("join", "start", "lang")


def bot_commands(table: CommandTable, locale: str, access: Access = Access.MEMBER) -> list[BotCommand]:
    """The command menu: what `access` may use, plus /join, with summaries in `locale`."""
    # A two-word command ("pool admin") cannot be a menu entry: its first word stands for it, once.
    names = list(dict.fromkeys(c.first_word for c in table.visible_to(access)))
    if table.lookup("join") is not None and "join" not in names:
        names.append("join")
    commands = []
    for name in names:
        if not COMMAND_NAME.fullmatch(name):
            log.warning("telegram: command %r left out of the menu: names are 1-32 of a-z 0-9 _", name)
            continue
        summary = (_summary(table, locale, name) or name).strip()[:256]
        commands.append(BotCommand(name, summary))
    return commands[:MAX_COMMANDS]


def _summary(table: CommandTable, locale: str, name: str) -> str:
    """The command's summary; a first word that is no command of its own takes its two-word command's."""
    if table.lookup(name) is None:
        name = next((c.name for c in table.all() if c.first_word == name), name)
    return command_info(locale, name)["summary"]


def _own_menu_chats(db: Database, workspace: str, platform_user_id: str | None) -> list[tuple[str, str, str]]:
    with db.uow() as uow:
        return identity.private_chats(uow, PLATFORM, workspace, OWN_MENU_ROLES, platform_user_id)


async def set_own_menus(bot: Any, table: CommandTable, db: Database, workspace: str,
                        platform_user_id: str | None = None) -> int:
    """Give each linked manager's (or admin's) private chat his menu, in his language; with
    `platform_user_id`, only that person's. Returns how many chats got one."""
    try:
        chats = await asyncio.to_thread(_own_menu_chats, db, workspace, platform_user_id)
    except SQLAlchemyError as exc:  # no database yet: everyone's menu still works
        log.warning("telegram: managers' menus not set, the database is unreachable: %s", exc)
        return 0
    done = 0
    for chat_id, role, locale in chats:
        try:
            await bot.set_my_commands(bot_commands(table, locale, ROLE_ACCESS[role]), scope=BotCommandScopeChat(chat_id))
            done += 1
        except TelegramError as exc:  # one blocked chat does not stop the others
            log.warning("telegram: setMyCommands for chat %s failed: %s", chat_id, exc)
    return done


# -- the Mini App's menu button (setChatMenuButton), per linked person's private chat

MINI_APP_PATH = "/miniapp"
ALL_ROLES = tuple(ROLE_ACCESS)


def mini_app_url(public_base_url: str) -> str | None:
    """Where the menu button opens the Mini App; None unless https, which Telegram requires."""
    base = public_base_url.rstrip("/")
    return base + MINI_APP_PATH if base.lower().startswith("https://") else None


async def set_menu_buttons(bot: Any, db: Database, workspace: str, url: str, platform_user_id: str) -> int:
    """The Mini App button beside this linked person's message field, labelled in his language
    (nobody else gets one: an unlinked person has nothing to open). Returns how many chats got it."""
    try:
        chats = await asyncio.to_thread(_linked_chats, db, workspace, platform_user_id)
    except SQLAlchemyError as exc:
        log.warning("telegram: Mini App button not set, the database is unreachable: %s", exc)
        return 0
    done = 0
    for chat_id, _role, locale in chats:
        button = MenuButtonWebApp(label("mini_app_button", locale), WebAppInfo(url))
        try:
            await bot.set_chat_menu_button(chat_id=int(chat_id), menu_button=button)
            done += 1
        except TelegramError as exc:
            log.warning("telegram: setChatMenuButton for chat %s failed: %s", chat_id, exc)
    return done


def _linked_chats(db: Database, workspace: str, platform_user_id: str) -> list[tuple[str, str, str]]:
    with db.uow() as uow:
        return identity.private_chats(uow, PLATFORM, workspace, ALL_ROLES, platform_user_id)
