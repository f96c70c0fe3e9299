"""The blob HTTP endpoints: ``PUT``/``GET``/``HEAD /api/blobs/<sha256>``, thumbnails, and the
factory that assembles them with the resumable uploads into one Starlette ``Router``.

See docs/blobs.md for the protocol as a client sees it.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import anyio
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.convertors import Convertor, register_url_convertor
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Match, Route, Router
from starlette.types import Scope

from schema.kinds import MAX_ATTACHMENT_BYTES
from server.blobs import media
from server.blobs.errors import (
    BadId,
    BlobError,
    HashMismatch,
    NotFound,
    TooLarge,
    guarded,
)
from server.blobs.ingest import BlobInfo, BlobUser, CanRead, Ingest
from server.blobs.ranges import etag_matches, parse_range
from server.blobs.store import SHA256_RE, BlobStore, check_sha
from server.blobs.thumbs import THUMB_SIZES, THUMB_TYPES, Thumbnails
from server.blobs.uploads import UPLOAD_ID_RE, ResumableUploads

log = logging.getLogger("waiqin.blobs")

Authenticate = Callable[[Request], Awaitable[BlobUser]]

DEFAULT_MAX_SIZE = MAX_ATTACHMENT_BYTES
WRITE_BUFFER = 1024 * 1024
# Content-addressed bytes never change; "private" because every read is rights-checked.
IMMUTABLE = "private, max-age=31536000, immutable"


class _Id(Convertor[str]):
    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


class Sha256(_Id):
    """`{sha256:sha256}`: only a well-formed id reaches an endpoint route, so that another
    method on it is the router's 405, and anything else falls to `BadAddress`."""

    regex = SHA256_RE.pattern


class UploadId(_Id):
    regex = UPLOAD_ID_RE.pattern


register_url_convertor("sha256", Sha256())
register_url_convertor("upload_id", UploadId())


class BadAddress(Route):
    """A catch-all under a prefix that matches only what no sibling route matches, not even
    by path alone: a malformed id is `bad_id` (400), a known address asked with a method it
    does not answer stays the router's 405 with its Allow header."""

    def __init__(self, path: str, siblings: list[BaseRoute], name: str) -> None:
        super().__init__(path, guarded(bad_id), methods=_ALL, name=name)
        self.siblings = siblings

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if any(r.matches(scope)[0] is not Match.NONE for r in self.siblings):
            return Match.NONE, {}
        return super().matches(scope)


def blob_routes(
    *,
    store: BlobStore,
    engine: AsyncEngine,
    authenticate: Authenticate,
    can_read: CanRead,
    chunk_dir: Path | str = "./data/uploads",
    max_size: int = DEFAULT_MAX_SIZE,
    max_open_uploads: int = 200,
    checkpoint_bytes: int = 1024 * 1024,
) -> Router:
    """The blob and upload endpoints, under ``/api/blobs`` and ``/api/uploads``.

    ``authenticate`` returns the caller or raises ``HTTPException(401)``; ``can_read(user_id,
    sha256)`` says whether the user can see a record that refers to the blob."""
    chunk_dir = Path(chunk_dir)
    chunk_dir.mkdir(parents=True, exist_ok=True)
    ingest = Ingest(store=store, engine=engine, can_read=can_read)
    blobs = BlobEndpoints(
        ingest=ingest,
        authenticate=authenticate,
        thumbnails=Thumbnails(store=store, work_dir=chunk_dir),
        work_dir=chunk_dir,
        max_size=max_size,
    )
    uploads = ResumableUploads(
        ingest=ingest,
        engine=engine,
        authenticate=authenticate,
        chunk_dir=chunk_dir,
        max_size=max_size,
        max_open_uploads=max_open_uploads,
        checkpoint_bytes=checkpoint_bytes,
    )
    routes: list[BaseRoute] = [
        Route("/api/blobs/{sha256:sha256}", guarded(blobs.put), methods=["PUT"],
              name="blob_put"),
        Route("/api/blobs/{sha256:sha256}", guarded(blobs.get), methods=["GET", "HEAD"],
              name="blob"),
        Route(
            "/api/blobs/{sha256:sha256}/thumb",
            guarded(blobs.thumb),
            methods=["GET", "HEAD"],
            name="blob_thumb",
        ),
        *uploads.routes(),
    ]
    # Whatever else is under these prefixes (a "../", an encoded "/") is a bad id.
    return Router(routes=[
        *routes,
        BadAddress("/api/blobs/{rest:path}", routes, name="blob_bad_id"),
        BadAddress("/api/uploads/{rest:path}", routes, name="upload_bad_id"),
    ])


_ALL = ["GET", "HEAD", "PUT", "POST", "PATCH", "DELETE", "OPTIONS"]


async def bad_id(request: Request) -> Response:
    raise BadId("no such blob or upload address: ids are lowercase hex")


def blob_headers(etag: str) -> dict[str, str]:
    return {
        "ETag": etag,
        "Cache-Control": IMMUTABLE,
        "Accept-Ranges": "bytes",
        "X-Content-Type-Options": "nosniff",
        # Served from our origin: a PDF or an SVG-in-disguise must not run as our page.
        "Content-Security-Policy": "sandbox; default-src 'none'",
    }


