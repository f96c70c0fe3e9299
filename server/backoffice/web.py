"""The plumbing every back-office page shares: templates, the viewer check around each
handler, HTML error pages, redirects after a POST, and the export answer."""

from __future__ import annotations

import functools
import urllib.parse
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.templating import Jinja2Templates

from server.errors import HTTPError

from . import i18n
from .auth import (
    LoginRequired,
    csrf_token,
    language,
    remember_csrf,
    remember_language,
    viewer,
)
from .columns import cell_text, yuan
from .inbox import waiting_count

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")

Handler = Callable[[Request], Awaitable[Response]]


def base(request: Request) -> str:
    return str(request.scope.get("root_path", ""))


def url(request: Request, path: str, **query: Any) -> str:
    q = {k: v for k, v in query.items() if v not in (None, "")}
    return base(request) + path + ("?" + urllib.parse.urlencode(q) if q else "")


def query_with(request: Request, **changes: Any) -> str:
    """This page's query string with some parameters changed (None removes one)."""
    q = dict(request.query_params)
    for k, v in changes.items():
        if v is None:
            q.pop(k, None)
        else:
            q[k] = str(v)
    q.pop("lang", None)
    return urllib.parse.urlencode(q)


async def render(
    request: Request, name: str, context: dict[str, Any], status: int = 200
) -> Response:
    lang = language(request)
    v = request.scope.get("waiqin.viewer")
    ctx = {
        "request": request,
        "viewer": v,
        "lang": lang,
        "_": functools.partial(i18n.gettext, lang),
        "role_label": functools.partial(i18n.role_label, lang),
        "csrf": csrf_token(request),
        "base": base(request),
        "cell": lambda col, value: cell_text(col, value, lang),
        "fmt_ms": i18n.fmt_ms,
        "query_with": functools.partial(query_with, request),
        "path": request.url.path,
        "yuan": yuan,
        "waiting": await _waiting(request, v),
        **context,
    }
    response = templates.TemplateResponse(request, name, ctx, status_code=status)
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "same-origin"
    remember_csrf(request, response)
    remember_language(request, response)
    return response


async def _waiting(request: Request, v: Any) -> int:
    """The count of records waiting for the viewer's decision, for the menu."""
    if v is None:
        return 0
    return await waiting_count(request, v)


def see_other(request: Request, path: str, **query: Any) -> Response:
    return RedirectResponse(url(request, path, **query), status_code=303)


def page(fn: Handler) -> Handler:
    """Runs the handler for a logged-in viewer; a missing session goes to the login form,
    an HTTPError becomes an HTML error page with its status."""

    @functools.wraps(fn)
    async def wrapper(request: Request) -> Response:
        try:
            await viewer(request)
            return await fn(request)
        except LoginRequired:
            nxt = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            if request.method != "GET":
                nxt = base(request) + "/"
            return see_other(request, "/login", next=nxt)
        except HTTPError as e:
            return await render(request, "error.html",
                                {"status": e.status, "message": e.message}, status=e.status)

    return wrapper
