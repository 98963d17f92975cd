"""Reading a spreadsheet an admin saved as CSV, for every import (leads, customers): UTF-8 (with or
without BOM), else GB18030, Big5 or Windows-1252 as charset-normalizer recognises them; a header row
in English or Chinese mapped to our column names by aliases; cells cleaned of invisible characters;
imported coordinates checked. Nothing here writes.

A file that cannot be read raises ImportProblem (nothing is imported); a bad cell raises RowRefused
(that row is not imported, the report says which column and value)."""
import codecs
import csv
import io
import unicodedata
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass
from typing import TypeVar

from charset_normalizer import from_bytes
from sqlalchemy import select

from bot.errors import UserError
from bot.services.core import geo
from bot.services.core.text import visible
from db.session import UnitOfWork

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
# The columns every import reads the same way (simplified Chinese, then the traditional spelling a
# Big5 file from Taiwan or Hong Kong has).
COMMON_ALIASES = {
    "contact": {"contact", "contactname", "contactperson", "person", "联系人", "联系人姓名", "姓名",
                "聯絡人", "聯繫人", "聯絡人姓名"},
    "phone": {"phone", "mobile", "tel", "telephone", "phonenumber", "电话", "手机", "手机号", "手机号码", "联系电话",
              "电话号码", "電話", "手機", "手機號碼", "聯絡電話", "電話號碼"},
    "region": {"region", "area", "city", "province", "地区", "区域", "省份", "城市", "所在地区", "地區", "區域"},
    "industry": {"industry", "sector", "行业", "所属行业", "行業", "所屬行業"},
    "level": {"level", "grade", "customerlevel", "级别", "客户级别", "等级", "級別", "客戶級別", "等級"},
    # The contact's birthday (MM-DD or YYYY-MM-DD) and greeting language (en, zh): see leads.contacts.
    "birthday": {"birthday", "dateofbirth", "dob", "生日", "出生日期", "聯絡人生日", "联系人生日"},
    "language": {"language", "lang", "greetinglanguage", "语言", "語言", "问候语言"},
    # The place: trusted at once (bot.services.visits.places), both or neither.
    "latitude": {"lat", "latitude", "纬度", "緯度"},
    "longitude": {"lon", "lng", "long", "longitude", "经度", "經度"},
}
COMPANY_ALIASES = {"company", "companyname", "name", "account", "customer", "customername", "公司", "公司名称",
                   "客户名称", "企业名称", "单位名称", "名称", "客户", "公司名稱", "客戶名稱", "企業名稱", "單位名稱",
                   "名稱", "客戶"}

T = TypeVar("T")


class ImportProblem(Exception):
    """The file as a whole cannot be imported; `template` is under templates/<locale>/import/."""

    def __init__(self, template: str, **params: object):
        super().__init__(template)
        self.template = template
        self.params = params


class RowRefused(Exception):
    """One row cannot be imported: `reason` is a key of import/reasons; the column as the file names it."""

    def __init__(self, reason: str, column: str = "", value: str = ""):
        super().__init__(reason)
        self.reason, self.column, self.value = reason, column, value


@dataclass(frozen=True)
class RowIssue:
    line: int
    company: str
    reason: str  # a key of import/reasons, or "duplicate"
    detail: str = ""
    column: str = ""  # the column's header as written in the file, when one cell is the reason
    value: str = ""


@dataclass(frozen=True)
class Table:
    """A read file: its encoding, header, which column holds what, and its non-blank rows by line."""

    encoding: str
    header: list[str]
    mapping: dict[str, int]
    rows: list[tuple[int, list[str]]]

    def cell(self, row: list[str], name: str) -> str | None:
        """A cell as typed, less invisible spoofing characters and repeated spaces; None when empty."""
        index = self.mapping.get(name)
        if index is None or index >= len(row):
            return None
        return " ".join(visible(row[index]).split()) or None

    def column(self, name: str) -> str:
        """The header of that column as the file writes it."""
        index = self.mapping.get(name)
        return " ".join(self.header[index].split())[:40] if index is not None else name


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


def map_header(header: list[str], aliases: dict[str, set[str]]) -> dict[str, int]:
    """Our column name -> its index; the first column an alias names wins."""
    mapping: dict[str, int] = {}
    for index, cell in enumerate(header):
        key = _header_key(cell)
        for name, names in aliases.items():
            if key in names and name not in mapping:
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


def read_table(data: bytes, file_name: str, aliases: dict[str, set[str]], required: str,
               missing_template: str) -> Table:
    """The file decoded and split into rows, its header mapped; without the `required` column (or
    without any row) it is refused with `missing_template`."""
    text, encoding = decode(data)
    rows = read_rows(text)
    while rows and not any(cell.strip() for cell in rows[0]):
        rows.pop(0)
    if not rows:
        raise ImportProblem(missing_template, file=file_name, found="-")
    mapping = map_header(rows[0], aliases)
    if required not in mapping:
        raise ImportProblem(missing_template, file=file_name, found=", ".join(c.strip()[:30] for c in rows[0]) or "-")
    body = [(line, row) for line, row in enumerate(rows[1:], start=2) if any(cell.strip() for cell in row)]
    return Table(encoding, rows[0], mapping, body)


def refused_as(column: str, value: str | None, parse: Callable[[], T]) -> T:
    """`parse()`, its UserError turned into the row's refusal naming the column and the value."""
    try:
        return parse()
    except UserError as error:
        raise RowRefused(error.template.rsplit("/", 1)[-1], column, (value or "")[:60]) from None


def place(latitude: str | None, longitude: str | None) -> dict:
    """Imported coordinates (decimal degrees): a trusted place, or the row is refused (both or neither)."""
    if latitude is None and longitude is None:
        return dict.fromkeys(("latitude", "longitude", "location_source", "location_trust"))
    try:
        lat, lon = float(latitude or "nan"), float(longitude or "nan")
    except ValueError:
        raise UserError("bad_coordinates") from None
    if not geo.is_valid(lat, lon):
        raise UserError("bad_coordinates")
    return {"latitude": lat, "longitude": lon, "location_source": "import", "location_trust": "trusted"}


def existing(uow: UnitOfWork, column, values: Collection[str], label: str, id_column, extra=()) -> dict[str, str]:
    """Which of `values` the column already holds: value -> "label #id" (the first record), in chunks."""
    found: dict[str, str] = {}
    for chunk in chunks(sorted(values)):
        for key, record_id in uow.session.execute(select(column, id_column).where(column.in_(chunk), *extra)):
            found.setdefault(key, f"{label} #{record_id}")
    return found


def chunks(items: list[T], size: int = CHUNK) -> Iterator[list[T]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def first_of_each(rows: list[tuple[int, dict]], known: dict[str, dict[str, str]],
                  name_field: str) -> tuple[list[tuple[int, dict]], list[RowIssue]]:
    """The rows that match nothing known (key field -> {key: "customer #3"...}) nor an earlier row
    of the file (the first wins), and a duplicate issue for each of the others."""
    fresh: list[tuple[int, dict]] = []
    duplicates: list[RowIssue] = []
    for line, values in rows:
        keys = [(field_, values[field_]) for field_ in known if values.get(field_)]
        match = next((known[field_][key] for field_, key in keys if key in known[field_]), None)
        if match:
            duplicates.append(RowIssue(line, values[name_field], "duplicate", match))
            continue
        for field_, key in keys:
            known[field_][key] = f"row {line}"
        fresh.append((line, values))
    return fresh, duplicates
