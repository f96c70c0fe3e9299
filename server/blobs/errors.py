"""The errors the blob endpoints answer with, each carrying its HTTP status and JSON code.

BlobError                      (base; status 400, code "bad_request")
├── BadId                      400 bad_id: a sha256 or upload id that is malformed
├── Unauthorized               401 unauthorized
├── NotFound                   404 not_found: missing *or* not visible to the caller
├── OffsetMismatch             409 offset_mismatch: PATCH at another offset than stored
├── PreconditionFailed         412 unsupported_version: a Tus-Resumable we do not speak
├── TooLarge                   413 too_large
├── UnsupportedMediaType       415 unsupported_media_type: a type we never accept
├── MediaTypeMismatch          415 media_type_mismatch: the bytes are another type
├── RangeNotSatisfiable        416 range_not_satisfiable
├── HashMismatch               422 hash_mismatch
├── CorruptMedia               422 corrupt_media: right magic, but does not decode
├── UploadLocked               423 upload_locked: another PATCH is writing this upload
└── TooManyUploads             429 too_many_uploads
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import ClassVar

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from server.errors import error_body


class BlobError(Exception):
    status: ClassVar[int] = 400
    code: ClassVar[str] = "bad_request"

    def __init__(self, message: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.headers = headers or {}

    def response(self) -> JSONResponse:
        return error_response(self.status, self.code, self.message, self.headers)


class BadId(BlobError):
    status = 400
    code = "bad_id"


class Unauthorized(BlobError):
    status = 401
    code = "unauthorized"


class NotFound(BlobError):
    status = 404
    code = "not_found"


class OffsetMismatch(BlobError):
    status = 409
    code = "offset_mismatch"


class PreconditionFailed(BlobError):
    status = 412
    code = "unsupported_version"


class TooLarge(BlobError):
    status = 413
    code = "too_large"


class UnsupportedMediaType(BlobError):
    status = 415
    code = "unsupported_media_type"


class MediaTypeMismatch(BlobError):
    status = 415
    code = "media_type_mismatch"


class RangeNotSatisfiable(BlobError):
    status = 416
    code = "range_not_satisfiable"


class HashMismatch(BlobError):
    status = 422
    code = "hash_mismatch"


class CorruptMedia(BlobError):
    status = 422
    code = "corrupt_media"


class UploadLocked(BlobError):
    status = 423
    code = "upload_locked"


class TooManyUploads(BlobError):
    status = 429
    code = "too_many_uploads"


def error_response(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    """The one JSON error shape of server/errors.py: ``{"error": {"code", "message"}}``."""
    return JSONResponse(error_body(code, message), status_code=status, headers=headers)


Endpoint = Callable[[Request], Awaitable[Response]]

_CODES = {401: "unauthorized", 403: "not_found", 404: "not_found", 405: "method_not_allowed"}


def guarded(endpoint: Endpoint, *, headers: dict[str, str] | None = None) -> Endpoint:
    """Answer every BlobError and HTTPException (e.g. the 401 from ``authenticate``) raised
    by ``endpoint`` in the one JSON shape, adding ``headers`` to error responses."""
    extra = headers or {}

    async def wrapped(request: Request) -> Response:
        try:
            return await endpoint(request)
        except BlobError as exc:
            response = exc.response()
        except HTTPException as exc:
            # A 403 is answered as a 404 so that it does not reveal that a blob exists.
            status = 404 if exc.status_code == 403 else exc.status_code
            code = _CODES.get(exc.status_code, "http_error")
            response = error_response(status, code, exc.detail, dict(exc.headers or {}))
        response.headers.update(extra)
        return response

    wrapped.__name__ = getattr(endpoint, "__name__", "endpoint")
    return wrapped
