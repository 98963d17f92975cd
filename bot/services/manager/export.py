"""Exports for BI and payroll: visits, leads, customers, deals and the audit log, as CSV or XLSX.

The same rows for `fieldcrm export` (the whole company, optionally one unit's subtree) and for a
manager's /export in chat (only what his data scope covers). Rows stream from the database, so a
million visits export without loading them all at once.

Text cells are written so no spreadsheet runs them (CSV or formula injection, OWASP's rule): in a CSV a
text beginning with = + - @ or a tab or carriage return gets a leading apostrophe; in an XLSX every
text is a string cell (never a formula), and those same texts carry Excel's quote-prefix mark, so the
text stays exactly as typed. Numbers (amounts, negative ones too) stay numbers.
"""
import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

from sqlalchemy import Select, and_, func, select

from bot.errors import UserError
from bot.services.core import org
from bot.services.manager import scope
from db.models import Customer, Lead, OrgUnit, User, Visit
from db.models.audit import AuditEntry
from db.models.deal import Deal
from db.session import UnitOfWork

if TYPE_CHECKING:  # openpyxl loads only when an XLSX is written
    from openpyxl.worksheet._write_only import WriteOnlyWorksheet

KINDS = ("visits", "leads", "customers", "deals", "audit")
FORMATS = ("csv", "xlsx")
CHAT_ROW_LIMIT = 50_000  # a chat file stays small enough to send; the CLI has no limit
BATCH = 2000
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class Table:
    kind: str
    columns: list[str]
    rows: Iterator[tuple]


def _day_bounds(since: date | None, until: date | None) -> tuple[datetime | None, datetime | None]:
    start = datetime.combine(since, time(0), UTC) if since else None
    end = datetime.combine(until + timedelta(days=1), time(0), UTC) if until else None
    return start, end


def _within(column, since: date | None, until: date | None):
    start, end = _day_bounds(since, until)
    clauses = []
    if start is not None:
        clauses.append(column >= start)
    if end is not None:
        clauses.append(column < end)
    return and_(*clauses) if clauses else None


def _in_unit(uow: UnitOfWork, unit_name: str | None, column):
    if unit_name is None:
        return None
    unit = uow.session.scalar(select(OrgUnit).where(func.lower(OrgUnit.name) == unit_name.strip().lower()))
    if unit is None:
        raise scope.not_found("unit", unit_name)
    return unit, column.in_(org.subtree_user_ids(unit.path))


def _query(kind: str) -> tuple[list[str], Select, object, object]:
    """Columns, the query, the owner column (for scope and unit) and the time column (for --since/--until)."""
    owner = User.handle.label("owner")
    if kind == "visits":
        columns = ["id", "rep", "kind", "customer_id", "lead_id", "started_at", "ended_at", "latitude", "longitude",
                   "accuracy_m", "source", "distance_m", "verdict", "reasons", "review_status", "counts", "note"]
        query = select(Visit.id, User.handle, Visit.kind, Visit.customer_id, Visit.lead_id, Visit.started_at,
                       Visit.ended_at, Visit.latitude, Visit.longitude, Visit.accuracy_m, Visit.source,
                       Visit.distance_m, Visit.verdict, Visit.reasons, Visit.review_status, Visit.counts,
                       Visit.note).join(User, Visit.user_id == User.id).order_by(Visit.id)
        return columns, query, Visit.user_id, Visit.started_at
    if kind == "leads":
        columns = ["id", "company", "contact", "phone", "status", "owner", "pool_id", "source", "level", "claimed_at",
                   "last_followup_at", "customer_id", "created_at"]
        query = select(Lead.id, Lead.company, Lead.contact_name, Lead.phone, Lead.status, owner, Lead.pool_id,
                       Lead.source, Lead.level, Lead.claimed_at, Lead.last_followup_at, Lead.customer_id,
                       Lead.created_at).outerjoin(User, Lead.owner_id == User.id).order_by(Lead.id)
        return columns, query, Lead.owner_id, Lead.created_at
    if kind == "customers":
        columns = ["id", "name", "phone", "owner", "level", "industry", "region", "address", "latitude", "longitude",
                   "status", "created_at"]
        query = select(Customer.id, Customer.name, Customer.phone, owner, Customer.level, Customer.industry,
                       Customer.region, Customer.address, Customer.latitude, Customer.longitude, Customer.status,
                       Customer.created_at).outerjoin(User, Customer.owner_id == User.id).order_by(Customer.id)
        return columns, query, Customer.owner_id, Customer.created_at
    if kind == "deals":
        columns = ["id", "name", "customer_id", "owner", "stage", "amount", "currency", "collected_amount",
                   "expected_close", "won_at", "lost_at", "lost_reason", "created_at"]
        query = select(Deal.id, Deal.name, Deal.customer_id, owner, Deal.stage,
                       Deal.amount, Deal.currency, Deal.collected_amount,
                       Deal.expected_close, Deal.won_at, Deal.lost_at, Deal.lost_reason,
                       Deal.created_at).join(User, Deal.owner_id == User.id).order_by(Deal.id)
        return columns, query, Deal.owner_id, Deal.created_at
    if kind == "audit":
        actor = User.handle.label("actor")
        columns = ["id", "at", "actor", "platform", "record_type", "record_id", "action", "before", "after"]
        query = select(AuditEntry.id, AuditEntry.at, actor, AuditEntry.platform, AuditEntry.record_type,
                       AuditEntry.record_id, AuditEntry.action, AuditEntry.before,
                       AuditEntry.after).outerjoin(User, AuditEntry.actor_id == User.id).order_by(AuditEntry.id)
        return columns, query, AuditEntry.owner_id, AuditEntry.at
    raise UserError("manager/export_bad_kind", value=kind[:40], choices=", ".join(KINDS))


