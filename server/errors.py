"""The server's exceptions and the one JSON shape of every error response.

    WaiqinError
    ├── ConfigError            bad configuration; the process refuses to start
    └── HTTPError              carries `status`, a stable `code`, and response headers
        ├── BadRequest         400  malformed input, named field
        ├── Unauthorized       401  no, bad or revoked token
        ├── Forbidden          403  authenticated, not allowed
        ├── NotFound           404  absent, or not visible to the caller
        ├── Conflict           409  state does not allow it
        ├── Unprocessable      422  well-formed but breaks a rule
        ├── TooManyAttempts    429  (server.accounts) password guessing cut off
        └── BlobError          (server.blobs.errors) the upload and blob endpoints' own
                                    400-429 cases, each with its code

Every JSON error body is `{"error": {"code", "message", ...details}}`, from every route
(Starlette's own 404/405 included), through `error_response`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Match, Mount, Route
from starlette.types import Scope


class WaiqinError(Exception):
    pass


class ConfigError(WaiqinError):
    pass


class HTTPError(WaiqinError):
    status = 500
    code = "internal_error"

    def __init__(self, message: str, *, code: str | None = None,
                 headers: dict[str, str] | None = None, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.headers = dict(headers or {})
        self.details = details

    def response(self, headers: dict[str, str] | None = None) -> JSONResponse:
        return error_response(self.status, self.code, self.message,
                              headers={**self.headers, **(headers or {})}, **self.details)


class BadRequest(HTTPError):
    status = 400
    code = "bad_request"


class Unauthorized(HTTPError):
    status = 401
    code = "unauthorized"


class Forbidden(HTTPError):
    status = 403
    code = "forbidden"


class NotFound(HTTPError):
    status = 404
    code = "not_found"


class Conflict(HTTPError):
    status = 409
    code = "conflict"


class Unprocessable(HTTPError):
    status = 422
    code = "unprocessable"


def error_body(code: str, message: str, **details: Any) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, **details}}


def error_response(status: int, code: str, message: str, *,
                   headers: dict[str, str] | None = None, **details: Any) -> JSONResponse:
    headers = dict(headers or {})
    if status == 401:
        headers.setdefault("WWW-Authenticate", "Bearer")
    return JSONResponse(error_body(code, message, **details), status_code=status, headers=headers)


async def handle_http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPError)
    return exc.response()


async def handle_starlette_http(request: Request, exc: Exception) -> Response:
    """Starlette's own errors (no route: 404, a method no route takes: 405) in the one
    shape, keeping their headers. A 405's Allow names every method the path answers to:
    Starlette names only those of the first route that matched the path, and a path served
    by one route per method would otherwise advertise one method."""
    assert isinstance(exc, HTTPException)
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
    headers = dict(exc.headers or {})
    message = str(exc.detail)
    if exc.status_code == 405:
        allowed = sorted(allowed_methods(request.app.routes, request.scope))
        headers["Allow"] = ", ".join(allowed)
        message = f"{request.method} is not allowed here; allowed: {headers['Allow']}"
    return error_response(exc.status_code, code, message, headers=headers)


def allowed_methods(routes: Iterable[BaseRoute], scope: Scope) -> set[str]:
    """The methods of every route (inside mounts too) whose path matches the request's."""
    out: set[str] = set()
    for route in routes:
        match, child = route.matches(scope)
        if match is Match.NONE:
            continue
        if isinstance(route, Mount):
            out |= allowed_methods(route.routes, {**scope, **child})
        elif isinstance(route, Route) and route.methods:
            out |= route.methods
    return out
