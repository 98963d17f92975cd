"""The public HTML pages' one way to answer (the check-in page, the office screen): a jinja2
template rendered with a fresh nonce, everything inline and nothing loaded from outside, under a
nonce-based Content-Security-Policy; no referrer (the page's token is in its URL), never cached."""
import secrets
from functools import cache

from aiohttp import web
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from bot.i18n import TEMPLATE_DIR


@cache
def html_templates() -> Environment:
    return Environment(loader=FileSystemLoader(TEMPLATE_DIR), autoescape=True, undefined=StrictUndefined,
                       trim_blocks=True, lstrip_blocks=True)


def secure(response: web.StreamResponse, nonce: str | None = None, connect: bool = False) -> web.StreamResponse:
    """The headers every public page and stream carries; `connect` lets the page open its own
    event stream (connect-src 'self')."""
    if nonce is not None:
        response.headers["Content-Security-Policy"] = (
            f"default-src 'none'; script-src 'nonce-{nonce}'; style-src 'nonce-{nonce}'; "
            + ("connect-src 'self'; " if connect else "")
            + "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
        )
    response.headers["Referrer-Policy"] = "no-referrer"  # the token is in the URL
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def html_page(template: str, status: int = 200, connect: bool = False, **context: object) -> web.Response:
    """The page of template `template` (a path under bot/templates) with its nonce."""
    nonce = secrets.token_urlsafe(16)
    body = html_templates().get_template(template).render(nonce=nonce, **context)
    response = web.Response(text=body, status=status, content_type="text/html", charset="utf-8")
    secure(response, nonce, connect)
    return response