def table(uow: UnitOfWork, kind: str, since: date | None = None, until: date | None = None,
          unit_name: str | None = None, viewer_id: int | None = None, today: date | None = None,
          limit: int | None = None) -> Table:
    """The rows to export; viewer_id=None is the operator's CLI (everything)."""
    if since and until and since > until:
        raise UserError("manager/export_bad_range", since=since, until=until)
    columns, query, owner_column, time_column = _query(kind)
    if (window := _within(time_column, since, until)) is not None:
        query = query.where(window)
    if (unit := _in_unit(uow, unit_name, owner_column)) is not None:
        unit_row, in_unit = unit
        if viewer_id is not None:
            visible = scope.of(uow, viewer_id, today)
            if not scope.covers_unit(uow, visible, unit_row.id):
                raise scope.not_found("unit", unit_name or "")
        query = query.where(in_unit)
    if viewer_id is not None:
        query = query.where(scope.users_filter(scope.of(uow, viewer_id, today), owner_column))
    if limit is not None:
        query = query.limit(limit + 1)
    rows = uow.session.execute(query.execution_options(yield_per=BATCH))
    return Table(kind, columns, (tuple(row) for row in rows))


def _cell(value: object) -> object:
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False)
    return value


def live_in_a_spreadsheet(value: object) -> bool:
    """A text a spreadsheet would read as a formula (or start one): OWASP's CSV injection characters."""
    return isinstance(value, str) and value.startswith(FORMULA_STARTS)


def csv_cell(value: object) -> object:
    """The value for a CSV: a text that would start a formula gets a leading apostrophe."""
    value = _cell(value)
    return "'" + value if live_in_a_spreadsheet(value) else value


def write_csv(data: Table, out: io.TextIOBase) -> int:
    writer = csv.writer(out)
    writer.writerow(data.columns)
    count = 0
    for row in data.rows:
        writer.writerow([csv_cell(v) for v in row])
        count += 1
    return count


def xlsx_cell(sheet: "WriteOnlyWorksheet", value: object) -> object:
    """The value for an XLSX row: a number as a number, a text as a string cell, never a formula."""
    if isinstance(value, Decimal):
        return float(value)
    value = _cell(value)
    if not live_in_a_spreadsheet(value):
        return value
    from openpyxl.cell import WriteOnlyCell

    cell = WriteOnlyCell(sheet, value)  # openpyxl reads "=..." as a formula: force a string cell
    cell.data_type = "s"
    cell.quotePrefix = True  # as if typed with a leading apostrophe: editing it keeps it text
    return cell


def write_xlsx(data: Table, out: io.BufferedIOBase | io.BytesIO) -> int:
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet(data.kind)
    sheet.append(data.columns)
    count = 0
    for row in data.rows:
        sheet.append([xlsx_cell(sheet, v) for v in row])
        count += 1
    book.save(out)
    return count


@dataclass(frozen=True)
class ExportFile:
    name: str
    content: bytes
    rows: int
    truncated: bool


def to_file(uow: UnitOfWork, viewer_id: int, kind: str, fmt: str, since: date | None, until: date | None,
            unit_name: str | None, today: date) -> ExportFile:
    """A manager's /export: his scope only, capped so the file can go through chat."""
    if fmt not in FORMATS:
        raise UserError("manager/export_bad_format", value=fmt[:20], choices=", ".join(FORMATS))
    data = table(uow, kind, since, until, unit_name, viewer_id, today, limit=CHAT_ROW_LIMIT)
    capped = Table(data.kind, data.columns, _take(data.rows, CHAT_ROW_LIMIT))
    if fmt == "csv":
        text = io.StringIO()
        rows = write_csv(capped, text)
        content = ("\ufeff" + text.getvalue()).encode("utf-8")  # the BOM lets Excel read Chinese CSV
    else:
        binary = io.BytesIO()
        rows = write_xlsx(capped, binary)
        content = binary.getvalue()
    truncated = next(data.rows, None) is not None
    stamp = today.isoformat()
    return ExportFile(f"fieldcrm-{kind}-{stamp}.{fmt}", content, rows, truncated)


def _take(rows: Iterator[tuple], limit: int) -> Iterator[tuple]:
    for index, row in enumerate(rows):
        yield row
        if index + 1 >= limit:
            return
