"""The server's exceptions and the one JSON shape of every error response.

    WaiqinError
    ├── ConfigError            bad configuration; the process refuses to start
    └── HTTPError              carries `status` and a stable `code`
        ├── BadRequest         400  malformed input, named field
        ├── Unauthorized       401  no, bad or revoked token
        ├── Forbidden          403  authenticated, not allowed
        ├── NotFound           404  absent, or not visible to the caller
        ├── Conflict           409  state does not allow it
        └── Unprocessable      422  well-formed but breaks a rule

Every JSON error body is `{"error": {"code", "message", ...details}}`.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response


class WaiqinError(Exception):
    pass


class ConfigError(WaiqinError):
    pass


class HTTPError(WaiqinError):
    status = 500
    code = "internal_error"

    def __init__(self, message: str, *, code: str | None = None, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.details = details


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


def error_response(status: int, code: str, message: str, **details: Any) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(error_body(code, message, **details), status_code=status, headers=headers)


async def handle_http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPError)
    return error_response(exc.status, exc.code, exc.message, **exc.details)


async def handle_starlette_http(request: Request, exc: Exception) -> Response:
    from starlette.exceptions import HTTPException

    assert isinstance(exc, HTTPException)
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
    return error_response(exc.status_code, code, str(exc.detail))
