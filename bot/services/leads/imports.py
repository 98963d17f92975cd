"""CSV import of leads into a pool: UTF-8 (with or without BOM), else GB18030, Big5 or Windows-1252
as charset-normalizer recognises them; English or Chinese headers, duplicate-checked against the
database and within the file.

All or nothing per file: an unreadable file or one without a company column imports nothing;
otherwise the good rows go in (one transaction, the caller commits) and the bad ones are listed.
"""
import codecs
import csv
import io
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime

from charset_normalizer import from_bytes
from sqlalchemy import insert, select

from bot.errors import UserError
from bot.services.core import audit_log, geo, org
from bot.services.core.text import visible
from bot.services.leads import contacts, lifecycle
from bot.services.leads.lifecycle import S
from db.models import Customer, Lead, LeadEvent, LeadStatus, Pool
from db.phone_keys import DEFAULT_REGION
from db.session import UnitOfWork

# Simplified Chinese, then the traditional spelling a Big5 file (Taiwan, Hong Kong) has.
HEADER_ALIASES = {
    "company": {"company", "companyname", "name", "account", "customer", "公司", "公司名称", "客户名称", "企业名称",
                "单位名称", "名称", "客户", "公司名稱", "客戶名稱", "企業名稱", "單位名稱", "名稱", "客戶"},
    "contact": {"contact", "contactname", "contactperson", "person", "联系人", "联系人姓名", "姓名",
                "聯絡人", "聯繫人", "聯絡人姓名"},
    "phone": {"phone", "mobile", "tel", "telephone", "phonenumber", "电话", "手机", "手机号", "手机号码", "联系电话",
              "电话号码", "電話", "手機", "手機號碼", "聯絡電話", "電話號碼"},
    "region": {"region", "area", "city", "province", "地区", "区域", "省份", "城市", "所在地区", "地區", "區域"},
    "source": {"source", "leadsource", "channel", "来源", "线索来源", "渠道", "來源"},
    "industry": {"industry", "sector", "行业", "所属行业", "行業", "所屬行業"},
    "level": {"level", "grade", "customerlevel", "级别", "客户级别", "等级", "級別", "客戶級別", "等級"},
    "note": {"note", "notes", "remark", "remarks", "comment", "备注", "说明", "備註", "說明"},
    # The contact's birthday (MM-DD or YYYY-MM-DD) and greeting language (en, zh): see contacts.
    "birthday": {"birthday", "dateofbirth", "dob", "生日", "出生日期", "聯絡人生日", "联系人生日"},
    "language": {"language", "lang", "greetinglanguage", "语言", "語言", "问候语言"},
    # The lead's place: trusted at once (bot.services.visits.places), both or neither.
    "latitude": {"lat", "latitude", "纬度", "緯度"},
    "longitude": {"lon", "lng", "long", "longitude", "经度", "經度"},
}
FIELD_LIMITS = {"contact": 100, "region": 100, "source": 100, "industry": 100, "level": 8, "note": 2000}
CHUNK = 1000
# What Excel and WPS save a CSV in besides UTF-8, for our users (charset-normalizer name: ours).
# Detection picks among these only: on a few short names, single-byte code pages (cp1250, cp1257...)
# are otherwise indistinguishable and the wrong one would garble names silently.
LEGACY_ENCODINGS = {"gb18030": "GB18030", "big5": "Big5", "cp1252": "Windows-1252"}
# charset-normalizer's mess ratio ("chaos", 0 = clean text, 1 = noise); its own default cut-off is
# 0.2. A CSV of short names gives few signals, so we are stricter: above MAX_CHAOS, or with another
# encoding reading the bytes as different text within CLEAR_LEAD of the best, the file is refused.
# (Its other score, language coherence, stays 0 for Chinese text, so it cannot decide here.)
MAX_CHAOS = 0.1
CLEAR_LEAD = 0.05


class ImportProblem(Exception):
    """The file as a whole cannot be imported; `template` is under templates/<locale>/import/."""

    def __init__(self, template: str, **params: object):
        super().__init__(template)
        self.template = template
        self.params = params


