"""Handover (离职交接 / 更换负责人): a manager moves a rep's leads, customers (with contacts) and open
deals to another rep in one transaction, with set-based statements, so 10,000 records move in seconds.

History moves along: every lead gets a "handover" LeadEvent, every record an audit entry, and the batch
with each record's previous owner is kept so the same manager can undo it within a day.
Won and lost deals stay with the rep who earned them (payroll and boards must not shift); converted
and voided leads keep their owner as history.
"""
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import (
    JSON,
    Date,
    Integer,
    String,
    and_,
    func,
    insert,
    literal,
    null,
    select,
    update,
)

from bot.errors import UserError
from bot.services.core import audit_log, identity, outbox
from bot.services.leads import ownership
from bot.services.manager import scope
from db.base import UTCDateTime
from db.models import Contact, Customer, Deal, Lead, LeadEvent, RecordMember, User
from db.models.audit import AuditEntry
from db.models.deal import Stage
from db.models.handover import HandoverBatch, HandoverItem
from db.models.lead import OPEN_LEAD_STATUSES
from db.session import UnitOfWork

WHAT = ("all", "leads", "customers", "deals")
STAY = {"readonly": "read", "readwrite": "write"}
UNDO_WINDOW = timedelta(days=1)
OPEN_STAGES = (Stage.INITIAL, Stage.INTENT, Stage.NEGOTIATION)
SHOWN_OVER_CAP = 10


@dataclass(frozen=True)
class HandoverResult:
    batch_id: int
    from_name: str
    to_name: str
    leads: int
    customers: int
    contacts: int
    deals: int
    stay_access: str | None
    stay_until: date | None
    deactivated: bool

    @property
    def records(self) -> int:
        return self.leads + self.customers + self.contacts + self.deals


@dataclass(frozen=True)
class UndoResult:
    batch_id: int
    from_name: str
    to_name: str
    restored: int
    kept: int  # records the receiver already changed hands of: left where they are
    reactivated: bool


def _user(uow: UnitOfWork, visible: scope.Scope, handle: str) -> User:
    """The person named, if the manager's scope covers him: anyone else reads like a handle nobody has."""
    return scope.user_or_not_found(uow, visible, identity.find_user(uow, handle), handle)


# (record type, model, condition on the giver's rows) for each selection.
def _selections(what: str, giver_id: int) -> list[tuple[str, type, object]]:
    chosen = []
    if what in ("all", "leads"):
        chosen.append(("lead", Lead, and_(Lead.owner_id == giver_id, Lead.status.in_(OPEN_LEAD_STATUSES))))
    if what in ("all", "customers"):
        chosen.append(("customer", Customer, and_(Customer.owner_id == giver_id, Customer.status != "voided")))
        chosen.append(("contact", Contact, and_(Contact.owner_id == giver_id, Contact.status != "voided")))
    if what in ("all", "deals"):
        chosen.append(("deal", Deal,
                       and_(Deal.owner_id == giver_id, Deal.stage.in_(OPEN_STAGES))))
    return chosen


def _check_request(giver, receiver, what, stay, until, deactivate, today) -> None:
    if what not in WHAT:
        raise UserError("manager/handover_bad_selection", value=what, choices=", ".join(WHAT))
    if giver.id == receiver.id:
        raise UserError("manager/handover_to_self", name=giver.name)
    if not receiver.active:
        raise UserError("manager/receiver_inactive", name=receiver.name)
    if until is not None and stay is None:
        raise UserError("manager/handover_until_needs_stay")
    if stay is not None:
        if stay not in STAY:
            raise UserError("manager/handover_bad_stay", value=stay, choices=", ".join(STAY))
        if until is None:
            raise UserError("manager/handover_stay_needs_until")
        if until < today:
            raise UserError("manager/handover_until_past", until=until)
        if deactivate:
            raise UserError("manager/handover_stay_and_deactivate")
    if deactivate and what != "all":
        raise UserError("manager/handover_deactivate_needs_all")


def _check_cap(uow: UnitOfWork, giver: User, receiver: User, what: str) -> None:
    if what not in ("all", "leads"):
        return
    moving = select(Lead.id, Lead.company).where(Lead.owner_id == giver.id, Lead.status.in_(OPEN_LEAD_STATUSES))
    count = uow.session.scalar(select(func.count()).select_from(moving.subquery())) or 0
    room = ownership.room(uow, receiver.id)
    if count <= room:
        return
    over = uow.session.execute(moving.order_by(Lead.id).offset(room).limit(SHOWN_OVER_CAP)).all()
    raise UserError(
        "manager/handover_over_cap", name=receiver.name, cap=ownership.cap(uow, receiver.id), room=room,
        moving=count, over=count - room, examples=[f"#{row.id} {row.company}" for row in over],
    )


def _record_items(uow: UnitOfWork, batch_id: int, record_type: str, model: type, condition) -> int:
    source = select(literal(batch_id, Integer), literal(record_type, String), model.id, model.owner_id).where(condition)
    uow.session.execute(
        insert(HandoverItem).from_select(["batch_id", "record_type", "record_id", "from_owner_id"], source)
    )
    # rowcount of INSERT ... SELECT is not reported by every driver: count what was recorded.
    return uow.session.scalar(select(func.count()).select_from(_moved_ids(batch_id, record_type).subquery())) or 0


