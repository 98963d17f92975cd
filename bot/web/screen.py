"""The office screen: a full-screen page of a team's leaderboard for the office TV, opened by the
link a manager got from `/board screen` (bot.services.deals.screen_links).

GET /screen/{token} serves the page in the screen's language (its team channel's, else its
manager's): today's and this month's board and the unit's month target pace
(bot.services.deals.office_screen). GET /screen/{token}/events is its server-sent event stream:
`win` (the announcement as the team channel reads it, and the new boards), `board` (the boards,
once a minute), `revoked` (then the stream ends); a heartbeat comment every `heartbeat_seconds` keeps
proxies from closing it. A reconnecting browser sends Last-Event-ID (the last announcement it
showed) and gets what it missed, nothing twice. No login: the link is the key; a revoked link
answers 410, anything else that is not a link 404, never a 500. Everything inline, under a
nonce-based CSP (bot.web.pages); database work in worker threads (asyncio.to_thread).
"""
import asyncio
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import partial

from aiohttp import web

from bot.config import Settings
from bot.delivery import rendered
from bot.errors import UserError
from bot.i18n import DEFAULT_PREFIX, format_money, format_number, label, pick_locale, render
from bot.messages import Templated
from bot.services.deals import office_screen, screen_links
from bot.services.deals.office_screen import Announcement, Boards, Screen
from bot.services.deals.screen_links import ScreenLinkError
from bot.web.pages import html_page, html_templates, secure
from bot.web.screen_feed import Event, ScreenFeed, Subscriber
from db.session import Database

log = logging.getLogger(__name__)

RETRY_MS = 3000  # how soon a browser reconnects after losing the stream


@dataclass(frozen=True)
class Opened:
    screen: Screen
    boards: Boards | None  # not for the event stream
    latest: int  # the newest announcement the page starts after


def attach(app: web.Application, db: Database, settings: Settings, clock: Callable[[], datetime],
           heartbeat_seconds: float = 15.0, poll_seconds: float = 1.0) -> ScreenFeed:
    """Serve the office screens on `app`, with one feed for the whole process (ended at shutdown)."""
    feed = ScreenFeed(db, clock, poll_seconds)
    pages = Pages(db, settings, clock, feed, heartbeat_seconds)
    app.add_routes([web.get("/screen/{token}", pages.show),
                    web.get("/screen/{token}/events", pages.events, allow_head=False),
                    web.get("/screen{rest:(/.*)?}", pages.not_found)])  # anything else under /screen: 404
    app.on_shutdown.append(feed.close)
    return feed


def _open(db: Database, settings: Settings, token: str, now: datetime, with_boards: bool = True) -> Opened:
    with db.uow() as uow:
        link = screen_links.link_of(uow, settings.SECRET_KEY, token)
        screen = office_screen.screen_of(uow, link, settings.DEFAULT_TIMEZONE)
        boards = office_screen.boards(uow, screen, now) if with_boards else None
        return Opened(screen, boards, office_screen.latest_announcement(uow, screen.channel_id))


def _missed(db: Database, screen: Screen, after: int, now: datetime) -> tuple[list[Announcement], Boards | None]:
    with db.uow() as uow:
        found = office_screen.announcements_after(uow, screen.channel_id, after)
        return found, office_screen.boards(uow, screen, now) if found else None


def _last_event_id(request: web.Request, latest: int) -> int:
    """Where the stream resumes: after the browser's Last-Event-ID, else the page's `after`, else now."""
    for raw in (request.headers.get("Last-Event-ID"), request.query.get("after")):
        if raw and raw.isascii() and raw.isdigit() and len(raw) < 19:
            return min(int(raw), latest)
    return latest


