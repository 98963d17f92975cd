"""Times of day as people type them ('18:00', '8:30', a full-width colon too), checked one way for
every setting that holds one (board push time, quiet hours, working hours, a nudge's deadline), and
minutes after midnight, as the rows keep them."""
import re
from typing import Annotated

from pydantic import BeforeValidator

from bot.services.core.validation import problem

CLOCK = re.compile(r"^([01]?\d|2[0-3])[:：]([0-5]\d)$")


def clock_text(value: object) -> str:
    """'18:00' or '8:30' kept as HH:MM. YAML 1.1 reads an unquoted 18:00 as the number 1080
    (sexagesimal): the org file loader keeps such scalars as text."""
    if isinstance(value, str):
        match = CLOCK.match(value.strip())
        if not match:
            raise problem("bad_time")
        return value.strip().replace("：", ":").zfill(5)
    raise problem("bad_time")


def split_span(value: str) -> tuple[str, str] | None:
    """'22:00-08:00' (or with – or ~) as its two times of day; None when it is not such a span."""
    start, sep, end = value.replace("–", "-").replace("~", "-").partition("-")
    if sep and CLOCK.match(start.strip()) and CLOCK.match(end.strip()):
        return clock_text(start), clock_text(end)
    return None


def minutes(clock: str) -> int:
    hours, mins = clock.split(":")
    return int(hours) * 60 + int(mins)


def clock_of(total: int) -> str:
    return f"{total // 60:02d}:{total % 60:02d}"


Clock = Annotated[str, BeforeValidator(clock_text)]
