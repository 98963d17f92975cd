"""The Telegram Mini App's pages: the visit report, a new lead and the position, opened from the
bot's menu button (bot.adapters.telegram.menu).

GET /miniapp serves the app shell with the words of both languages; the page shows the user's (his
CRM language once the server has told it, Telegram's language_code until then). It loads nothing
from outside but Telegram's own script, under a nonce-based CSP that lets Telegram's web clients
frame it. POST /miniapp/api/<action> takes JSON: Telegram's `init_data`, the submission's `id` (made
by the page, kept across retries), and the form's `fields` or the `position`. The initData is
checked first (bot.adapters.telegram.initdata: Telegram's signature, at most an hour old): forged or
stale, nothing is written and the page says so. Then the form runs as its command through the
router (identity, permission, rate limit, dedupe, audit) and the answer goes both to the page (a
refusal beside the field at fault) and into the user's private chat, which keeps the record.
Anything malformed is a 400 with a message, in the user's language when he is known.
"""
import asyncio
import json
import logging
import math
import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aiohttp import web
from sqlalchemy.exc import SQLAlchemyError

from bot.adapters.telegram.initdata import InitDataError, WebAppUser
from bot.adapters.telegram.mini_app import SOURCE, MiniAppGate
from bot.config import LOCALES, Settings
from bot.i18n import label, pick_locale, render_text
from bot.messages import Incoming, Location, Reply
from bot.router import event_key
from bot.services.core import answers
from bot.services.visits.visits import OUTCOMES
from bot.web.checkin import taken_at_by_age
from bot.web.pages import html_templates, secure
from db.base import utcnow

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 16 * 1024
MAX_FIELD_CHARS = 4000  # the router's own limit on a field is lower: it says which field
SUBMISSION_ID = re.compile(r"[A-Za-z0-9_-]{8,64}")
TELEGRAM_SCRIPT = "https://telegram.org/js/telegram-web-app.js"
TELEGRAM_WEB_CLIENTS = "https://web.telegram.org"


@dataclass(frozen=True)
class Form:
    command: str
    fields: tuple[str, ...]
    fixed: Mapping[str, str]


FORMS = {
    "visit_report": Form("visit", ("note", "outcome", "next_step", "remind"), {"target": "end"}),
    "new_lead": Form("newlead", ("company", "contact", "phone", "region", "industry"), {}),
}
ACTIONS = frozenset({"session", "location", *FORMS})


class BadRequest(Exception):
    """The body is not what the page sends: a 400 (`problem` is for the log)."""

    def __init__(self, problem: str, status: int = 400):
        super().__init__(problem)
        self.problem, self.status = problem, status


def routes(gate: MiniAppGate, settings: Settings, clock: Callable[[], datetime] = utcnow) -> list[web.RouteDef]:
    async def page(request: web.Request) -> web.Response:
        return shell(settings)

    async def api(request: web.Request) -> web.Response:
        return await handle_api(gate, settings, request, clock)

    return [web.get("/miniapp", page), web.post("/miniapp/api/{action}", api)]


def _texts(locale: str) -> dict[str, Any]:
    words = dict(html_templates().get_template(f"{locale}/miniapp/texts.j2").module.t)  # type: ignore[attr-defined]
    words["outcomes"] = [[outcome, label(f"outcome_{outcome}", locale)] for outcome in OUTCOMES]
    return words


def shell(settings: Settings) -> web.Response:
    nonce = secrets.token_urlsafe(16)
    body = html_templates().get_template("layouts/miniapp/page.html.j2").render(
        nonce=nonce, locale=settings.DEFAULT_LOCALE, telegram_script=TELEGRAM_SCRIPT,
        texts={locale: _texts(locale) for locale in LOCALES},
    )
    response = web.Response(text=body, content_type="text/html", charset="utf-8")
    response.headers["Content-Security-Policy"] = (
        f"default-src 'none'; script-src 'nonce-{nonce}' {TELEGRAM_SCRIPT}; style-src 'nonce-{nonce}'; "
        f"connect-src 'self'; img-src 'self' data:; form-action 'none'; base-uri 'none'; "
        f"frame-ancestors 'self' {TELEGRAM_WEB_CLIENTS}"
    )
    secure(response)  # the policy above is the Mini App's own: Telegram's script, framed by its clients
    return response


def _json(status: int, locale: str, **answer: object) -> web.Response:
    response = web.json_response({"locale": locale, **answer}, status=status)
    secure(response)
    return response


