"""Follow-ups on a customer (客户跟进): `/follow cN NOTE` and Slack's "Add as follow-up" on a customer.

A follow-up is a note of contact, kept in customer_followups (beside a lead's lead_followups: a
customer has no status for it to move). It is not a visit: revisit cadence counts verified visits
only (bot.services.customers.cadence). A date in the note sets a reminder on the customer and an
amount is offered as a new deal: the handler reads the note (bot.services.reminders.reminders).
"""
import unicodedata
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from bot.errors import UserError
from bot.services.leads.conversion import customer_id
from bot.services.leads.lifecycle import MAX_NOTE_CHARS, clean_optional, user_name
from bot.services.leads.reading import FollowupRow, user_zone
from bot.services.manager import scope
from db.models import Customer, CustomerFollowup
from db.session import UnitOfWork

SHOWN = 5  # the last follow-ups /customer shows


@dataclass(frozen=True)
class CustomerFollowed:
    followup_id: int
    customer_id: int
    name: str


def customer_ref(raw: str) -> int | None:
    """The customer a follow-up's ref names ("c12", "C12", the full-width "ｃ１２"), or None: a bare
    number, "#12" or "l12" is a lead, as /follow always read it."""
    text = unicodedata.normalize("NFKC", raw).strip()
    if text[:1] not in ("c", "C"):
        return None
    return customer_id(text)


def follow(uow: UnitOfWork, actor_id: int, raw_id: str | int, note: str, now: datetime) -> CustomerFollowed:
    """A follow-up on a customer the actor may change; out of his reach it reads like not found."""
    cid = customer_id(raw_id)
    note = clean_optional(note, MAX_NOTE_CHARS, "note") or ""
    if not note:
        raise UserError("leads/note_required")
    customer = uow.session.get(Customer, cid)
    if customer is None or customer.status != "active":
        raise scope.not_found("customer", cid)
    scope.require(uow, scope.of(uow, actor_id, now.date()), "customer", customer.id, customer.owner_id, write=True)
    row = CustomerFollowup(customer_id=customer.id, author_id=actor_id, at=now, note=note)
    uow.session.add(row)
    uow.session.flush()
    return CustomerFollowed(row.id, customer.id, customer.name)


def recent(uow: UnitOfWork, viewer_id: int, cid: int, limit: int = SHOWN) -> list[FollowupRow]:
    """The customer's last follow-ups, newest first, in the viewer's time zone. The caller has
    checked that the viewer may read the customer."""
    zone = user_zone(uow, viewer_id)
    rows = uow.session.scalars(select(CustomerFollowup).where(CustomerFollowup.customer_id == cid)
                               .order_by(CustomerFollowup.at.desc(), CustomerFollowup.id.desc()).limit(limit))
    return [FollowupRow(f.at.astimezone(zone), user_name(uow, f.author_id) or "", f.note) for f in rows]
