"""The Telegram side of the Mini App (bot.web.miniapp serves its pages): who is asking, from his
initData once Telegram's signature and its age are checked (bot.adapters.telegram.initdata), as an
`Incoming` from his private chat with the bot, the way his typed commands and shared locations
arrive; and the answer, run through the router and sent into that chat as well, so the
conversation keeps a record of what the Mini App did.
"""
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

from bot.adapters.front_end import answer
from bot.adapters.telegram.initdata import MAX_AGE, WebAppUser, validate
from bot.adapters.telegram.words import COMMAND_PREFIX, LOCATION_ASK, PLATFORM
from bot.messages import Incoming, Location, Reply
from bot.router import Router
from bot.services.core import identity

# A position the Mini App sent: Telegram's LocationManager or the browser's Geolocation API.
SOURCE = "miniapp"
EVENT_PREFIX = "miniapp"


@dataclass(frozen=True)
class MiniAppGate:
    """Built by the Telegram front end; bot.web.miniapp asks it who is there and runs what he sent."""

    router: Router
    bot_token: str
    workspace: str
    send: Callable[[Incoming, list[Reply]], Awaitable[bool]]

    def caller(self, init_data: str, now: datetime) -> WebAppUser:
        """The Telegram user who opened the Mini App; InitDataError when the data is not genuine or too old."""
        return validate(init_data, self.bot_token, now, MAX_AGE)

    def linked_locale(self, user: WebAppUser) -> str | None:
        """The language of the CRM user this Telegram account is linked to; None when it is not (or he
        left): the page then shows how to join."""
        with self.router.db.uow() as uow:
            linked = identity.resolve_user(uow, PLATFORM, self.workspace, str(user.id))
            return linked.locale if linked is not None and linked.active else None

    def incoming(self, user: WebAppUser, submission_id: str, now: datetime, *, command: str = "",
                 form: Mapping[str, str] | None = None, location: Location | None = None) -> Incoming:
        """What he sent, as from his private chat (its id is his user id). The submission's own id,
        made by the page, is the event id: a double tap or a retry after a lost answer acts once."""
        return Incoming(
            platform=PLATFORM, workspace=self.workspace, chat_id=str(user.id), user_id=str(user.id),
            command=command, form=form, location=location, sent_at=now, is_private=True,
            event_id=f"{EVENT_PREFIX}:{user.id}:{submission_id}", display_name=user.full_name,
            language_hint=user.language_code, command_prefix=COMMAND_PREFIX, location_ask=LOCATION_ASK,
        )

    async def run(self, incoming: Incoming) -> list[Reply]:
        """The router's answer, sent into his private chat too (bot.adapters.front_end.answer)."""
        return await answer(self.router, incoming, lambda replies: self.send(incoming, replies))
