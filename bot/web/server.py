"""Serving an aiohttp application: one helper for the bot, the fake platform APIs, the tests and the benches."""
from collections.abc import Iterable

from aiohttp import web
from aiohttp.typedefs import Middleware

MAX_REQUEST_BYTES = 1024 * 1024


def build_web_app(routes: Iterable[web.AbstractRouteDef], middlewares: Iterable[Middleware] = ()) -> web.Application:
    app = web.Application(client_max_size=MAX_REQUEST_BYTES, middlewares=list(middlewares))
    app.add_routes(list(routes))
    return app


async def start_server(app: web.Application, host: str = "127.0.0.1", port: int = 0) -> tuple[web.AppRunner, int]:
    """Serve the app; returns its runner (cleanup() stops it) and the port it got (0 picks a free one)."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    return runner, site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
