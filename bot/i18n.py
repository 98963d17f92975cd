"""Templates: one jinja2 file per message per locale; no user-facing sentence lives in Python.

A rendered template becomes a Reply by two plain-text conventions, so templates stay readable:
a first line starting with "# " is the title, and a line "label :: value" is a field.

Numbers, money, distances, dates and plural words go through babel's filters (money, number, percent,
distance, date, datetime, time, when, plural), in the language of the template: one under templates/zh/ speaks Chinese.
"""
from collections.abc import Callable
from datetime import date, datetime, time
from decimal import Decimal
from functools import cache, partial
from pathlib import Path

from babel import Locale
from babel.dates import format_date, format_datetime, format_time
from babel.numbers import format_currency, format_decimal, format_percent
from babel.units import format_unit
from jinja2 import Environment, FileSystemLoader, StrictUndefined, pass_context
from jinja2.runtime import Context

from bot.config import LOCALES
from bot.messages import Button, Reply

TEMPLATE_DIR = Path(__file__).parent / "templates"
FIELD_SEPARATOR = " :: "
# How a platform spells a command ("/crm join" on Slack, "/join" elsewhere) comes from its adapter.
DEFAULT_PREFIX = "/"
BABEL_LOCALES = {"en": "en", "zh": "zh_Hans_CN"}
# The house style, the same in both languages: amount then ISO currency code ("50,000.00 CNY";
# babel still drops the decimals of a currency without any, like JPY), ISO dates, 24-hour times.
MONEY = "#,##0.00 ¤¤"
AMOUNT = "#,##0.00"
DATE = "yyyy-MM-dd"
DATETIME = "yyyy-MM-dd HH:mm"
TIME = "HH:mm"
# A moment close at hand, as people say it: a reminder's "Tue 8 Dec 15:00", "12月8日 周二 15:00".
WHEN = {"en": "EEE d MMM HH:mm", "zh": "M月d日 EEE HH:mm"}


@cache
def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATE_DIR),
        autoescape=False,  # adapters escape for their own format (mrkdwn, HTML)
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )
    env.filters.update(money=_money, number=_number, percent=_percent, date=_date, datetime=_datetime, time=_time,
                       plural=_plural, when=_when, distance=_distance)
    return env


def babel_locale(locale: str) -> str:
    return BABEL_LOCALES.get(locale, locale)


def _decimal(value: object) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(str(value))


def format_money(value: object, locale: str, currency: str | None = None) -> str:
    """An amount with its currency code, or alone: "50,000.00 CNY", "50,000.00"."""
    if currency is None:
        return format_decimal(_decimal(value), format=AMOUNT, locale=babel_locale(locale))
    return format_currency(_decimal(value), currency, format=MONEY, locale=babel_locale(locale))


def _grouped(digits: int) -> str:
    """The babel pattern of a grouped number with exactly `digits` decimals."""
    return "#,##0" + ("." + "0" * digits if digits else "")


def format_number(value: object, locale: str, digits: int = 0) -> str:
    """A count or measure with grouping and `digits` decimals: "12,346", "12.5"."""
    return format_decimal(_decimal(value), format=_grouped(digits), locale=babel_locale(locale))


def format_ratio(value: object, locale: str, digits: int = 0, per: int = 1) -> str:
    """A share as a percentage: 0.4 (or 40 per 100) -> "40%"; `digits` decimals."""
    return format_percent(_decimal(value) / per, format=_grouped(digits) + "%", locale=babel_locale(locale))


@cache
def _plural_rule(locale: str) -> Callable[[float], str]:
    return Locale.parse(babel_locale(locale)).plural_form


def plural(count: int, locale: str, **forms: str) -> str:
    """The form for `count` by the language's plural rules: forms are named by CLDR category (one,
    few, many, other...); Chinese has only `other`."""
    return forms.get(_plural_rule(locale)(count), forms["other"])


def _template_locale(context: Context) -> str:
    """Templates live under templates/<locale>/: the path says which language they speak."""
    head = (context.name or "").split("/", 1)[0]
    return head if head in LOCALES else LOCALES[0]


@pass_context
def _money(context: Context, value: object, currency: str | None = None) -> str:
    return format_money(value, _template_locale(context), currency)


@pass_context
def _number(context: Context, value: object, digits: int = 0) -> str:
    return format_number(value, _template_locale(context), digits)


def format_distance(metres: float, locale: str) -> str:
    """Metres under a kilometre ("350 m", "350米"), else kilometres with one decimal ("1.2 km", "1.2公里")."""
    if round(metres) < 1000:
        return format_unit(round(metres), "length-meter", length="short", locale=babel_locale(locale))
    return format_unit(metres / 1000, "length-kilometer", length="short", format="#,##0.#",
                       locale=babel_locale(locale))


