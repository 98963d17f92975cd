"""What an operator's load balancer and dashboard read: /healthz and /metrics.

They are served on the admin listener (ADMIN_HOST:ADMIN_PORT, loopback by default), never on the
public one with the webhooks and check-in pages; with ADMIN_TOKEN set, every request there must
carry it as a bearer token.
"""
import asyncio
import hmac
from collections.abc import Awaitable, Callable
from datetime import timedelta

from aiohttp import web
from sqlalchemy import func, select, text

from bot.jobs.heartbeat import HEARTBEAT_JOB
from bot.metrics import CONTENT_TYPE, Metrics
from bot.scheduler import last_run
from db.base import utcnow
from db.models import OutboxMessage
from db.session import Database


def health(db: Database) -> tuple[bool, dict]:
    """Answers within about the connect timeout, also when the database hangs (db.watchdog)."""
    with db.deadline(db.timeouts.connect):
        return _health(db)


def _health(db: Database) -> tuple[bool, dict]:
    report: dict = {}
    try:
        with db.uow() as uow:
            uow.session.execute(text("SELECT 1"))
            waiting = OutboxMessage.status.in_(("pending", "sending"))
            backlog, oldest = uow.session.execute(
                select(func.count(), func.min(OutboxMessage.created_at)).where(waiting)
            ).one()
            report["outbox_backlog"] = backlog
            report["outbox_oldest_age_s"] = round((utcnow() - oldest).total_seconds()) if oldest else 0
            report["outbox_dead"] = uow.session.scalar(
                select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status == "dead")
            )
        beat = last_run(db, HEARTBEAT_JOB)
        report["database"] = "ok"
    except Exception as exc:  # reported, not raised: this is the health check
        report["database"] = f"unreachable: {type(exc).__name__}"
        return False, report
    report["scheduler_last_run"] = beat.isoformat() if beat else None
    report["scheduler"] = "ok" if beat and utcnow() - beat < timedelta(minutes=3) else "stale"
    return True, report


def routes(db: Database, metrics: Metrics, outbox_sender: Callable[[], str]) -> list[web.RouteDef]:
    """`outbox_sender`: where this process's posts leave from ("inline", "none", "child running",
    "child restarting"), reported without changing the status: the process answers people either way,
    and a stalled outbox shows in outbox_oldest_age_s."""
    async def healthz(_request: web.Request) -> web.Response:
        ok, report = await asyncio.to_thread(health, db)
        report["outbox_sender"] = outbox_sender()
        return web.json_response(report, status=200 if ok else 503)

    async def metrics_page(_request: web.Request) -> web.Response:
        body = await asyncio.to_thread(metrics.exposition)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})

    return [web.get("/healthz", healthz), web.get("/metrics", metrics_page)]


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def bearer_guard(token: str) -> Callable[[web.Request, Handler], Awaitable[web.StreamResponse]]:
    """A middleware answering 401 unless the request carries `Authorization: Bearer <token>`."""
    expected = f"Bearer {token}".encode()

    @web.middleware
    async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
        given = request.headers.get("Authorization", "").encode()
        if not hmac.compare_digest(given, expected):
            raise web.HTTPUnauthorized(headers={"WWW-Authenticate": "Bearer"})
        return await handler(request)

    return guard