@dataclass(frozen=True)
class RowIssue:
    line: int
    company: str
    reason: str  # a key of import/reasons, or "duplicate"
    detail: str = ""


@dataclass
class ImportReport:
    file: str
    encoding: str
    pool: str
    created: int = 0
    duplicates: list[RowIssue] = field(default_factory=list)
    rejected: list[RowIssue] = field(default_factory=list)


def decode(data: bytes) -> tuple[str, str]:
    """The text and the name of its encoding: UTF-8 first, else what charset-normalizer is sure of."""
    if b"\x00" in data:
        raise ImportProblem("unreadable", cause="binary")
    if data.startswith(codecs.BOM_UTF8):
        try:
            return data[len(codecs.BOM_UTF8):].decode("utf-8"), "UTF-8 BOM"
        except UnicodeDecodeError:
            raise ImportProblem("unreadable", cause="broken_utf8") from None
    try:
        return data.decode("utf-8"), "UTF-8"
    except UnicodeDecodeError:
        return _detect(data)


def _detect(data: bytes) -> tuple[str, str]:
    matches = from_bytes(data, cp_isolation=list(LEGACY_ENCODINGS), threshold=MAX_CHAOS, enable_fallback=False)
    best = matches.best()
    if best is None or best.encoding not in LEGACY_ENCODINGS or best.chaos > MAX_CHAOS:
        raise ImportProblem("unreadable", cause="unsure_encoding")
    text = str(best)
    if any(str(rival) != text and rival.chaos - best.chaos < CLEAR_LEAD for rival in matches if rival is not best):
        raise ImportProblem("unreadable", cause="unsure_encoding")
    return text, LEGACY_ENCODINGS[best.encoding]


def _header_key(cell: str) -> str:
    text = unicodedata.normalize("NFKC", cell).casefold()
    return "".join(ch for ch in text if unicodedata.category(ch)[0] in "LN")


def map_header(header: list[str]) -> dict[str, int]:
    mapping: dict[str, int] = {}
    for index, cell in enumerate(header):
        key = _header_key(cell)
        for name, aliases in HEADER_ALIASES.items():
            if key in aliases and name not in mapping:
                mapping[name] = index
    return mapping


def read_rows(text: str) -> list[list[str]]:
    first = text.split("\n", 1)[0]
    delimiter = "\t" if first.count("\t") > first.count(",") else ("；" if "；" in first else ",")
    delimiter = ";" if delimiter == "," and first.count(";") > first.count(",") else delimiter
    try:
        return list(csv.reader(io.StringIO(text), delimiter=delimiter))
    except csv.Error as exc:
        raise ImportProblem("unreadable", cause="csv", reason=str(exc)[:100]) from None


def resolve_pool(uow: UnitOfWork, name: str | None) -> Pool:
    pools = list(uow.session.scalars(select(Pool).where(Pool.active.is_(True)).order_by(Pool.id)))
    if name is None and len(pools) == 1:
        return pools[0]
    wanted = unicodedata.normalize("NFKC", name or "").strip().casefold()
    for pool in pools:
        if pool.name.casefold() == wanted:
            return pool
    raise ImportProblem("unknown_pool", name=name or "", choices=", ".join(p.name for p in pools) or "-")


def _existing(uow: UnitOfWork, column, values: set[str], label: str, id_column, extra=()) -> dict[str, str]:
    found: dict[str, str] = {}
    ordered = sorted(values)
    for start in range(0, len(ordered), CHUNK):
        chunk = ordered[start:start + CHUNK]
        for key, record_id in uow.session.execute(select(column, id_column).where(column.in_(chunk), *extra)):
            found.setdefault(key, f"{label} #{record_id}")
    return found


def _clean_row(row: list[str], mapping: dict[str, int], phone_region: str, today: date) -> dict:
    def cell(name: str) -> str | None:
        index = mapping.get(name)
        if index is None or index >= len(row):
            return None
        value = " ".join(visible(row[index]).split())  # as typed, less invisible spoofing characters
        return value or None

    company = cell("company")
    if not company:
        raise UserError("company_missing")
    company, name_key = lifecycle.clean_company(company)
    phone, phone_key = lifecycle.clean_phone(cell("phone"), phone_region)
    values = {"company": company, "name_key": name_key, "phone": phone, "phone_key": phone_key}
    for name, limit in FIELD_LIMITS.items():
        value = cell(name)
        if value is not None and len(value) > limit:
            raise UserError("field_too_long")
        values[{"contact": "contact_name"}.get(name, name)] = value
    values["level"] = (values.get("level") or "C").upper()
    values.update(_contact_care(cell("birthday"), cell("language"), today))
    values.update(_place(cell("latitude"), cell("longitude")))
    return values


