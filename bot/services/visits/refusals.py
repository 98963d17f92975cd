"""A refused position leaves a trace on the visit it was meant for.

A forwarded position (someone else's) or one dated in the future is refused
(bot.services.visits.location_checks.rejections): nothing is pinned and the visit keeps waiting.
When a visit or check-in/out of the rep waits for that position, the attempt is kept on it as a
flag reason ("refused_forwarded", "refused_future"), committed with the refusal the rep is told, so
the manager's review shows it instead of a plain "no location shared"; a genuine position pinned
later keeps it (shared_location.KEPT_WHEN_PINNED), so the visit is flagged for review. Repeated
attempts update one reason per kind (a counter, the first and the last time), so the row stays small.
With nothing waiting, the refusal is a plain error and nothing is written.

Times are kept in the rep's time zone, with their offset (ISO 8601): the review says "refused at
10:32" on the rep's clock, as he was told.
"""
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import ColumnElement, Text, cast, or_

from bot.errors import UserError
from bot.services.visits.location_checks import FLAG, Reason
from bot.services.visits.visits import zone_of
from db.models import User, Visit
from db.session import UnitOfWork

PREFIX = "refused_"
CODES = ("refused_forwarded", "refused_future")


@dataclass(frozen=True)
class Refused:
    """A position refused while a visit waited: the rep is told errors/<template>, the visit keeps a trace."""

    template: str
    params: dict = field(default_factory=dict)
    visit_id: int | None = None


def template_of(rejection: Reason) -> str:
    return f"visits/{PREFIX}{rejection.code}"


def refuse(uow: UnitOfWork, user: User, visit: Visit | None, rejection: Reason, now: datetime) -> Refused:
    """Keep the attempt on `visit` (the one waiting for this position) and say it was refused;
    with no visit, a plain refusal (UserError: nothing written)."""
    if visit is None:
        raise UserError(template_of(rejection), **rejection.params)
    visit.reasons = traced(visit.reasons, rejection, now.astimezone(zone_of(user)))
    uow.session.flush()
    return Refused(template_of(rejection), rejection.params, visit.id)


def traced(reasons: list[dict], rejection: Reason, at_local: datetime) -> list[dict]:
    """The visit's reasons with this attempt counted: one reason per kind of refusal, in its place."""
    code = PREFIX + rejection.code
    stamp = at_local.isoformat(timespec="seconds")
    earlier = next((r for r in reasons if r.get("code") == code), None)
    count = int(earlier.get("count", 1)) + 1 if earlier is not None else 1
    first = earlier.get("first_at", stamp) if earlier is not None else stamp
    entry = {"code": code, "severity": FLAG, **rejection.params, "count": count, "first_at": first, "at": stamp}
    if earlier is None:
        return [*reasons, entry]
    return [entry if r is earlier else r for r in reasons]


def of(reasons: list[dict]) -> list[dict]:
    return [r for r in reasons if r.get("code") in CODES]


def may_have_trace() -> ColumnElement[bool]:
    """A cheap filter for visits whose reasons may hold a refusal (the JSON as text, on both
    databases); confirm with `of`."""
    text = cast(Visit.reasons, Text)
    return or_(*(text.contains(f'"{code}"') for code in CODES))
