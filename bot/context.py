"""What a handler receives: the caller, his language, the clock, and one unit of work."""
from dataclasses import dataclass
from datetime import datetime

from bot.config import Settings
from bot.handlers.registry import CommandTable
from bot.i18n import render
from bot.messages import Incoming, Reply
from db.models import User
from db.session import UnitOfWork


@dataclass
class Context:
    uow: UnitOfWork
    incoming: Incoming
    user: User | None
    locale: str
    now: datetime
    settings: Settings
    commands: CommandTable

    def reply(self, template: str, /, **context: object) -> Reply:
        return render(template, self.locale, command_prefix=self.incoming.command_prefix, **context)

    def reply_in(self, locale: str, template: str, /, **context: object) -> Reply:
        return render(template, locale, command_prefix=self.incoming.command_prefix, **context)

    @property
    def user_id(self) -> int:
        assert self.user is not None, "MEMBER commands always have a user"
        return self.user.id