async def handle_api(gate: MiniAppGate, settings: Settings, request: web.Request,
                     clock: Callable[[], datetime]) -> web.Response:
    locale = settings.DEFAULT_LOCALE  # until the user is known: the language the page asked for
    try:
        body = await _read_json(request)
        locale = pick_locale(_text(body.get("lang")), settings.DEFAULT_LOCALE)
        action = request.match_info["action"]
        if action not in ACTIONS:
            raise BadRequest("unknown_action", 404)
        now = clock()
        try:
            user = gate.caller(body.get("init_data"), now)  # type: ignore[arg-type]
        except InitDataError as error:
            log.info("mini app: initData refused (%s) from %s", error.problem, request.remote)
            template = "miniapp/expired" if error.expired else "miniapp/unsigned"
            return _json(401, locale, ok=False, code=error.problem, message=render_text(template, locale))
        linked = await asyncio.to_thread(gate.linked_locale, user)
        if linked is None:
            locale = pick_locale(user.language_code, settings.DEFAULT_LOCALE)
            return _json(403, locale, ok=False, code="not_linked", message=render_text("errors/not_linked", locale))
        locale = linked  # from here on, a bad request is told in his language
        if action == "session":
            return _json(200, locale, ok=True)
        incoming = _incoming(gate, action, body, user, now)
        replies = await gate.run(incoming) or await asyncio.to_thread(_kept, gate, incoming)
        if not replies:  # the router dropped it unanswered: a flood past the rate limit
            return _json(429, locale, ok=False, code="not_done", message=render_text("miniapp/not_done", locale))
        return _answered(replies, locale)
    except BadRequest as bad:
        log.info("mini app: bad request to %s: %s", request.path[:80], bad.problem)
        return _json(bad.status, locale, ok=False, code=bad.problem, message=render_text("miniapp/bad_request", locale))
    except SQLAlchemyError as exc:  # the router answers its own outages; this is the account lookup's
        log.warning("mini app: database unavailable: %s", str(exc).splitlines()[0][:300])
        return _json(503, locale, ok=False, code="try_again", message=render_text("errors/try_again", locale))
    except Exception:
        log.exception("mini app failed")
        return _json(500, locale, ok=False, code="internal", message=render_text("errors/internal", locale))


async def _read_json(request: web.Request) -> dict[str, Any]:
    if (request.content_length or 0) > MAX_BODY_BYTES:
        raise BadRequest("too_large", 413)
    raw = await request.content.read(MAX_BODY_BYTES + 1)
    if len(raw) > MAX_BODY_BYTES:
        raise BadRequest("too_large", 413)
    try:
        body = json.loads(raw.decode("utf-8"))
    except (ValueError, RecursionError):
        raise BadRequest("not_json") from None
    if not isinstance(body, dict):
        raise BadRequest("not_an_object")
    return body


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _incoming(gate: MiniAppGate, action: str, body: dict[str, Any], user: WebAppUser, now: datetime) -> Incoming:
    submission = body.get("id")
    if not isinstance(submission, str) or not SUBMISSION_ID.fullmatch(submission):
        raise BadRequest("bad_id")
    if action == "location":
        return gate.incoming(user, submission, now, location=_position(body.get("position"), now))
    form = FORMS[action]
    fields = body.get("fields")
    if not isinstance(fields, dict) or not set(fields) <= set(form.fields):
        raise BadRequest("bad_fields")
    if not all(isinstance(value, str) and len(value) <= MAX_FIELD_CHARS for value in fields.values()):
        raise BadRequest("bad_field_value")
    return gate.incoming(user, submission, now, command=form.command, form={**fields, **form.fixed})


def _number(position: dict[str, Any], name: str, required: bool = False) -> float | None:
    value = position.get(name)
    if value is None and not required:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise BadRequest(f"bad_{name}")
    return float(value)


def _position(position: object, now: datetime) -> Location:
    """The fix the page sent: Telegram's LocationManager or the browser's Geolocation API."""
    if not isinstance(position, dict):
        raise BadRequest("bad_position")
    latitude, longitude = _number(position, "latitude", True), _number(position, "longitude", True)
    assert latitude is not None and longitude is not None
    if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
        raise BadRequest("bad_coordinates")
    accuracy, course = _number(position, "accuracy"), _number(position, "course")
    return Location(
        latitude=latitude, longitude=longitude, source=SOURCE,
        accuracy_m=accuracy if accuracy is not None and accuracy >= 0 else None,
        heading=course if course is not None and 0 <= course <= 360 else None,
        taken_at=taken_at_by_age(_number(position, "age_ms"), now),
    )


def _kept(gate: MiniAppGate, incoming: Incoming) -> list[Reply]:
    """A submission already acted on (a double tap, a retry): the answer it got then."""
    key = event_key(incoming)
    if key is None:
        return []
    with gate.router.db.uow() as uow:
        kept = answers.kept(uow, key)
    return [Reply.from_json(data) for data in (kept.answer or [])] if kept is not None else []


def _answered(replies: list[Reply], locale: str) -> web.Response:
    refused = next((reply for reply in replies if reply.refused), None)
    shown = [{"title": reply.title, "text": reply.text, "fields": reply.fields} for reply in replies]
    if refused is not None:
        return _json(422, refused.locale or locale, ok=False, answers=shown, field=refused.refused_field,
                     message="\n".join(part for part in (refused.title, refused.text) if part))
    return _json(200, replies[0].locale or locale, ok=True, answers=shown)
