"""The company's reasons for losing a deal as the org file writes them (`lose_reasons:`): codes
with the name `/lose` offers, or codes alone. Without any, `/lose` offers the built-in list. A
reason the file no longer lists is closed (kept, for the deals that name it), not deleted."""
import re
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, Field
from sqlalchemy import select

from bot.services.core.settings_rows import as_mapping
from bot.services.core.text import visible
from bot.services.core.validation import problem
from db.models import LoseReason
from db.session import UnitOfWork

_CODE = re.compile(r"^\S{1,32}$")


def _as_mapping(value: object) -> object:
    """A list of codes names each reason by its code; nothing under the key is no reasons."""
    return as_mapping(value, lambda code: code)


def _code(value: str) -> str:
    value = value.strip().lower()
    if not _CODE.match(value):
        raise problem("bad_reason_code")
    return value


Code = Annotated[str, AfterValidator(_code)]
ReasonName = Annotated[str, AfterValidator(lambda v: visible(v).strip()), Field(min_length=1, max_length=100)]
LoseReasons = Annotated[dict[Code, ReasonName], BeforeValidator(_as_mapping)]


def reasons_of(uow: UnitOfWork) -> dict[str, str]:
    """The open reasons, in the order they were first added."""
    rows = uow.session.scalars(select(LoseReason).where(LoseReason.active.is_(True)).order_by(LoseReason.id))
    return {row.code: row.name for row in rows}


def as_file(reasons: dict[str, str]) -> list[str] | dict[str, str]:
    """Codes alone when every name is its code, else every code with its name."""
    if all(code == name for code, name in reasons.items()):
        return list(reasons)
    return dict(reasons)


def apply(uow: UnitOfWork, reasons: dict[str, str]) -> None:
    """The open reasons become exactly these; one no longer listed is closed, one listed again reopened."""
    rows = {row.code: row for row in uow.session.scalars(select(LoseReason))}
    for code, row in rows.items():
        if code not in reasons and row.active:
            row.active = False
    for code, name in reasons.items():
        row = rows.get(code)
        if row is None:
            uow.session.add(LoseReason(code=code, name=name, active=True))
            continue
        if row.name != name:
            row.name = name
        if not row.active:
            row.active = True