@pass_context
def _distance(context: Context, metres: float) -> str:
    return format_distance(metres, _template_locale(context))


@pass_context
def _percent(context: Context, value: object, digits: int = 0, per: int = 1) -> str:
    return format_ratio(value, _template_locale(context), digits, per)


@pass_context
def _date(context: Context, value: date, pattern: str = DATE) -> str:
    return format_date(value, pattern, locale=babel_locale(_template_locale(context)))


@pass_context
def _datetime(context: Context, value: datetime, pattern: str = DATETIME) -> str:
    return format_datetime(value, pattern, locale=babel_locale(_template_locale(context)))


def format_when(value: datetime, locale: str) -> str:
    """A date and time close at hand, with its weekday, in the value's own zone."""
    return format_datetime(value, WHEN.get(locale, WHEN["en"]), locale=babel_locale(locale))


@pass_context
def _when(context: Context, value: datetime) -> str:
    return format_when(value, _template_locale(context))


@pass_context
def _time(context: Context, value: time | datetime | int | str, pattern: str = TIME) -> str:
    """A time of day, also given as minutes after midnight (how working hours are stored) or as an
    ISO 8601 moment with its offset (how a visit's reasons keep one, on the rep's clock)."""
    if isinstance(value, int):
        value = time(value // 60, value % 60)
    elif isinstance(value, str):
        value = datetime.fromisoformat(value)
    return format_time(value, pattern, locale=babel_locale(_template_locale(context)))


@pass_context
def _plural(context: Context, count: int, **forms: str) -> str:
    return plural(count, _template_locale(context), **forms)


USAGE_ALTERNATIVES = "  ·  "


def command_text(prefix: str, line: str) -> str:
    """A command as the platform spells it ("/crm visit" on Slack); a usage line may hold several
    forms joined by "  ·  ", and each gets the prefix. Templates call it as cmd("visit end")."""
    return USAGE_ALTERNATIVES.join(prefix + part for part in line.split(USAGE_ALTERNATIVES))


def pick_locale(*candidates: str | None) -> str:
    for candidate in candidates:
        if not candidate:
            continue
        base = candidate.lower().replace("_", "-").split("-")[0]
        if base in LOCALES:
            return base
    return LOCALES[0]


def render_text(name: str, locale: str, /, *, command_prefix: str = DEFAULT_PREFIX, **context: object) -> str:
    template = environment().get_template(f"{locale}/{name}.j2")
    return template.render(cmd=partial(command_text, command_prefix), **context).strip()


def render(name: str, locale: str, /, *, command_prefix: str = DEFAULT_PREFIX, **context: object) -> Reply:
    """The reply a template writes; one of templates/<locale>/errors/ is a refusal (Reply.refused)."""
    title, fields, lines = None, [], []
    for line in render_text(name, locale, command_prefix=command_prefix, **context).splitlines():
        if title is None and not lines and not fields and line.startswith("# "):
            title = line[2:].strip()
        elif FIELD_SEPARATOR in line:
            label, value = line.split(FIELD_SEPARATOR, 1)
            fields.append((label.strip(), value.strip()))
        else:
            lines.append(line)
    return Reply(text="\n".join(lines).strip(), title=title, fields=fields, locale=locale,
                 refused=name.startswith("errors/"))


def _merged(locale: str, folder: str, variable: str) -> dict:
    """Merge the dict `variable` set by every templates/<locale>/<folder>/*.j2 (one file per module)."""
    merged: dict = {}
    for path in sorted((TEMPLATE_DIR / locale / folder).glob("*.j2")):
        module = environment().get_template(f"{locale}/{folder}/{path.name}").module
        merged.update(getattr(module, variable))
    return merged


@cache
def _labels(locale: str) -> dict[str, str]:
    return _merged(locale, "labels", "labels")


def label(key: str, locale: str, **params: object) -> str:
    """A short UI word (button, role name) from templates/<locale>/labels/."""
    return _labels(locale)[key].format(**params)


def button(key: str, locale: str, payload: str, style: str = "default", **params: object) -> Button:
    return Button(label=label(key, locale, **params), payload=payload, style=style)


@cache
def _commands(locale: str) -> dict[str, dict[str, str]]:
    return _merged(locale, "commands", "commands")


def command_info(locale: str, name: str) -> dict[str, str]:
    """Summary and usage line (without the slash) of a command, in that locale."""
    return _commands(locale).get(name, {"summary": "", "usage": name})
