"""The blob and upload endpoints' errors: a branch of the one tree in `server.errors`, each
with its HTTP status and JSON code (`BlobError` is itself a 400 `bad_request`).

HTTPError (server.errors)
├── Unauthorized, NotFound       (server.errors: the same classes every route raises)
└── BlobError                  400 bad_request
    ├── BadId                  400 bad_id: a sha256 or upload id that is malformed
    ├── OffsetMismatch         409 offset_mismatch: PATCH at another offset than stored
    ├── PreconditionFailed     412 unsupported_version: a Tus-Resumable we do not speak
    ├── TooLarge               413 too_large
    ├── UnsupportedMediaType   415 unsupported_media_type: a type we never accept
    ├── MediaTypeMismatch      415 media_type_mismatch: the bytes are another type
    ├── RangeNotSatisfiable    416 range_not_satisfiable
    ├── HashMismatch           422 hash_mismatch
    ├── CorruptMedia           422 corrupt_media: right magic, but does not decode
    ├── UploadLocked           423 upload_locked: another PATCH is writing this upload
    └── TooManyUploads         429 too_many_uploads
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from server.errors import HTTPError, NotFound, Unauthorized, error_response

__all__ = [
    "BadId",
    "BlobError",
    "CorruptMedia",
    "HashMismatch",
    "MediaTypeMismatch",
    "NotFound",
    "OffsetMismatch",
    "PreconditionFailed",
    "RangeNotSatisfiable",
    "TooLarge",
    "TooManyUploads",
    "Unauthorized",
    "UnsupportedMediaType",
    "UploadLocked",
    "guarded",
]


class BlobError(HTTPError):
    status = 400
    code = "bad_request"


class BadId(BlobError):
    status = 400
    code = "bad_id"


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


Endpoint = Callable[[Request], Awaitable[Response]]

def guarded(endpoint: Endpoint, *, headers: dict[str, str] | None = None) -> Endpoint:
    """Answer every error `endpoint` raises in the one JSON shape, adding `headers` (the
    tus protocol's) to error responses as well."""
    extra = headers or {}

    async def wrapped(request: Request) -> Response:
        try:
            return await endpoint(request)
        except HTTPError as exc:
            return exc.response(extra)
        except HTTPException as exc:  # Starlette's own, e.g. from a caller-supplied check
            code = {401: "unauthorized", 404: "not_found"}.get(exc.status_code, "http_error")
            return error_response(exc.status_code, code, exc.detail,
                                  headers={**(exc.headers or {}), **extra})

    wrapped.__name__ = getattr(endpoint, "__name__", "endpoint")
    return wrapped
