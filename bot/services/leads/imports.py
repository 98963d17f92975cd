"""CSV import of leads into a pool: UTF-8 (with or without BOM), else GB18030, Big5 or Windows-1252
as charset-normalizer recognises them; English or Chinese headers (the reading is
bot.services.core.spreadsheet, shared with the customer import), duplicate-checked against the
database and within the file.

All or nothing per file: an unreadable file or one without a company column imports nothing;
otherwise the good rows go in (one transaction, the caller commits) and the bad ones are listed.
"""
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import insert, select

from bot.errors import UserError
from bot.services.core import audit_log, org
from bot.services.core.spreadsheet import (
    COMMON_ALIASES,
    COMPANY_ALIASES,
    ImportProblem,
    RowIssue,
    Table,
    chunks,
    existing,
    first_of_each,
    place,
    read_table,
)
from bot.services.leads import contacts, lifecycle
from bot.services.leads.lifecycle import S
from db.models import Customer, Lead, LeadEvent, LeadStatus, Pool
from db.phone_keys import DEFAULT_REGION
from db.session import UnitOfWork

__all__ = ["HEADER_ALIASES", "ImportProblem", "ImportReport", "RowIssue", "import_leads", "resolve_pool"]

HEADER_ALIASES = {
    "company": COMPANY_ALIASES,
    **COMMON_ALIASES,
    "source": {"source", "leadsource", "channel", "来源", "线索来源", "渠道", "來源"},
    "note": {"note", "notes", "remark", "remarks", "comment", "备注", "说明", "備註", "說明"},
}
FIELD_LIMITS = {"contact": 100, "region": 100, "source": 100, "industry": 100, "level": 8, "note": 2000}


@dataclass
class ImportReport:
    file: str
    encoding: str
    pool: str
    created: int = 0
    duplicates: list[RowIssue] = field(default_factory=list)
    rejected: list[RowIssue] = field(default_factory=list)


def resolve_pool(uow: UnitOfWork, name: str | None) -> Pool:
    pools = list(uow.session.scalars(select(Pool).where(Pool.active.is_(True)).order_by(Pool.id)))
    if name is None and len(pools) == 1:
        return pools[0]
    wanted = unicodedata.normalize("NFKC", name or "").strip().casefold()
    for pool in pools:
        if pool.name.casefold() == wanted:
            return pool
    raise ImportProblem("unknown_pool", name=name or "", choices=", ".join(p.name for p in pools) or "-")


def _clean_row(table: Table, row: list[str], phone_region: str, today: date) -> dict:
    company = table.cell(row, "company")
    if not company:
        raise UserError("company_missing")
    company, name_key = lifecycle.clean_company(company)
    phone, phone_key = lifecycle.clean_phone(table.cell(row, "phone"), phone_region)
    values = {"company": company, "name_key": name_key, "phone": phone, "phone_key": phone_key}
    for name, limit in FIELD_LIMITS.items():
        value = table.cell(row, name)
        if value is not None and len(value) > limit:
            raise UserError("field_too_long")
        values[{"contact": "contact_name"}.get(name, name)] = value
    values["level"] = (values.get("level") or "C").upper()
    values.update(contacts.imported_care(table.cell(row, "birthday"), table.cell(row, "language"), today))
    values.update(place(table.cell(row, "latitude"), table.cell(row, "longitude")))
    return values


def import_leads(uow: UnitOfWork, data: bytes, file_name: str, pool_name: str | None, now: datetime,
                 progress: Callable[[int, int], None] | None = None,
                 default_phone_region: str = DEFAULT_REGION) -> ImportReport:
    table = read_table(data, file_name, HEADER_ALIASES, "company", "bad_columns")
    pool = resolve_pool(uow, pool_name)
    report = ImportReport(file_name, table.encoding, pool.name)
    phone_region = org.phone_region(uow, pool.unit_id, default_phone_region)
    good: list[tuple[int, dict]] = []
    for line, row in table.rows:
        try:
            good.append((line, _clean_row(table, row, phone_region, now.date())))
        except UserError as error:
            company = (table.cell(row, "company") or "")[:60]
            report.rejected.append(RowIssue(line, company, error.template.rsplit("/", 1)[-1]))
    names = {v["name_key"] for _, v in good}
    phones = {v["phone_key"] for _, v in good if v["phone_key"]}
    not_voided = (Lead.status != LeadStatus.VOIDED,)
    active = (Customer.status == "active",)
    known = {"name_key": {**existing(uow, Customer.name_key, names, "customer", Customer.id, active),
                          **existing(uow, Lead.name_key, names, "lead", Lead.id, not_voided)},
             "phone_key": {**existing(uow, Customer.phone_key, phones, "customer", Customer.id, active),
                           **existing(uow, Lead.phone_key, phones, "lead", Lead.id, not_voided)}}
    fresh, report.duplicates = first_of_each(good, known, "company")
    done = 0
    for chunk in chunks(fresh):
        batch = [dict(v, status=S.UNASSIGNED, pool_id=pool.id, created_at=now, updated_at=now,
                      location_set_at=now if v["latitude"] is not None else None)
                 for _, v in chunk]
        ids = uow.session.scalars(insert(Lead).returning(Lead.id, sort_by_parameter_order=True), batch).all()
        uow.session.execute(insert(LeadEvent), [
            dict(lead_id=lead_id, at=now, actor_id=None, kind="create", from_status=None, to_status=S.UNASSIGNED,
                 from_owner_id=None, to_owner_id=None, pool_id=pool.id, reason=f"import {file_name[-80:]}")
            for lead_id in ids
        ])
        audit_log.write(uow.session, audit_log.bulk_rows("lead", "create", [
            (lead_id, None, {"id": lead_id, **{k: audit_log.plain(v) for k, v in values.items()}}, None)
            for lead_id, values in zip(ids, batch, strict=True)
        ], now))
        report.created += len(ids)
        done += len(chunk)
        if progress:
            progress(done, len(fresh))
    return report
