"""Argument parsing shared by every command: quoted words, free-text tails, typed parameters, --flags;
and the same parameters filled from a form (a Slack modal, the Telegram Mini App) field by field.

Parsing failures raise UsageError, which the router renders as the command's usage line; a form's
failure names its field (`UsageError.field`), so a form can show it beside that field.
"""
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation

from bot.errors import UsageError
from bot.services.core.text import visible

MAX_ARGS_CHARS = 1000
MAX_WORD_CHARS = 200
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_TAILS = ("text", "words")  # parameters taking the rest of the line
_FLAG_WORD = re.compile(r"(?<!\S)--([A-Za-z][A-Za-z0-9-]*)(?!\S)")


@dataclass(frozen=True)
class Param:
    name: str
    # word | text (rest of line) | words (rest of line as words, quotes honoured) | int | decimal | date | choice
    kind: str = "word"
    optional: bool = False
    choices: tuple[str, ...] = ()


@dataclass(frozen=True)
class Flag:
    name: str  # written --name on the line
    kind: str = "bool"  # bool | word | text | int | decimal | date | choice
    choices: tuple[str, ...] = ()


def clean(text: str) -> str:
    """Drop control characters (but keep newlines), invisible spoofing characters and surrounding space."""
    return visible(_CONTROL.sub("", text)).strip()


# Quotes group words only where a word is expected (a multi-word company name, a quoted --region value that is
# not a text flag). A quote opens only at the start of a word; Chinese keyboards type full-width quotes.
_CLOSERS = {'"': '"”', "'": "'’", "“": '”"', "‘": "’'"}


@dataclass(frozen=True)
class _Token:
    word: str
    start: int  # where the word begins in the line
    end: int  # just past it (past its closing quote)


def _next_token(command: str, text: str, pos: int) -> _Token | None:
    """The word starting at or after pos, quotes honoured, or None at the end of the line."""
    while pos < len(text) and text[pos].isspace():
        pos += 1
    if pos >= len(text):
        return None
    start = pos
    closers = _CLOSERS.get(text[pos])
    if closers is not None:
        close = min((i for i in (text.find(c, pos + 1) for c in closers) if i != -1), default=-1)
        if close == -1:
            raise UsageError(command, "unbalanced_quotes")
        end = close + 1
        # A closing quote glued to more text ('"Acme"Steel') continues the word up to the next space.
        while end < len(text) and not text[end].isspace():
            end += 1
        return _Token(text[pos + 1 : close] + text[close + 1 : end], start, end)
    while pos < len(text) and not text[pos].isspace():
        pos += 1
    return _Token(text[start:pos], start, pos)


def _tail(text: str, start: int, flag_names: set[str], unquote: bool = True) -> tuple[str, int]:
    """The raw text from start up to the next of this command's own --flags (or the end of the line), as typed;
    one pair of quotes around all of it is dropped (unless not `unquote`). Returns the text and where it stopped."""
    stop = len(text)
    for match in _FLAG_WORD.finditer(text, start):
        if match.group(1).lower() in flag_names:
            stop = match.start()
            break
    raw = text[start:stop].strip()
    if unquote and len(raw) >= 2 and raw[-1] in _CLOSERS.get(raw[0], "") and not any(c in raw[1:-1] for c in _CLOSERS[raw[0]]):
        raw = raw[1:-1].strip()
    return raw, stop


def convert(command: str, name: str, kind: str, raw: str, choices: tuple[str, ...]) -> object:
    try:
        return _convert(command, kind, raw, choices)
    except UsageError as error:
        error.field = name
        raise