def _moved_ids(batch_id: int, record_type: str):
    return select(HandoverItem.record_id).where(
        HandoverItem.batch_id == batch_id, HandoverItem.record_type == record_type
    )


def _audit_moves(uow, batch_id, record_type, model, from_id, to_id, action, now) -> None:
    actor = audit_log.actor_fields()
    source = select(
        literal(now, UTCDateTime()), literal(actor["actor_id"], Integer), literal(actor["platform"], String),
        literal(record_type, String), model.id, literal(action, String),
        literal({"owner_id": from_id, "handover": batch_id}, JSON), literal({"owner_id": to_id, "handover": batch_id}, JSON),
        literal(to_id, Integer),
    ).where(model.id.in_(_moved_ids(batch_id, record_type)), model.owner_id == to_id)
    uow.session.execute(insert(AuditEntry).from_select(
        ["at", "actor_id", "platform", "record_type", "record_id", "action", "before", "after", "owner_id"], source
    ))


def _lead_events(uow, batch_id, manager_id, from_id, to_id, reason, now) -> None:
    source = select(
        Lead.id, literal(now, UTCDateTime()), literal(manager_id, Integer), literal("handover", String),
        Lead.status, Lead.status, literal(from_id, Integer), literal(to_id, Integer), Lead.pool_id,
        literal(reason, String),
    ).where(Lead.id.in_(_moved_ids(batch_id, "lead")), Lead.owner_id == to_id)
    uow.session.execute(insert(LeadEvent).from_select(
        ["lead_id", "at", "actor_id", "kind", "from_status", "to_status", "from_owner_id", "to_owner_id", "pool_id",
         "reason"], source,
    ))


