"""Reminders read from notes: set from a /follow or /visit end note, listed and cancelled with
/remind, picked when a note could mean two times, and sent once when due.

Sending: the job (bot.jobs.reminders) takes the due rows with a locking read that skips rows another
process holds, marks each sent and queues its direct message in the same transaction (the outbox
delivers it); so a reminder is queued once however many processes run the job. An owner with no
chat the bot can reach (queue_direct says so) has his reminder marked sent all the same: it is not
tried again at every run.
"""
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select

from bot.errors import UserError
from bot.services.core import outbox
from bot.services.reminders import amounts, when
from bot.services.reminders.when import Kind
from db.models import Customer, Lead, Reminder, User, Visit
from db.session import UnitOfWork

MAX_LISTED = 30
DUE_BATCH = 200
DUE_TEMPLATE = "reminders/due"


@dataclass(frozen=True)
class NoteReading:
    """What a note held besides its words: a date (set, to choose, vague or passed) and money."""

    kind: Kind | None  # None: no date in the note
    words: str = ""
    reminder_id: int | None = None
    at: datetime | None = None  # local
    candidates: tuple[datetime, ...] = ()  # local
    amount: amounts.Amount | None = None
    lead_id: int | None = None  # what the note is about
    customer_id: int | None = None

    @property
    def deal_command(self) -> str | None:
        """The command that would record the amount, for a button: never run unless pressed."""
        if self.amount is None:
            return None
        value = format(self.amount.value, "f")
        if self.lead_id is not None:
            return f"convert {self.lead_id} --deal {value}"
        if self.customer_id is not None:
            return f"newdeal c{self.customer_id} {value}"
        return None


@dataclass(frozen=True)
class ReminderView:
    id: int
    note: str
    words: str
    at: datetime | None  # local to the owner; None while he chooses
    candidates: tuple[datetime, ...]
    lead_id: int | None
    customer_id: int | None
    target: str  # the lead's company or the customer's name, "" for none


def _zone(name: str | None) -> ZoneInfo:
    return ZoneInfo(name or "UTC")


def from_note(uow: UnitOfWork, owner_id: int, note: str, now: datetime, *, lead_id: int | None = None,
              customer_id: int | None = None, visit_id: int | None = None, when_words: str | None = None
              ) -> NoteReading:
    """Read a note just saved: a date sets a reminder (or one to choose); a passed or vague one sets
    nothing. A money amount is only reported. `when_words`: the date given apart from the note (a
    form's reminder field); it must be readable and to come, else UserError on the field "remind"
    and nothing is set."""
    owner = uow.session.get(User, owner_id)
    zone = _zone(owner.timezone if owner else None)
    visit = uow.session.get(Visit, visit_id) if visit_id is not None else None
    if visit is not None:
        lead_id, customer_id = visit.lead_id, visit.customer_id
    found = amounts.find(note)
    reading = when.read(when_words if when_words is not None else note, now, zone)
    if when_words is not None and (reading is None or reading.kind in (Kind.PAST, Kind.VAGUE)):
        problem = "reminders/past" if reading is not None and reading.kind is Kind.PAST else "reminders/unreadable"
        raise UserError(problem, words=when_words[:100]).at("remind")
    about = {"amount": found, "lead_id": lead_id, "customer_id": customer_id}
    if reading is None:
        return NoteReading(None, **about)
    if reading.kind in (Kind.PAST, Kind.VAGUE):
        return NoteReading(reading.kind, reading.words, **about)
    reminder = Reminder(owner_id=owner_id, lead_id=lead_id, customer_id=customer_id, visit_id=visit_id,
                        note=note[:1000], words=reading.words[:100], timezone=zone.key, created_at=now,
                        due_at=reading.at.astimezone(UTC) if reading.at else None,
                        candidates=[c.astimezone(UTC).isoformat() for c in reading.candidates])
    uow.session.add(reminder)
    uow.session.flush()
    return NoteReading(reading.kind, reading.words, reminder.id, reading.at, reading.candidates, **about)


def list_open(uow: UnitOfWork, owner_id: int) -> list[ReminderView]:
    """His reminders still to come (and those waiting for his choice), soonest first."""
    rows = uow.session.scalars(
        select(Reminder).where(Reminder.owner_id == owner_id, Reminder.sent_at.is_(None),
                               Reminder.cancelled_at.is_(None))
        .order_by(Reminder.due_at.is_(None), Reminder.due_at, Reminder.id).limit(MAX_LISTED)
    ).all()
    return [view(uow, row) for row in rows]


def cancel(uow: UnitOfWork, owner_id: int, ref: str, now: datetime) -> ReminderView:
    reminder = _open_one(uow, owner_id, ref)
    reminder.cancelled_at = now
    return view(uow, reminder)


def pick(uow: UnitOfWork, owner_id: int, ref: str, choice: str, now: datetime) -> ReminderView:
    """Set a reminder that waited for a choice to the reading chosen (1 or 2)."""
    reminder = _open_one(uow, owner_id, ref)
    options = [datetime.fromisoformat(c) for c in reminder.candidates]
    if reminder.due_at is not None or not choice.isdigit() or not 1 <= int(choice) <= len(options):
        raise UserError("reminders/not_waiting", id=reminder.id)
    chosen = options[int(choice) - 1]
    if chosen <= now:
        raise UserError("reminders/past", words=reminder.words)
    reminder.due_at = chosen
    return view(uow, reminder)


def send_due(uow: UnitOfWork, now: datetime) -> int:
    """Mark the due reminders sent and queue their messages; rows held by another process are skipped."""
    due = uow.session.scalars(
        select(Reminder).where(Reminder.due_at <= now, Reminder.sent_at.is_(None), Reminder.cancelled_at.is_(None))
        .order_by(Reminder.due_at).limit(DUE_BATCH).with_for_update(skip_locked=True)
    ).all()
    for reminder in due:
        reminder.sent_at = now
        shown = view(uow, reminder)
        outbox.queue_direct(uow, reminder.owner_id, DUE_TEMPLATE,
                            {"id": shown.id, "note": shown.note, "at": shown.at, "lead_id": shown.lead_id,
                             "customer_id": shown.customer_id, "target": shown.target},
                            dedupe_key=f"reminder:{reminder.id}", now=now)
    return len(due)


def _open_one(uow: UnitOfWork, owner_id: int, ref: str) -> Reminder:
    """His reminder not yet sent nor cancelled; anyone else's reads exactly like a missing one."""
    text = ref.strip().lstrip("#")
    reminder = uow.session.get(Reminder, int(text), with_for_update=True) if text.isdigit() and len(text) < 10 else None
    if reminder is None or reminder.owner_id != owner_id:
        raise UserError("reminders/not_found", id=ref[:20])
    if reminder.sent_at is not None or reminder.cancelled_at is not None:
        raise UserError("reminders/closed", id=reminder.id, sent=reminder.sent_at is not None)
    return reminder


def view(uow: UnitOfWork, reminder: Reminder) -> ReminderView:
    zone = _zone(reminder.timezone)
    target = ""
    if reminder.lead_id is not None:
        target = uow.session.scalar(select(Lead.company).where(Lead.id == reminder.lead_id)) or ""
    elif reminder.customer_id is not None:
        target = uow.session.scalar(select(Customer.name).where(Customer.id == reminder.customer_id)) or ""
    return ReminderView(reminder.id, reminder.note, reminder.words,
                        reminder.due_at.astimezone(zone) if reminder.due_at else None,
                        tuple(datetime.fromisoformat(c).astimezone(zone) for c in reminder.candidates),
                        reminder.lead_id, reminder.customer_id, target)

