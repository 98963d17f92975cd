"""The one platform-neutral command table. Handlers register with @command; the router reads it.

Permission is declared here, per command, and checked by the router: handlers never check roles.
"""
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import IntEnum

from bot.handlers.args import Flag, Param


class Access(IntEnum):
    PUBLIC = 0  # anyone, even a person not linked yet (only /join, /start)
    MEMBER = 1  # any linked, active user
    MANAGER = 2
    ADMIN = 3


# A bare shared location is routed to this command.
LOCATION_COMMAND = "location"

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
    group: str = "general"
    extra: dict = field(default_factory=dict)


COMMANDS: dict[str, Command] = {}
ALIASES: dict[str, str] = {}


def command(
    name: str,
    *,
    access: Access = Access.MEMBER,
    params: tuple[Param, ...] | list[Param] = (),
    flags: tuple[Flag, ...] | list[Flag] = (),
    aliases: tuple[str, ...] = (),
    hidden: bool = False,
    group: str = "general",
) -> Callable[[Callable], Callable]:
    def register(handler: Callable) -> Callable:
        if name in COMMANDS:
            raise RuntimeError(f"command {name!r} registered twice")
        COMMANDS[name] = Command(
            name, handler, access, tuple(params), tuple(flags), aliases, hidden, group
        )
        for alias in aliases:
            ALIASES[alias] = name
        return handler

    return register


def lookup(name: str) -> Command | None:
    return COMMANDS.get(ALIASES.get(name, name))


def visible_to(access: Access) -> list[Command]:
    return sorted(
        (c for c in COMMANDS.values() if not c.hidden and c.access <= access),
        key=lambda c: (c.group, c.name),
    )
