"""Templates: one jinja2 file per message per locale; no user-facing sentence lives in Python.

A rendered template becomes a Reply by two plain-text conventions, so templates stay readable:
a first line starting with "# " is the title, and a line "label :: value" is a field.
"""
from functools import cache, partial
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from bot.config import LOCALES
from bot.messages import Button, Reply

TEMPLATE_DIR = Path(__file__).parent / "templates"
FIELD_SEPARATOR = " :: "
# How a platform spells a command ("/crm join" on Slack, "/join" elsewhere) comes from its adapter.
DEFAULT_PREFIX = "/"


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
    env.filters["money"] = lambda value: f"{value:,.2f}"
    return env


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
    title, fields, lines = None, [], []
    for line in render_text(name, locale, command_prefix=command_prefix, **context).splitlines():
        if title is None and not lines and not fields and line.startswith("# "):
            title = line[2:].strip()
        elif FIELD_SEPARATOR in line:
            label, value = line.split(FIELD_SEPARATOR, 1)
            fields.append((label.strip(), value.strip()))
        else:
            lines.append(line)
    return Reply(text="\n".join(lines).strip(), title=title, fields=fields, locale=locale)


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
