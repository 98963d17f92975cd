"""The answer kept with an inbound event's dedupe row, until the front end confirms it was sent.

The router writes the answer in the command's own transaction, so a crash between the commit and
the send leaves it there; a redelivery of the event then gets it again instead of nothing. The
front end marks the row answered once the answer left: a redelivery after that gets nothing.
"""
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, text

from db.models import InboundEvent
from db.session import UnitOfWork

_COLUMNS = InboundEvent.__table__.c
_KEY = "platform = :platform AND workspace = :workspace AND event_id = :event_id"

# By the unique key: the same statement for every front end (none of them knows the row's id).
_KEEP = text(f"UPDATE inbound_events SET answer = :answer WHERE {_KEY}").bindparams(
    bindparam("answer", type_=_COLUMNS.answer.type))
_READ = text(f"SELECT answer, answered_at, received_at FROM inbound_events WHERE {_KEY}").columns(
    _COLUMNS.answer, _COLUMNS.answered_at, _COLUMNS.received_at)
_MARK = text(f"UPDATE inbound_events SET answered_at = :now WHERE {_KEY} AND answered_at IS NULL").bindparams(
    bindparam("now", type_=_COLUMNS.answered_at.type))


@dataclass(frozen=True)
class EventKey:
    """An inbound event as its dedupe row is keyed (cut to the columns' sizes, as claim_event cuts)."""

    platform: str
    workspace: str
    event_id: str

    @classmethod
    def of(cls, platform: str, workspace: str, event_id: str) -> "EventKey":
        return cls(platform, workspace[:64], event_id[:128])

    def params(self) -> dict[str, str]:
        return {"platform": self.platform, "workspace": self.workspace, "event_id": self.event_id}


@dataclass(frozen=True)
class Kept:
    """A claimed event's answer (stored replies, as bot.messages.Reply.to_json wrote them)."""

    answer: list[dict] | None
    answered_at: datetime | None
    received_at: datetime  # when the event was claimed (the first delivery)

    @property
    def unsent(self) -> bool:
        return bool(self.answer) and self.answered_at is None


def keep(uow: UnitOfWork, key: EventKey, answer: list[dict]) -> None:
    """Store the answer on the event's row, in the caller's transaction (with the effect)."""
    uow.session.execute(_KEEP, {**key.params(), "answer": answer})


def kept(uow: UnitOfWork, key: EventKey) -> Kept | None:
    row = uow.session.execute(_READ, key.params()).first()
    return Kept(row.answer, row.answered_at, row.received_at) if row is not None else None


def mark_answered(uow: UnitOfWork, keys: list[EventKey], now: datetime) -> None:
    """The front ends sent these answers: a redelivery from now on is answered with nothing.
    One statement per key, sent together (executemany)."""
    if keys:
        uow.session.execute(_MARK, [{**key.params(), "now": now} for key in keys])