class Pages:
    def __init__(self, db: Database, settings: Settings, clock: Callable[[], datetime], feed: ScreenFeed,
                 heartbeat_seconds: float):
        self.db, self.settings, self.clock, self.feed = db, settings, clock, feed
        self.heartbeat_seconds = heartbeat_seconds

    def _locale(self, request: web.Request) -> str:
        return pick_locale(request.headers.get("Accept-Language"), self.settings.DEFAULT_LOCALE)

    async def _opened(self, request: web.Request, with_boards: bool = True) -> Opened | web.Response:
        try:
            return await asyncio.to_thread(_open, self.db, self.settings, request.match_info["token"], self.clock(),
                                           with_boards)
        except ScreenLinkError as error:
            return gone_page(error, self._locale(request))
        except Exception:
            log.exception("office screen failed")
            return gone_page(UserError("try_again"), self._locale(request), 503)

    async def not_found(self, request: web.Request) -> web.Response:
        return gone_page(ScreenLinkError("unknown"), self._locale(request))

    async def show(self, request: web.Request) -> web.Response:
        opened = await self._opened(request)
        if isinstance(opened, web.Response):
            return opened
        screen = opened.screen
        assert opened.boards is not None
        return html_page(f"{screen.locale}/screen/page.html.j2", connect=True, locale=screen.locale,
                         unit_name=screen.unit_name, boards=boards_html(opened.boards, screen.locale),
                         events=f"{request.path}/events?after={opened.latest}",
                         revoked=render("errors/deals/screen_link_revoked", screen.locale).text)

    async def events(self, request: web.Request) -> web.StreamResponse:
        opened = await self._opened(request, with_boards=False)
        if isinstance(opened, web.Response):
            return opened
        screen = opened.screen
        after = _last_event_id(request, opened.latest)
        subscriber = self.feed.subscribe(screen)
        response = secure(web.StreamResponse(headers={"Content-Type": "text/event-stream; charset=utf-8",
                                                      "X-Accel-Buffering": "no"}))
        try:
            await response.prepare(request)
            await response.write(f"retry: {RETRY_MS}\n\n".encode())
            found, boards = await asyncio.to_thread(_missed, self.db, screen, after, self.clock())
            self.feed.caught_up(subscriber, found[-1].id if found else after)
            for announcement in found:
                await response.write(_win(announcement, boards, screen.locale))
                after = announcement.id
            await self._follow(response, subscriber, after)
        except ConnectionError:
            pass  # the browser went away: nothing to tell anyone
        except Exception:  # the database failed mid-stream: end it, the browser reconnects and resumes
            log.exception("office screen stream failed")
        finally:
            self.feed.unsubscribe(subscriber)
        return response

    async def _follow(self, response: web.StreamResponse, subscriber: Subscriber, after: int) -> None:
        locale = subscriber.screen.locale
        while True:
            try:
                async with asyncio.timeout(self.heartbeat_seconds):  # not wait_for: see delivery.py
                    event: Event = await subscriber.queue.get()
            except TimeoutError:
                await response.write(b": keep-alive\n\n")
                continue
            if event.kind == "win" and event.announcement is not None:
                if event.announcement.id <= after:
                    continue  # already sent while catching up
                after = event.announcement.id
                await response.write(_win(event.announcement, event.boards, locale))
            elif event.kind == "board" and event.boards is not None:
                await response.write(_message("board", {"boards": boards_html(event.boards, locale)}))
            elif event.kind == "revoked":
                text = render("errors/deals/screen_link_revoked", locale).text
                await response.write(_message("revoked", {"text": text}))
                return
            else:  # closed: the process stops
                return


def _message(kind: str, data: dict, event_id: int | None = None) -> bytes:
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {kind}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n".encode()


def _win(announcement: Announcement, boards: Boards | None, locale: str) -> bytes:
    """One announcement as the team channel reads it, with the boards after it."""
    reply = rendered(Templated(announcement.template, locale, announcement.context).to_json(), DEFAULT_PREFIX)
    data: dict = {"title": reply.title or "", "text": reply.text, "fields": [list(f) for f in reply.fields]}
    if boards is not None:
        data["boards"] = boards_html(boards, locale)
    return _message("win", data, announcement.id)


def boards_html(boards: Boards, locale: str) -> str:
    return html_templates().get_template(f"{locale}/screen/boards.html.j2").render(
        b=boards, metric=label(f"metric_{boards.metric}", locale), label=partial(label, locale=locale),
        money=partial(format_money, locale=locale), number=partial(format_number, locale=locale))


def gone_page(error: UserError, locale: str, status: int | None = None) -> web.Response:
    """A link that does not open a screen: 410 revoked, 404 anything else (503: try again)."""
    if status is None:
        status = 410 if isinstance(error, ScreenLinkError) and error.problem == "revoked" else 404
    message = render(f"errors/{error.template}", locale, **error.params)
    return html_page(f"{locale}/screen/gone.html.j2", status, locale=locale, message=message.text,
                     unavailable=status == 503)  # the server, not the link: it says so
