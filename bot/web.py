"""The one HTTP server: health check, plus whatever routes the front ends add (Slack events,
Telegram webhook, check-in pages)."""
from datetime import timedelta

from aiohttp import web
from sqlalchemy import func, select, text

from bot.jobs.heartbeat import HEARTBEAT_JOB
from bot.metrics import metrics_view
from bot.scheduler import last_run
from db.base import utcnow
from db.models import OutboxMessage
from db.session import Database

DB_KEY = web.AppKey("db", Database)


def health(db: Database) -> tuple[bool, dict]:
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
        report["database"] = "ok"
    except Exception as exc:  # reported, not raised: this is the health check
        report["database"] = f"unreachable: {type(exc).__name__}"
        return False, report
    beat = last_run(db, HEARTBEAT_JOB)
    report["scheduler_last_run"] = beat.isoformat() if beat else None
    report["scheduler"] = "ok" if beat and utcnow() - beat < timedelta(minutes=3) else "stale"
    return True, report


async def healthz(request: web.Request) -> web.Response:
    import asyncio

    ok, report = await asyncio.to_thread(health, request.app[DB_KEY])
    return web.json_response(report, status=200 if ok else 503)


def build_web_app(db: Database) -> web.Application:
    app = web.Application(client_max_size=1024 * 1024)
    app[DB_KEY] = db
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics_view)
    __import__("bot.checkin_page", fromlist=["add_routes"]).add_routes(app)  # one-time check-in pages (visits)
    return app


async def start_server(app: web.Application, host: str = "127.0.0.1", port: int = 0) -> tuple[web.AppRunner, int]:
    """Serve the app; returns its runner (cleanup() stops it) and the port it got (0 picks a free one)."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    return runner, site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