def _contact_care(birthday: str | None, language: str | None, today: date) -> dict:
    """The contact's birthday, as written back, and language; a bad one rejects the row."""
    return {"contact_birthday": contacts.birthday_text(contacts.parse_birthday(birthday, today)) if birthday else None,
            "contact_language": contacts.parse_language(language) if language else None}


def _place(latitude: str | None, longitude: str | None) -> dict:
    """Imported coordinates (decimal degrees): a trusted place, or the row is rejected."""
    if latitude is None and longitude is None:
        return dict.fromkeys(("latitude", "longitude", "location_source", "location_trust"))
    try:
        lat, lon = float(latitude or "nan"), float(longitude or "nan")
    except ValueError:
        raise UserError("bad_coordinates") from None
    if not geo.is_valid(lat, lon):
        raise UserError("bad_coordinates")
    return {"latitude": lat, "longitude": lon, "location_source": "import", "location_trust": "trusted"}


def import_leads(uow: UnitOfWork, data: bytes, file_name: str, pool_name: str | None, now: datetime,
                 progress: Callable[[int, int], None] | None = None,
                 default_phone_region: str = DEFAULT_REGION) -> ImportReport:
    text, encoding = decode(data)
    rows = read_rows(text)
    while rows and not any(cell.strip() for cell in rows[0]):
        rows.pop(0)
    if not rows:
        raise ImportProblem("bad_columns", file=file_name, found="-")
    mapping = map_header(rows[0])
    if "company" not in mapping:
        raise ImportProblem("bad_columns", file=file_name, found=", ".join(c.strip()[:30] for c in rows[0]) or "-")
    pool = resolve_pool(uow, pool_name)
    report = ImportReport(file_name, encoding, pool.name)
    phone_region = org.phone_region(uow, pool.unit_id, default_phone_region)
    good: list[tuple[int, dict]] = []
    for line, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        try:
            good.append((line, _clean_row(row, mapping, phone_region, now.date())))
        except UserError as error:
            company = " ".join(row[mapping["company"]].split())[:60] if mapping["company"] < len(row) else ""
            report.rejected.append(RowIssue(line, company, error.template.rsplit("/", 1)[-1]))
    names = {v["name_key"] for _, v in good}
    phones = {v["phone_key"] for _, v in good if v["phone_key"]}
    not_voided = (Lead.status != LeadStatus.VOIDED,)
    known_names = {**_existing(uow, Customer.name_key, names, "customer", Customer.id, (Customer.status == "active",)),
                   **_existing(uow, Lead.name_key, names, "lead", Lead.id, not_voided)}
    known_phones = {**_existing(uow, Customer.phone_key, phones, "customer", Customer.id,
                                (Customer.status == "active",)),
                    **_existing(uow, Lead.phone_key, phones, "lead", Lead.id, not_voided)}
    fresh: list[dict] = []
    for line, values in good:
        match = known_names.get(values["name_key"]) or (values["phone_key"] and known_phones.get(values["phone_key"]))
        if match:
            report.duplicates.append(RowIssue(line, values["company"], "duplicate", match))
            continue
        known_names[values["name_key"]] = f"row {line}"
        if values["phone_key"]:
            known_phones[values["phone_key"]] = f"row {line}"
        fresh.append(values)
    for start in range(0, len(fresh), CHUNK):
        batch = [dict(v, status=S.UNASSIGNED, pool_id=pool.id, created_at=now, updated_at=now,
                      location_set_at=now if v["latitude"] is not None else None)
                 for v in fresh[start:start + CHUNK]]
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
        if progress:
            progress(min(start + CHUNK, len(fresh)), len(fresh))
    return report