def _move(uow, batch_id, record_type, model, from_id, to_id, now) -> int:
    values = {"owner_id": to_id}
    if hasattr(model, "updated_at"):
        values["updated_at"] = now
    result = uow.session.execute(
        update(model)
        .where(model.id.in_(_moved_ids(batch_id, record_type)), model.owner_id == from_id)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return max(result.rowcount, 0)


def _add_stay_members(uow, batch_id, giver_id, manager_id, access, until, now) -> None:
    types = {"lead": "lead", "customer": "customer", "deal": "deal"}
    for item_type, member_type in types.items():
        source = select(
            literal(member_type, String), HandoverItem.record_id, literal(giver_id, Integer), literal(access, String),
            literal(until, Date), literal(manager_id, Integer), literal(now, UTCDateTime()),
        ).where(HandoverItem.batch_id == batch_id, HandoverItem.record_type == item_type)
        uow.session.execute(insert(RecordMember).from_select(
            ["record_type", "record_id", "user_id", "access", "until", "added_by_id", "created_at"], source
        ))
    added = and_(RecordMember.user_id == giver_id, RecordMember.added_by_id == manager_id,
                 RecordMember.created_at == now)
    _audit_members(uow, "create", added, None, {
        "record_type": RecordMember.record_type, "record_id": RecordMember.record_id, "user_id": RecordMember.user_id,
        "access": RecordMember.access, "until": RecordMember.until,
    }, now)


def _audit_members(uow, action: str, where, before: dict | None, after: dict | None, now) -> None:
    """One INSERT ... SELECT of audit rows for the team-member rows `where` selects (before/after
    are columns, built into JSON in SQL; None stays NULL)."""
    actor = audit_log.actor_fields()

    def built(values: dict | None):
        return audit_log.json_object(uow.dialect, **values) if values else null()

    uow.session.execute(audit_log.insert_from(select(
        literal(now, UTCDateTime()), literal(actor["actor_id"], Integer), literal(actor["platform"], String),
        literal("record_member", String), RecordMember.id, literal(action, String), built(before), built(after),
        RecordMember.user_id,
    ).where(where)))


def hand_over(
    uow: UnitOfWork, manager_id: int, from_handle: str, to_handle: str, what: str = "all",
    stay: str | None = None, until: date | None = None, deactivate: bool = False, *, now: datetime, today: date,
) -> HandoverResult:
    visible = scope.of(uow, manager_id, today)
    giver, receiver = _user(uow, visible, from_handle), _user(uow, visible, to_handle)
    _check_request(giver, receiver, what, stay, until, deactivate, today)
    # Two handovers of the same rep at once would both read his records: serialise on his row.
    uow.session.execute(select(User.id).where(User.id == giver.id).with_for_update())
    _check_cap(uow, giver, receiver, what)
    access = STAY.get(stay) if stay else None
    batch = HandoverBatch(
        manager_id=manager_id, from_user_id=giver.id, to_user_id=receiver.id, what=what, stay_access=access,
        stay_until=until, deactivated=deactivate, created_at=now,
    )
    uow.session.add(batch)
    uow.session.flush()
    counts: dict[str, int] = {}
    for record_type, model, condition in _selections(what, giver.id):
        counts[record_type] = _record_items(uow, batch.id, record_type, model, condition)
    if not any(counts.values()) and not deactivate:
        raise UserError("manager/handover_nothing", name=giver.name)
    for record_type, model, _condition in _selections(what, giver.id):
        _move(uow, batch.id, record_type, model, giver.id, receiver.id, now)
        _audit_moves(uow, batch.id, record_type, model, giver.id, receiver.id, "handover", now)
    _lead_events(uow, batch.id, manager_id, giver.id, receiver.id, f"handover #{batch.id}", now)
    if access:
        _add_stay_members(uow, batch.id, giver.id, manager_id, access, until, now)
    if deactivate:
        giver.active = False
    batch.records = sum(counts.values())
    result = HandoverResult(
        batch.id, giver.name, receiver.name, counts.get("lead", 0), counts.get("customer", 0),
        counts.get("contact", 0), counts.get("deal", 0), access, until, deactivate,
    )
    manager = uow.session.get(User, manager_id)
    context = {"result": result, "manager": manager.name if manager else ""}
    outbox.queue_direct(uow, giver.id, "manager/handover_dm_from", context, dedupe_key=f"handover:{batch.id}:from",
                        now=now)
    outbox.queue_direct(uow, receiver.id, "manager/handover_dm_to", context, dedupe_key=f"handover:{batch.id}:to",
                        now=now)
    return result


def _restore(uow, batch: HandoverBatch, record_type: str, model, now) -> tuple[int, int]:
    moved = uow.session.scalar(select(func.count()).select_from(_moved_ids(batch.id, record_type).subquery())) or 0
    if record_type == "lead":
        _undo_events(uow, batch, now)
    restored = _move(uow, batch.id, record_type, model, batch.to_user_id, batch.from_user_id, now)
    _audit_moves(uow, batch.id, record_type, model, batch.to_user_id, batch.from_user_id, "undo", now)
    return restored, moved - restored


def _undo_events(uow, batch: HandoverBatch, now) -> None:
    """The lead event of the undo, written before the owner flips back (it reads who holds it now)."""
    source = select(
        Lead.id, literal(now, UTCDateTime()), literal(batch.manager_id, Integer), literal("handover", String),
        Lead.status, Lead.status, literal(batch.to_user_id, Integer), literal(batch.from_user_id, Integer),
        Lead.pool_id, literal(f"undo of handover #{batch.id}", String),
    ).where(Lead.id.in_(_moved_ids(batch.id, "lead")), Lead.owner_id == batch.to_user_id)
    uow.session.execute(insert(LeadEvent).from_select(
        ["lead_id", "at", "actor_id", "kind", "from_status", "to_status", "from_owner_id", "to_owner_id", "pool_id",
         "reason"], source,
    ))


def undo(uow: UnitOfWork, manager_id: int, batch_id: int | None, *, now: datetime, today: date) -> UndoResult:
    """Give everything back, within a day, by the manager who did it. Records the receiver already
    passed on (released, reassigned) stay where they are, and are counted."""
    query = select(HandoverBatch).where(HandoverBatch.manager_id == manager_id)
    if batch_id is not None:
        query = select(HandoverBatch).where(HandoverBatch.id == batch_id)
    batch = uow.session.scalar(query.order_by(HandoverBatch.id.desc()).limit(1).with_for_update())
    if batch is None:
        raise UserError("manager/undo_nothing")
    if batch.manager_id != manager_id:
        raise UserError("manager/undo_not_yours", batch_id=batch.id)
    if batch.undone_at is not None:
        raise UserError("manager/undo_already", batch_id=batch.id)
    if now - batch.created_at > UNDO_WINDOW:
        raise UserError("manager/undo_too_late", batch_id=batch.id)
    restored = kept = 0
    for record_type, model, _condition in _selections(batch.what, batch.from_user_id):
        done, left = _restore(uow, batch, record_type, model, now)
        restored, kept = restored + done, kept + left
    if batch.stay_access:
        added = and_(RecordMember.user_id == batch.from_user_id, RecordMember.added_by_id == batch.manager_id,
                     RecordMember.created_at >= batch.created_at)
        ended = today - timedelta(days=1)
        _audit_members(uow, "undo", added, {"until": RecordMember.until}, {"until": literal(ended, Date)}, now)
        uow.session.execute(
            update(RecordMember)
            .where(added)
            .values(until=ended)
            .execution_options(synchronize_session=False)
        )
    giver = uow.session.get(User, batch.from_user_id)
    receiver = uow.session.get(User, batch.to_user_id)
    assert giver is not None and receiver is not None
    if batch.deactivated:
        giver.active = True
    batch.undone_at = now
    result = UndoResult(batch.id, giver.name, receiver.name, restored, kept, batch.deactivated)
    for person, template in ((giver, "manager/undo_dm_from"), (receiver, "manager/undo_dm_to")):
        outbox.queue_direct(uow, person.id, template, {"result": result}, dedupe_key=f"handover:{batch.id}:undo:{person.id}",
                            now=now)
    return result
