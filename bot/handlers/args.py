"""Argument parsing shared by every command: quoted words, typed parameters, --flags.

Parsing failures raise UsageError, which the router renders as the command's usage line.
"""
import re
import shlex
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation

from bot.errors import UsageError

MAX_ARGS_CHARS = 1000
MAX_WORD_CHARS = 200
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


@dataclass(frozen=True)
class Param:
    name: str
    kind: str = "word"  # word | text (rest of line) | int | decimal | date | choice
    optional: bool = False
    choices: tuple[str, ...] = ()


@dataclass(frozen=True)
class Flag:
    name: str  # written --name on the line
    kind: str = "bool"  # bool | word | text | int | decimal | date | choice
    choices: tuple[str, ...] = ()


def clean(text: str) -> str:
    """Drop control characters (but keep newlines) and surrounding space."""
    return _CONTROL.sub("", text).strip()


def split_words(command: str, text: str) -> list[str]:
    # Chinese keyboards type full-width quotes; accept them as quotes.
    text = text.replace("“", '"').replace("”", '"').replace("‘", "'").replace("’", "'")
    try:
        return shlex.split(text)
    except ValueError:
        raise UsageError(command, "unbalanced_quotes") from None


def convert(command: str, name: str, kind: str, raw: str, choices: tuple[str, ...]) -> object:
    if kind in ("word", "text"):
        if kind == "word" and len(raw) > MAX_WORD_CHARS:
            raise UsageError(command, "too_long", limit=MAX_WORD_CHARS)
        return raw
    if kind == "int":
        if not re.fullmatch(r"[+-]?\d{1,12}", raw):
            raise UsageError(command, "bad_number", value=raw[:40])
        return int(raw)
    if kind == "decimal":
        try:
            value = Decimal(raw.replace(",", ""))
        except InvalidOperation:
            raise UsageError(command, "bad_number", value=raw[:40]) from None
        if not value.is_finite() or abs(value) >= Decimal("1e15"):
            raise UsageError(command, "bad_number", value=raw[:40])
        return value
    if kind == "date":
        try:
            return date.fromisoformat(raw)
        except ValueError:
            raise UsageError(command, "bad_date", value=raw[:40]) from None
    if kind == "choice":
        value = raw.lower()
        if value not in choices:
            raise UsageError(command, "bad_choice", value=raw[:40], choices=", ".join(choices))
        return value
    raise RuntimeError(f"unknown parameter kind {kind}")


def parse(command: str, text: str, params: tuple[Param, ...], flags: tuple[Flag, ...]) -> dict[str, object]:
    text = clean(text)
    if len(text) > MAX_ARGS_CHARS:
        raise UsageError(command, "too_long", limit=MAX_ARGS_CHARS)
    words = split_words(command, text)
    values: dict[str, object] = {f.name.replace("-", "_"): None for f in flags}
    for flag in flags:
        if flag.kind == "bool":
            values[flag.name.replace("-", "_")] = False
    positional: list[str] = []
    flag_by_name = {f"--{f.name}": f for f in flags}
    i = 0
    while i < len(words):
        word = words[i]
        if word.startswith("--") and len(word) > 2:
            flag = flag_by_name.get(word.lower())
            if flag is None:
                raise UsageError(command, "unknown_flag", flag=word[:40])
            key = flag.name.replace("-", "_")
            if flag.kind == "bool":
                values[key] = True
                i += 1
                continue
            if flag.kind == "text":
                # A text flag takes the words up to the next flag.
                j = i + 1
                while j < len(words) and not words[j].startswith("--"):
                    j += 1
                if j == i + 1:
                    raise UsageError(command, "flag_needs_value", flag=word)
                values[key] = " ".join(words[i + 1 : j])
                i = j
                continue
            if i + 1 >= len(words):
                raise UsageError(command, "flag_needs_value", flag=word)
            values[key] = convert(command, flag.name, flag.kind, words[i + 1], flag.choices)
            i += 2
            continue
        positional.append(word)
        i += 1
    for index, param in enumerate(params):
        if param.kind == "text":
            rest = " ".join(positional[index:])
            if not rest and not param.optional:
                raise UsageError(command)
            values[param.name] = rest or None
            positional = positional[: index]
            break
        if index >= len(positional):
            if not param.optional:
                raise UsageError(command)
            values[param.name] = None
            continue
        values[param.name] = convert(command, param.name, param.kind, positional[index], param.choices)
    else:
        if len(positional) > len(params):
            raise UsageError(command, "too_many_args")
    return values
