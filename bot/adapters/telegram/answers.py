"""Where the answers to one update go: to the chat it came from, except a personal answer to a
command typed (or a button pressed) in a group (`bot.messages.for_caller_only`). That one goes to
the caller's private chat with the bot, whose id on Telegram is his user id, its file or picture
too; the group gets one line in his language saying so, with the link to that chat. When Telegram
refuses the private chat (he never opened it, or blocked the bot), the group line says to open it
first, and nothing personal is sent anywhere.
"""
import logging

from telegram.error import Forbidden, TelegramError

from bot.adapters.telegram.outbound import Courier, bot_username, deliver, reply_locale
from bot.i18n import render_text
from bot.messages import Incoming, Reply, for_caller_only

log = logging.getLogger(__name__)

SENT_PRIVATELY = "telegram/sent_privately"
OPEN_PRIVATE_CHAT = "telegram/open_private_chat"


def private_chat_url(bot_username: str | None) -> str | None:
    """The link opening the private chat with the bot (its Start button sends /start)."""
    return f"https://t.me/{bot_username}" if bot_username else None


async def send_answers(courier: Courier, incoming: Incoming, replies: list[Reply], default_locale: str) -> bool:
    """Every reply is tried; True when all of them reached whom they were for."""
    shared = [reply for reply in replies if not for_caller_only(reply, incoming.is_private)]
    personal = [reply for reply in replies if for_caller_only(reply, incoming.is_private)]
    delivered = await _send_all(courier, incoming, shared, default_locale)
    if personal:
        delivered = await _send_privately(courier, incoming, personal, default_locale) and delivered
    return delivered


async def _send_all(courier: Courier, incoming: Incoming, replies: list[Reply], default_locale: str) -> bool:
    delivered = True
    for reply in replies:
        locale = reply_locale(reply, incoming.language_hint, default_locale)
        try:
            await deliver(courier, incoming.chat_id, reply, incoming.is_private, locale, urgent=True)
        except TelegramError as exc:
            delivered = False
            log.warning("telegram: could not answer in chat %s: %s", incoming.chat_id, exc)
    return delivered


async def _send_privately(courier: Courier, incoming: Incoming, replies: list[Reply], default_locale: str) -> bool:
    """The replies in the caller's private chat, then the one line in the group."""
    sent, note = 0, SENT_PRIVATELY
    for reply in replies:
        locale = reply_locale(reply, incoming.language_hint, default_locale)
        try:
            await deliver(courier, incoming.user_id, reply, True, locale, urgent=True)
        except Forbidden as exc:
            log.info("telegram: user %s has no private chat with the bot (%s); told in group %s",
                     incoming.user_id, exc.message, incoming.chat_id)
            note = OPEN_PRIVATE_CHAT
            break
        except TelegramError as exc:
            log.warning("telegram: could not answer user %s privately: %s", incoming.user_id, exc)
            break
        sent += 1
    if sent or note == OPEN_PRIVATE_CHAT:
        await _tell_group(courier, incoming, note, reply_locale(replies[0], incoming.language_hint, default_locale))
    return sent == len(replies)


async def _tell_group(courier: Courier, incoming: Incoming, note: str, locale: str) -> None:
    line = render_text(note, locale, command_prefix=incoming.command_prefix,
                       name=incoming.display_name, link=private_chat_url(bot_username(courier.bot)))
    try:
        await deliver(courier, incoming.chat_id, Reply(text=line, locale=locale), False, locale, urgent=True)
    except TelegramError as exc:
        log.warning("telegram: could not tell group %s where the answer went: %s", incoming.chat_id, exc)