def _convert(command: str, kind: str, raw: str, choices: tuple[str, ...]) -> object:
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
    """Words are split (quotes honoured) until a text parameter or text flag; that takes the rest of the line as
    typed, up to the next of the command's own --flags."""
    text = clean(text)
    if len(text) > MAX_ARGS_CHARS:
        raise UsageError(command, "too_long", limit=MAX_ARGS_CHARS)
    values: dict[str, object] = {f.name.replace("-", "_"): None for f in flags}
    for flag in flags:
        if flag.kind == "bool":
            values[flag.name.replace("-", "_")] = False
    flag_by_name = {f"--{f.name}": f for f in flags}
    flag_names = {f.name for f in flags}
    tail_at = next((i for i, p in enumerate(params) if p.kind in _TAILS), None)
    positional: list[str] = []
    tail: list[str] = []
    pos = 0
    while True:
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if pos >= len(text):
            break
        raw_word = text[pos:].split(None, 1)[0]
        in_tail = tail_at is not None and len(positional) == tail_at
        if raw_word.startswith("--") and len(raw_word) > 2 and (not in_tail or raw_word.lower() in flag_by_name):
            flag = flag_by_name.get(raw_word.lower())
            if flag is None:
                raise UsageError(command, "unknown_flag", flag=raw_word[:40])
            key = flag.name.replace("-", "_")
            pos += len(raw_word)
            if flag.kind == "bool":
                values[key] = True
                continue
            if flag.kind == "text":
                value, pos = _tail(text, pos, flag_names)
                if not value:
                    raise UsageError(command, "flag_needs_value", flag=raw_word)
                values[key] = value
                continue
            token = _next_token(command, text, pos)
            if token is None:
                raise UsageError(command, "flag_needs_value", flag=raw_word)
            values[key] = convert(command, flag.name, flag.kind, token.word, flag.choices)
            pos = token.end
            continue
        if in_tail:
            value, pos = _tail(text, pos, flag_names, unquote=params[tail_at].kind == "text")
            tail.append(value)
            continue
        token = _next_token(command, text, pos)
        assert token is not None
        positional.append(token.word)
        pos = token.end
    for index, param in enumerate(params):
        if param.kind in _TAILS:
            rest = " ".join(part for part in tail if part)
            if not rest and not param.optional:
                raise UsageError(command)
            values[param.name] = words(command, rest) if param.kind == "words" else rest or None
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


_ASSIGNED_QUOTE = re.compile(r"([^\s=\"'“‘]+=)(?=[\"'“‘])")


def words(command: str, text: str) -> list[str]:
    """The words of a line, quotes honoured ('"East pool"'), also after a key= ('name="East sales"')."""
    text = clean(text)
    found: list[str] = []
    pos = 0
    while True:
        key = _ASSIGNED_QUOTE.match(text, pos) if pos < len(text) and not text[pos].isspace() else None
        token = _next_token(command, text, pos + len(key.group(1)) if key else pos)
        if token is None:
            return found
        found.append((key.group(1) if key else "") + token.word)
        pos = token.end
        while pos < len(text) and text[pos].isspace():
            pos += 1


def is_assignment(word: str) -> bool:
    """key=value, as settings are typed."""
    key, sep, _value = word.partition("=")
    return bool(sep and key)


def assignments(command: str, typed: list[str]) -> list[tuple[str, str]]:
    """[(key, value)] of words typed key=value; any other word is a usage error."""
    pairs = []
    for word in typed:
        if not is_assignment(word):
            raise UsageError(command, "not_an_assignment", word=word[:40])
        key, _, value = word.partition("=")
        pairs.append((key.strip(), value.strip()))
    if not pairs:
        raise UsageError(command)
    return pairs


MAX_FORM_FIELD_CHARS = 3000  # Slack's plain_text_input max_length; the Mini App's fields are held to it too


def parse_form(command: str, form: Mapping[str, str], params: tuple[Param, ...], flags: tuple[Flag, ...]
               ) -> dict[str, object]:
    """The command's parameters and flags filled from a form's fields, named as the parameters are
    (a flag `--no-location` by `no_location`); an empty field is an omitted one. No quoting or
    splitting: a field's text is the value as typed, apostrophes and `--` included. A field the
    command does not take, a missing required one or a value of the wrong kind raises UsageError
    naming the field."""
    known = {p.name for p in params} | {f.name.replace("-", "_") for f in flags}
    stray = sorted(set(form) - known)
    if stray:
        raise UsageError(command, "unknown_field", field=stray[0][:40])
    values: dict[str, object] = {}
    for param in params:
        raw = _field(command, form, param.name)
        if not raw:
            if not param.optional:
                raise UsageError(command, "field_required", field=param.name)
            values[param.name] = None
        elif param.kind == "words":
            values[param.name] = words(command, raw)
        else:
            values[param.name] = convert(command, param.name, param.kind, raw, param.choices)
    for flag in flags:
        key = flag.name.replace("-", "_")
        raw = _field(command, form, key)
        if flag.kind == "bool":
            values[key] = raw.lower() in ("1", "true", "yes", "on")
        else:
            values[key] = convert(command, key, flag.kind, raw, flag.choices) if raw else None
    return values


def _field(command: str, form: Mapping[str, str], name: str) -> str:
    raw = form.get(name)
    if raw is None:
        return ""
    if not isinstance(raw, str):
        raise UsageError(command, "bad_field", field=name)
    text = clean(raw)
    if len(text) > MAX_FORM_FIELD_CHARS:
        raise UsageError(command, "too_long", limit=MAX_FORM_FIELD_CHARS, field=name)
    return text
