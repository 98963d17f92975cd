"""Phone keys for the duplicate check (查重), shared by the bot and the migrations.

A phone's key is its E.164 form ("+8613800138000") when phonenumbers reads it, in the company's
region, as a possible number; otherwise the digit key the check used before E.164 (digits without
+86 / 0086), so nothing that matched before stops matching. Text that does not look like a phone
has no key. The region only matters for numbers written without a country code.
"""
import re
import unicodedata
from collections.abc import Callable

import phonenumbers
from sqlalchemy import Connection, bindparam, column, select, table, update

DEFAULT_REGION = "CN"
MIN_PHONE_DIGITS = 5
MAX_PHONE_DIGITS = 20
# Every table with a phone and its key.
PHONE_TABLES = ("leads", "customers", "contacts")


def is_region(code: str) -> bool:
    """Whether phonenumbers knows the region (an ISO 3166 alpha-2 code such as CN, US, GB)."""
    return code in phonenumbers.SUPPORTED_REGIONS


def _main_part(phone: str) -> str | None:
    """The number without its extension; None when the text holds more than a phone's symbols."""
    text = unicodedata.normalize("NFKC", phone).casefold().strip()
    text = text.replace("ext.", "#").replace("ext", "#").replace("x", "#").replace("转", "#")
    if re.search(r"[^\d\s+\-().#/]|[+].*[+]", text):
        return None
    return text.split("#")[0]


def digit_key(phone: str | None) -> str | None:
    """Digits only, without the +86/0086 country prefix; None when it does not look like a phone."""
    main = _main_part(phone) if phone else None
    if main is None:
        return None
    digits = re.sub(r"\D", "", main)
    international = main.lstrip().startswith("+") or digits.startswith("0086")
    if digits.startswith("0086"):
        digits = digits[4:]
    elif international and digits.startswith("86"):
        digits = digits[2:]
    elif len(digits) == 13 and digits.startswith("861"):
        digits = digits[2:]
        international = True
    if international and not (len(digits) == 11 and digits.startswith("1")) and not digits.startswith("0"):
        digits = "0" + digits  # a landline written +86 21 ... is 021 ... at home
    if not MIN_PHONE_DIGITS <= len(digits) <= MAX_PHONE_DIGITS:
        return None
    return digits


def phone_key(phone: str | None, region: str) -> str | None:
    """E.164 when the phone parses (in `region`) as a possible number, else its digit key."""
    fallback = digit_key(phone)
    if fallback is None or phone is None:
        return None
    main = _main_part(phone)
    try:
        number = phonenumbers.parse(main, region)
    except phonenumbers.NumberParseException:
        return fallback
    if not phonenumbers.is_possible_number(number):
        return fallback
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def rekey(connection: Connection, key_of: Callable[[str], str | None],
          changed: list[tuple[str, int, int | None, str | None, str | None]] | None = None) -> int:
    """Recompute every stored phone key with `key_of` (e.g. phone_key in a region); returns how many
    keys changed, and appends each change to `changed` as (table, row id, owner id, old key, new
    key) when given, for the caller's audit log."""
    count = 0
    for name in PHONE_TABLES:
        rows = table(name, column("id"), column("phone"), column("phone_key"), column("owner_id"))
        stored = connection.execute(select(rows.c.id, rows.c.phone, rows.c.phone_key, rows.c.owner_id)
                                    .where(rows.c.phone.is_not(None))).all()
        updates = [{"row_id": row_id, "key": key, "old": old, "owner": owner} for row_id, phone, old, owner in stored
                   if (key := key_of(phone)) != old]
        if updates:
            connection.execute(
                update(rows).where(rows.c.id == bindparam("row_id")).values(phone_key=bindparam("key")),
                [{"row_id": u["row_id"], "key": u["key"]} for u in updates],
            )
        if changed is not None:
            changed.extend((name, u["row_id"], u["owner"], u["old"], u["key"]) for u in updates)
        count += len(updates)
    return count
