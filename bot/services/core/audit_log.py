"""Writing the audit log: every change to every business record, in the transaction that makes it.

Two kinds of table. **Business records** are what people create and change (leads, customers,
deals, visits, users, units, pools and their members, settings, follow-ups, invitations...): every
change to one of them gets an audit row. **Bookkeeping** tables (`BOOKKEEPING`) record or serve
other changes and are never audited: the audit log itself, histories that already name their actor
(lead events, the claim log, handover items), delivery (outbox, held announcements, the send budget), dedupe and
single-use markers (inbound events, used check-in links, return warnings, the nudge log, the morning
plans queued), scheduler
claims (job runs), derived snapshots (board snapshots), raw position trails, pending location
requests and the shared secrets. A new table is a business record unless it is named here.

ORM changes are audited by a session listener (`install`, called by bot.bootstrap on each
database), so no capability has to remember it. Set-based statements bypass that listener; their
authors write the audit rows themselves in the same transaction, one extra statement per batch,
never one per row: `bulk_rows` + `write` for rows known in Python, `insert_from` for an
INSERT ... SELECT (on PostgreSQL it can sit in the same statement as the change, as a
data-modifying CTE fed by the UPDATE's RETURNING), with `json_object` to build before/after in SQL.
Actor and platform come from bot.actor.CURRENT_ACTOR (None: the system).
"""
from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import ColumnElement, Insert, Select, event, func, insert, inspect, literal_column
from sqlalchemy.orm import Session

from bot.actor import CURRENT_ACTOR
from db.base import utcnow
from db.models.audit import AuditEntry
from db.session import Database

BOOKKEEPING = frozenset({
    "audit_log", "lead_events", "lead_claims", "handover_items",  # histories of other changes
    "outbox", "held_announcements", "send_budget",  # delivery
    "inbound_events", "used_checkin_links", "lead_return_warnings", "nudge_log",  # dedupe and sent markers
    "plan_pushes",
    "job_runs", "board_snapshots",  # scheduler claims, derived snapshots
    "visit_trail_points", "customer_location_requests",  # raw positions, a pending step
    "app_secrets",  # never copied anywhere
})

# Table name -> the record type users and scope speak of.
RECORD_TYPES = {
    "leads": "lead", "customers": "customer", "contacts": "contact", "deals": "deal",
    "visits": "visit", "users": "user", "org_units": "unit", "record_members": "record_member",
    "pools": "pool", "pool_members": "pool_member", "team_channels": "channel", "handover_batches": "handover",
    "platform_identities": "identity", "lead_followups": "followup", "visit_photos": "visit_photo",
    "screen_links": "screen_link", "customer_followups": "customer_followup",
}
# Fields whose value is a credential: the log says they changed, never what to.
REDACTED = {"invitations": frozenset({"code"}), "screen_links": frozenset({"token_hash"})}
HIDDEN = "***"
COLUMNS = ("at", "actor_id", "platform", "record_type", "record_id", "action", "before", "after", "owner_id")


def is_bookkeeping(table_name: str) -> bool:
    return table_name in BOOKKEEPING


def is_audited(obj: object) -> bool:
    table = getattr(obj, "__table__", None)
    return table is not None and not is_bookkeeping(table.name)


def record_type_of(table_name: str) -> str:
    return RECORD_TYPES.get(table_name, table_name)


def plain(value: object) -> object:
    """A value as the log stores it (JSON)."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, list | dict | str | int | float | bool) or value is None:
        return value
    return str(value)


def _columns(obj: object) -> dict[str, object]:
    state = inspect(obj)
    return {attr.key: plain(getattr(obj, attr.key)) for attr in state.mapper.column_attrs}


def _changes(obj: object) -> tuple[dict, dict]:
    state = inspect(obj)
    before, after = {}, {}
    for attr in state.mapper.column_attrs:
        history = state.attrs[attr.key].history
        if not history.has_changes():
            continue
        old = history.deleted[0] if history.deleted else None
        new = history.added[0] if history.added else None
        if old == new:
            continue
        before[attr.key], after[attr.key] = plain(old), plain(new)
    return before, after


def _owner(obj: object) -> int | None:
    for name in ("owner_id", "user_id", "author_id"):
        value = getattr(obj, name, None)
        if isinstance(value, int):
            return value
    return None


def actor_fields() -> dict[str, object]:
    """Who is acting: the CRM user and platform of the current command, or the system."""
    actor = CURRENT_ACTOR.get()
    return {"actor_id": actor.user_id if actor else None, "platform": actor.platform if actor else "system"}


def _redact(table_name: str, values: dict | None) -> dict | None:
    hidden = REDACTED.get(table_name)
    if not hidden or values is None:
        return values
    return {key: HIDDEN if key in hidden and value is not None else value for key, value in values.items()}


def _entry(obj: object, action: str, before: dict | None, after: dict | None, now: datetime) -> dict | None:
    if not is_audited(obj):
        return None
    table = obj.__table__.name
    record_id = inspect(obj).mapper.primary_key_from_instance(obj)
    if len(record_id) != 1 or not isinstance(record_id[0], int):
        return None
    return {
        "at": now, **actor_fields(), "record_type": record_type_of(table), "record_id": record_id[0],
        "action": action, "before": _redact(table, before), "after": _redact(table, after), "owner_id": _owner(obj),
    }


def install(db: Database) -> None:
    """Audit every flush of this database's sessions. Called once per Database, by bot.bootstrap
    (open_database). No "already installed?" check: SQLAlchemy's event registry is keyed by object
    id, and a new sessionmaker may reuse the id of a collected one."""
    event.listen(db.session_factory, "after_flush", _audit_flush)


def _audit_flush(session: Session, _flush_context) -> None:
    """Runs inside every flush, in the same transaction: the log and the change commit together."""
    now = utcnow()
    rows = [_entry(obj, "create", None, _columns(obj), now) for obj in session.new]
    for obj in session.dirty:
        if not session.is_modified(obj, include_collections=False):
            continue
        before, after = _changes(obj)
        if after or before:
            rows.append(_entry(obj, "update", before, after, now))
    rows.extend(_entry(obj, "delete", _columns(obj), None, now) for obj in session.deleted)
    write(session, [row for row in rows if row is not None])


# --- set-based authors ------------------------------------------------------------------------

Change = tuple[int, dict | None, dict | None, int | None]  # (record id, before, after, owner id)


def bulk_rows(record_type: str, action: str, changes: Iterable[Change], now: datetime) -> list[dict]:
    """Audit rows for records changed by one set-based statement, all with the current actor."""
    actor = actor_fields()
    return [
        {"at": now, **actor, "record_type": record_type, "record_id": record_id, "action": action,
         "before": before, "after": after, "owner_id": owner_id}
        for record_id, before, after, owner_id in changes
    ]


def write(session: Session, rows: list[dict]) -> None:
    """One INSERT (executemany) of the rows, on the session's connection; nothing when empty."""
    if rows:
        session.connection().execute(insert(AuditEntry), rows)


def insert_from(source: Select) -> Insert:
    """INSERT INTO audit_log SELECT ...: `source` gives COLUMNS in order."""
    return insert(AuditEntry).from_select(list(COLUMNS), source)


def json_object(dialect: str, **values: ColumnElement) -> ColumnElement:
    """A JSON object built in SQL from columns (before/after of a set-based change)."""
    build = func.json_build_object if dialect == "postgresql" else func.json_object
    arguments: list = []
    for key, value in values.items():
        arguments += [literal_column(f"'{key}'"), value]
    return build(*arguments)