class BlobEndpoints:
    def __init__(
        self,
        *,
        ingest: Ingest,
        authenticate: Authenticate,
        thumbnails: Thumbnails,
        work_dir: Path,
        max_size: int,
    ) -> None:
        self.ingest = ingest
        self.store = ingest.store
        self.authenticate = authenticate
        self.thumbnails = thumbnails
        self.work_dir = work_dir
        self.max_size = max_size

    async def put(self, request: Request) -> Response:
        """Upload a whole blob in one request; answered at once if it is already stored."""
        user = await self.authenticate(request)
        sha256 = check_sha(request.path_params["sha256"])
        media_type = media.normalise_type(request.headers.get("content-type"))
        length = _content_length(request)
        if length is not None and length > self.max_size:
            raise TooLarge(f"{length} bytes is over the limit of {self.max_size}")
        known = await self.ingest.known(user, sha256, media_type, length)
        if known is not None:
            return self._stored(request, known, created=False)
        tmp = self.work_dir / f"put-{uuid.uuid4().hex}.tmp"
        try:
            try:
                digest = await self._receive(request, tmp)
            except ClientDisconnect:
                log.info("client went away during PUT of %s", sha256)
                return Response(status_code=400)
            if digest != sha256:
                raise HashMismatch(f"the bytes hash to {digest}, not {sha256}")
            info, created = await self.ingest.finish(user, sha256, media_type, tmp)
        finally:
            await anyio.Path(tmp).unlink(missing_ok=True)
        return self._stored(request, info, created=created)

    async def _receive(self, request: Request, dest: Path) -> str:
        """Stream the body into ``dest`` while hashing it, never holding more than a buffer."""
        digest = hashlib.sha256()
        size = 0
        buffer = bytearray()
        async with await anyio.open_file(dest, "wb") as out:
            async for chunk in request.stream():
                size += len(chunk)
                if size > self.max_size:
                    raise TooLarge(f"the body is over the limit of {self.max_size} bytes")
                digest.update(chunk)
                buffer += chunk
                if len(buffer) >= WRITE_BUFFER:
                    await out.write(bytes(buffer))
                    buffer.clear()
            await out.write(bytes(buffer))
        return digest.hexdigest()

    def _stored(self, request: Request, info: BlobInfo, *, created: bool) -> Response:
        body = {**info.as_json(), "stored": created}
        location = request.url_for("blob", sha256=info.sha256).path
        headers = {"Location": location, "ETag": _etag(info.sha256)}
        return JSONResponse(body, status_code=201 if created else 200, headers=headers)

    async def _visible(self, request: Request) -> tuple[BlobUser, BlobInfo]:
        user = await self.authenticate(request)
        sha256 = check_sha(request.path_params["sha256"])
        found = await self.ingest.lookup(sha256)
        if found is None or not await self.ingest.may_read(user, found[0]):
            raise NotFound("no such blob")  # the same answer whether missing or forbidden
        return user, found[0]

    async def get(self, request: Request) -> Response:
        _, info = await self._visible(request)
        return await self._serve(request, info.sha256, info.media_type, info.size)

    async def thumb(self, request: Request) -> Response:
        _, info = await self._visible(request)
        try:
            size = int(request.query_params.get("size", "256"))
        except ValueError:
            size = -1
        if size not in THUMB_SIZES:
            raise BlobError(f"size is one of {', '.join(map(str, THUMB_SIZES))}")
        if info.media_type not in THUMB_TYPES:
            # The request is fine; this blob has no such representation.
            raise NotFound(f"no thumbnails of {info.media_type}, only of images")
        key = await self.thumbnails.ensure(info.sha256, size)
        stat = await self.store.stat(key)
        if stat is None:
            raise NotFound("the thumbnail vanished; try again")
        return await self._serve(request, key, "image/jpeg", stat.size)

    async def _serve(self, request: Request, key: str, media_type: str, size: int) -> Response:
        etag = _etag(key)
        headers = blob_headers(etag)
        if etag_matches(request.headers.get("if-none-match"), etag):
            return Response(status_code=304, headers=headers)
        byte_range = None
        if_range = request.headers.get("if-range")
        if if_range is None or if_range.strip() == etag:
            byte_range = parse_range(request.headers.get("range"), size)
        start, end = byte_range or (0, size)
        headers["Content-Length"] = str(end - start)
        status = 200
        if byte_range is not None:
            status = 206
            headers["Content-Range"] = f"bytes {start}-{end - 1}/{size}"
        if request.method == "HEAD":
            return Response(status_code=status, headers=headers, media_type=media_type)
        return StreamingResponse(
            _stream(self.store, key, start, end),
            status_code=status,
            headers=headers,
            media_type=media_type,
        )


async def _stream(store: BlobStore, key: str, start: int, end: int) -> AsyncIterator[bytes]:
    async for chunk in store.get(key, start=start, end=end):
        yield chunk


def _etag(key: str) -> str:
    return f'"{key}"'


def _content_length(request: Request) -> int | None:
    value = request.headers.get("content-length")
    if value is None:
        return None
    if not value.isdigit():
        raise BlobError("Content-Length is not a number")
    return int(value)
