"""The one-time check-in page for front ends without location sharing (Slack).

GET /checkin/{token} serves a small page in the user's language that asks the browser for its
position (Geolocation API, high accuracy) and posts latitude, longitude, accuracy and the fix's age
on the phone's own clock back as a plain form (the position is dated by the server's clock minus
that age, so a phone whose clock is off is judged fairly). POST /checkin/{token} verifies the signed link, marks it used and pins the position
through bot.services.visits.shared_location (the same checks as a chat location, source "web") in one
transaction. A link may name a /nearby or /setloc waiting for a position instead of a visit
(checkin_links "v2"): the position answers it as a chat location would (shared_location.answer_request);
the customer's place set or refused is shown on the page, and /nearby's list, with its buttons, is
sent to the rep's chat with the bot. A reused, expired or altered link, or one whose visit or request
no longer waits, gets a clear page and writes nothing.
No external script, style or font: everything is inline, guarded by a nonce-based CSP.
"""
import asyncio
import logging
import math
from collections.abc import Callable
from datetime import datetime, timedelta
from urllib.parse import parse_qsl

from aiohttp import web

from bot.actor import CURRENT_ACTOR, Actor
from bot.config import Settings
from bot.errors import UserError
from bot.i18n import pick_locale, render
from bot.messages import Reply
from bot.services.visits import checkin_links, nearby, shared_location, visits
from bot.services.visits.checkin_links import LinkError
from bot.services.visits.customer_location import CustomerLocated
from bot.services.visits.location_checks import Fix
from bot.services.visits.nearby import Nearby
from bot.services.visits.refusals import Refused
from bot.web.pages import html_page
from db.base import utcnow
from db.models import Customer, CustomerLocationRequest, User, Visit
from db.session import Database, UnitOfWork

log = logging.getLogger(__name__)

MAX_FORM_BYTES = 4096


def routes(db: Database, settings: Settings, command_prefix: str,
           clock: Callable[[], datetime] = utcnow) -> list[web.RouteDef]:
    """The pages, answering in the words of the platform whose reps open them (command_prefix);
    `clock` is the router's (links are signed with its time)."""

    async def get_page(request: web.Request) -> web.Response:
        return await show_page(db, settings, request, clock)

    async def post_page(request: web.Request) -> web.Response:
        return await post_position(db, settings, command_prefix, request, clock)

    return [web.get("/checkin/{token}", get_page), web.post("/checkin/{token}", post_page)]


def _page(template: str, locale: str, status: int = 200, **context: object) -> web.Response:
    return html_page(f"{locale}/checkin/{template}.html.j2", status, locale=locale, **context)


def _error_page(error: UserError, locale: str) -> web.Response:
    status = 410 if isinstance(error, LinkError) and error.problem in ("expired", "used") else 400
    message = render(f"errors/{error.template}", locale, **error.params)
    return _page("result", locale, status, ok=False, reply=message)


def _asked(uow: UnitOfWork, claims: checkin_links.LinkClaims, now: datetime) -> dict[str, str]:
    """What the link's page asks the position for: kind (a visit's kind, "setloc" or "nearby") and the
    customer's name for /setloc; UserError when it no longer waits for one."""
    if claims.request_id is None:
        visit = uow.session.get(Visit, claims.visit_id)
        if visit is None or visit.user_id != claims.user_id or visit.status != visits.WAITING:
            raise UserError("visits/link_done")
        return {"kind": visit.kind, "name": ""}
    request = uow.session.get(CustomerLocationRequest, claims.request_id)
    if request is None or request.user_id != claims.user_id or request.status != "waiting" or request.expires_at <= now:
        raise UserError("visits/link_request_done")
    customer = uow.session.get(Customer, request.customer_id) if request.customer_id is not None else None
    return {"kind": "nearby", "name": ""} if customer is None else {"kind": "setloc", "name": customer.name}


def _look_up(db: Database, settings: Settings, token: str, hint: str | None, now: datetime
             ) -> tuple[str, UserError | None, dict[str, str]]:
    """Check the link without using it: (locale, what is wrong or None, what it asks for)."""
    locale = pick_locale(hint, settings.DEFAULT_LOCALE)
    try:
        claims = checkin_links.read_signed(settings.SECRET_KEY, token)
    except LinkError as error:
        return locale, error, {}
    with db.uow() as uow:
        user = uow.session.get(User, claims.user_id)
        locale = user.locale if user else locale
        if now >= claims.expires_at:
            return locale, LinkError("expired"), {}
        if checkin_links.is_used(uow, claims):
            return locale, LinkError("used"), {}
        try:
            return locale, None, _asked(uow, claims, now)
        except UserError as error:
            return locale, error, {}


async def show_page(db: Database, settings: Settings, request: web.Request,
                    clock: Callable[[], datetime] = utcnow) -> web.Response:
    token = request.match_info["token"]
    locale, problem, asked = await asyncio.to_thread(
        _look_up, db, settings, token, request.headers.get("Accept-Language"), clock()
    )
    if problem is not None:
        return _error_page(problem, locale)
    return _page("page", locale, **asked, action=f"/checkin/{token}")


def _number(form: dict, name: str) -> float | None:
    raw = str(form.get(name, "")).strip()
    if not raw:
        return None
    try:
        return float(raw)
    except ValueError:
        return math.nan


