"""The one platform-neutral command table. Handlers declare themselves with @command; bootstrap builds
the table from the handler modules it names, and the router reads it.

Permission is declared here, per command, and checked by the router: handlers never check roles.

A command may be named by two words ("pool admin"): the platforms pass only the first as the command
("/pool admin rules ..." arrives as command "pool", args "admin rules ..."), and `resolve` finds the
two-word command when the arguments start with its second word; anything else stays the one-word
command's ("/pool 2", "/pool acme").
"""
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import IntEnum
from types import ModuleType

from bot.handlers.args import Flag, Param
from bot.messages import Audience


class Access(IntEnum):
    PUBLIC = 0  # anyone, even a person not linked yet (only /join, /start)
    MEMBER = 1  # any linked, active user
    MANAGER = 2
    ADMIN = 3


# A bare shared location is routed to this command.
LOCATION_COMMAND = "location"
# A bare photo or file is routed to this command.
PHOTO_COMMAND = "photo"
# Asks again for the location a visit or check-in waits for: where a platform that can ask for a
# location only in the private chat sends the rep from a group (Telegram: /start share_location).
SHARE_LOCATION_COMMAND = "share_location"

ROLE_ACCESS = {"rep": Access.MEMBER, "manager": Access.MANAGER, "admin": Access.ADMIN}


@dataclass(frozen=True)
class Command:
    name: str
    handler: Callable
    access: Access
    params: tuple[Param, ...] = ()
    flags: tuple[Flag, ...] = ()
    aliases: tuple[str, ...] = ()
    hidden: bool = False  # reachable (buttons, platform glue) but not listed in /help
    group: str = "6-account"
    # Who may see its answers, errors too (bot.messages.Audience). Personal unless declared otherwise:
    # a command whose answers may go to a whole group chat says so (CHAT, or GROUP for channel settings).
    audience: Audience = Audience.PRIVATE
    extra: dict = field(default_factory=dict)

    @property
    def first_word(self) -> str:
        """What a platform passes as the command: the first word of a two-word name."""
        return self.name.split(" ", 1)[0]


def command(
    name: str,
    *,
    access: Access = Access.MEMBER,
    params: tuple[Param, ...] | list[Param] = (),
    flags: tuple[Flag, ...] | list[Flag] = (),
    aliases: tuple[str, ...] = (),
    hidden: bool = False,
    group: str = "6-account",
    audience: Audience = Audience.PRIVATE,
) -> Callable[[Callable], Callable]:
    """Declare a handler's command. Nothing is registered: CommandTable.collect reads the declarations
    of the handler modules bootstrap names."""

    def declare(handler: Callable) -> Callable:
        handler.__command__ = Command(  # type: ignore[attr-defined]
            name, handler, access, tuple(params), tuple(flags), aliases, hidden, group, audience
        )
        return handler

    return declare


class CommandTable:
    """The commands one process answers, by name and alias."""

    def __init__(self, commands: Iterable[Command]):
        self._commands: dict[str, Command] = {}
        self._aliases: dict[str, str] = {}
        for cmd in commands:
            if cmd.name in self._commands:
                raise RuntimeError(f"command {cmd.name!r} declared twice")
            self._commands[cmd.name] = cmd
            for alias in cmd.aliases:
                self._aliases[alias] = cmd.name

    @classmethod
    def collect(cls, modules: Iterable[ModuleType]) -> "CommandTable":
        """Every @command declared in these modules."""
        return cls(
            value.__command__ for module in modules for value in vars(module).values()
            if isinstance(getattr(value, "__command__", None), Command) and value.__module__ == module.__name__
        )

    def lookup(self, name: str) -> Command | None:
        return self._commands.get(self._aliases.get(name, name))

    def resolve(self, name: str, args: str) -> tuple[Command | None, str]:
        """The command a typed line means, and the arguments left for it: "pool" + "admin rules x"
        is the command "pool admin" with "rules x" when it is declared, else "pool" with all of it."""
        first = self.lookup(name)
        word, _, rest = args.strip().partition(" ")
        if word and " " not in name:
            base = first.name if first is not None else name
            two_words = self._commands.get(f"{base} {word.lower()}")
            if two_words is not None:
                return two_words, rest.strip()
        return first, args

    def all(self) -> list[Command]:
        return list(self._commands.values())

    def visible_to(self, access: Access) -> list[Command]:
        return sorted(
            (c for c in self._commands.values() if not c.hidden and c.access <= access),
            key=lambda c: (c.group, c.name),
        )
