"""Who is acting right now (CRM user id and platform), for audit records written anywhere below.

The router sets it for each command; scheduled jobs leave it empty (the system acts).
"""
from contextvars import ContextVar
from dataclasses import dataclass


@dataclass(frozen=True)
class Actor:
    user_id: int | None
    platform: str


CURRENT_ACTOR: ContextVar[Actor | None] = ContextVar("CURRENT_ACTOR", default=None)