# A fix's age beyond this is read as this: a month is old enough for every check that reads it.
MAX_AGE = timedelta(days=30)


def _taken_at(form: dict, now: datetime) -> datetime:
    return taken_at_by_age(_number(form, "age_ms"), now)


def taken_at_by_age(age_ms: float | None, now: datetime) -> datetime:
    """When the fix was taken, by the server's clock: now minus the age the page measured on the
    phone's clock (negative when the fix is stamped ahead of the phone's own clock); now without one."""
    if age_ms is None or not math.isfinite(age_ms):
        return now
    age = timedelta(milliseconds=age_ms)
    return now - max(-MAX_AGE, min(age, MAX_AGE))


def _pin(db: Database, settings: Settings, command_prefix: str, token: str, form: dict, hint: str | None,
         now: datetime):
    """Use the link and pin the position in one transaction; returns (locale, reply, ok)."""
    locale = pick_locale(hint, settings.DEFAULT_LOCALE)
    try:
        claims = checkin_links.verify(settings.SECRET_KEY, token, now)
    except LinkError as error:
        return locale, error, False
    CURRENT_ACTOR.set(Actor(claims.user_id, "web"))  # this thread's context only: the audit names the rep
    with db.uow() as uow:
        user = uow.session.get(User, claims.user_id)
        locale = user.locale if user else locale
        latitude, longitude, accuracy = (_number(form, name) for name in ("latitude", "longitude", "accuracy"))
        fix = Fix(
            latitude=math.nan if latitude is None else latitude,
            longitude=math.nan if longitude is None else longitude,
            accuracy_m=accuracy if accuracy is not None and math.isfinite(accuracy) and accuracy >= 0 else None,
            source="web", taken_at=_taken_at(form, now), arrived_at=now,
        )
        try:
            checkin_links.consume(uow, claims, now)
            if claims.visit_id is None:
                assert claims.request_id is not None
                answered = shared_location.answer_from_link(uow, claims.user_id, claims.request_id, fix)
                reply = _answered(uow, claims.user_id, answered, locale, command_prefix, now)
                uow.commit()
                return locale, reply, True
            pinned = shared_location.pin_from_link(uow, claims.user_id, claims.visit_id, fix)
        except UserError as error:
            uow.rollback()
            return locale, error, False
        if isinstance(pinned, Refused):  # the visit keeps the refused attempt; the link is used up
            uow.commit()
            return locale, UserError(pinned.template, **pinned.params), False
        reply = render("visits/pinned" if pinned.kind == "visit" else "attendance/pinned", locale,
                       command_prefix=command_prefix, pinned=pinned)
        uow.commit()
        return locale, reply, True


def _answered(uow: UnitOfWork, user_id: int, answered: CustomerLocated | Nearby, locale: str,
              command_prefix: str, now: datetime) -> Reply:
    """The page's answer to a /setloc (the chat's own) or a /nearby: the list goes to his chat with the
    bot, with its Visit and Claim buttons; with no chat the bot can reach, the page shows it."""
    if isinstance(answered, CustomerLocated):
        return render("visits/customer_located", locale, command_prefix=command_prefix, located=answered)
    if nearby.send_to_chat(uow, user_id, answered, now):
        return render("visits/nearby_sent", locale, command_prefix=command_prefix, nearby=answered)
    return render(nearby.LIST_TEMPLATE, locale, command_prefix=command_prefix, nearby=answered)


async def _read_form(request: web.Request) -> dict[str, str] | None:
    """The page's form (URL-encoded UTF-8, as the page posts it); None for any other body."""
    charset = (request.charset or "utf-8").lower().replace("_", "-")
    if request.content_type != "application/x-www-form-urlencoded" or charset not in ("utf-8", "utf8"):
        return None
    body = await request.content.read(MAX_FORM_BYTES + 1)
    if len(body) > MAX_FORM_BYTES:
        raise web.HTTPRequestEntityTooLarge(max_size=MAX_FORM_BYTES, actual_size=len(body))
    try:
        return dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True, errors="strict"))
    except ValueError:  # not UTF-8, or a %-escape that is not
        return None


async def post_position(db: Database, settings: Settings, command_prefix: str, request: web.Request,
                        clock: Callable[[], datetime] = utcnow) -> web.Response:
    if (request.content_length or 0) > MAX_FORM_BYTES:
        raise web.HTTPRequestEntityTooLarge(max_size=MAX_FORM_BYTES, actual_size=request.content_length or 0)
    form = await _read_form(request)
    if form is None:
        locale = pick_locale(request.headers.get("Accept-Language"), settings.DEFAULT_LOCALE)
        return _error_page(UserError("visits/checkin_unreadable"), locale)
    try:
        locale, outcome, ok = await asyncio.to_thread(
            _pin, db, settings, command_prefix, request.match_info["token"], form,
            request.headers.get("Accept-Language"), clock()
        )
    except Exception:
        log.exception("check-in page failed")
        locale = pick_locale(request.headers.get("Accept-Language"), settings.DEFAULT_LOCALE)
        return _page("result", locale, 500, ok=False, reply=render("errors/internal", locale))
    if not ok:
        return _error_page(outcome, locale)
    return _page("result", locale, ok=True, reply=outcome)

