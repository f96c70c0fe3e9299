"""Resumable uploads: the tus 1.0 core protocol with the creation and termination extensions.

The offset that counts is the one in ``blob_uploads``: bytes reach the part file first, are
fsynced, and only then is the offset moved past them (every ``checkpoint_bytes`` and at the
end of each PATCH, or when the client drops). A server killed at any moment resumes at the
stored offset; a tail beyond it is cut off by the next PATCH. The offset reaches the full
length only once the blob is stored, so an upload is never "complete" without its blob.
"""

from __future__ import annotations

import base64
import binascii
import logging
import os
import re
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, BinaryIO

import anyio
import anyio.to_thread
from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from server.blobs import media
from server.blobs.errors import (
    BadId,
    BlobError,
    HashMismatch,
    NotFound,
    OffsetMismatch,
    PreconditionFailed,
    TooLarge,
    TooManyUploads,
    UnsupportedMediaType,
    UploadLocked,
    guarded,
)
from server.blobs.ingest import BlobUser, Ingest, hash_file
from server.blobs.store import check_sha
from server.blobs.tables import blob_uploads, utcnow

log = logging.getLogger("waiqin.blobs.uploads")

TUS_VERSION = "1.0.0"
TUS_HEADERS = {"Tus-Resumable": TUS_VERSION}
OFFSET_STREAM = "application/offset+octet-stream"
UPLOAD_ID_RE = re.compile(r"[0-9a-f]{32}")
WRITE_BUFFER = 1024 * 1024


def check_upload_id(value: str) -> str:
    if not UPLOAD_ID_RE.fullmatch(value):
        raise BadId("an upload id is 32 lowercase hex digits")
    return value


def parse_metadata(header: str | None) -> dict[str, str]:
    """tus Upload-Metadata: comma-separated ``key base64(value)`` pairs."""
    pairs: dict[str, str] = {}
    for item in (header or "").split(","):
        item = item.strip()
        if not item:
            continue
        key, _, encoded = item.partition(" ")
        try:
            pairs[key] = base64.b64decode(encoded.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            raise BlobError(f"Upload-Metadata {key!r} is not base64 of UTF-8") from None
    return pairs


def _header_int(request: Request, name: str) -> int:
    value = request.headers.get(name)
    if value is None or not value.isdigit():
        raise BlobError(f"{name} must be a non-negative integer")
    return int(value)


def _check_version(request: Request) -> None:
    version = request.headers.get("tus-resumable")
    if version is not None and version != TUS_VERSION:
        raise PreconditionFailed(
            f"only tus {TUS_VERSION} is spoken here", headers={"Tus-Version": TUS_VERSION}
        )


class ResumableUploads:
    def __init__(
        self,
        *,
        ingest: Ingest,
        engine: AsyncEngine,
        authenticate: Callable[[Request], Awaitable[BlobUser]],
        chunk_dir: Path,
        max_size: int,
        max_open_uploads: int,
        checkpoint_bytes: int,
    ) -> None:
        self.ingest = ingest
        self.engine = engine
        self.authenticate = authenticate
        self.chunk_dir = chunk_dir
        self.max_size = max_size
        self.max_open_uploads = max_open_uploads
        self.checkpoint_bytes = checkpoint_bytes
        self._busy: set[str] = set()  # uploads a PATCH is writing, in this process

    def routes(self) -> list[Route]:
        def tus(endpoint: Callable[[Request], Awaitable[Response]]) -> Any:
            return guarded(endpoint, headers=TUS_HEADERS)

        return [
            Route("/api/uploads", tus(self.options), methods=["OPTIONS"], name="uploads_options"),
            Route("/api/uploads", tus(self.create), methods=["POST"], name="uploads"),
            Route(
                "/api/uploads/{upload_id:upload_id}",
                tus(self.head),
                methods=["HEAD", "GET"],
                name="upload",
            ),
            Route(
                "/api/uploads/{upload_id:upload_id}",
                tus(self.patch),
                methods=["PATCH"],
                name="upload_patch",
            ),
            Route(
                "/api/uploads/{upload_id:upload_id}",
                tus(self.terminate),
                methods=["DELETE"],
                name="upload_delete",
            ),
        ]

    def part_path(self, upload_id: str) -> Path:
        return self.chunk_dir / f"{check_upload_id(upload_id)}.part"

    async def options(self, request: Request) -> Response:
        return Response(
            status_code=204,
            headers={
                **TUS_HEADERS,
                "Tus-Version": TUS_VERSION,
                "Tus-Extension": "creation,termination",
                "Tus-Max-Size": str(self.max_size),
            },
        )

    async def create(self, request: Request) -> Response:
        """Start an upload, or answer at once (200, offset = length) if the blob is stored."""
        user = await self.authenticate(request)
        _check_version(request)
        if "upload-defer-length" in request.headers:
            raise BlobError("Upload-Defer-Length is not supported: send Upload-Length")
        length = _header_int(request, "upload-length")
        if length > self.max_size:
            raise TooLarge(f"{length} bytes is over the limit of {self.max_size}")
        if length == 0:
            raise BlobError("an empty file is not a photo")
        meta = parse_metadata(request.headers.get("upload-metadata"))
        sha256 = check_sha(meta.get("sha256", ""))
        media_type = media.normalise_type(meta.get("type") or meta.get("filetype"))

        known = await self.ingest.known(user, sha256, media_type, length)
        if known is not None:
            location = request.url_for("blob", sha256=sha256).path
            return JSONResponse(
                {**known.as_json(), "stored": False},
                status_code=200,
                headers={**TUS_HEADERS, "Upload-Offset": str(length), "Location": location},
            )

        upload_id = uuid.uuid4().hex
        now = utcnow()
        # Counted outside the write: on SQLite a read that then writes can deadlock another
        # writer ("database is locked"). A race may let a user go a few over; that is fine.
        async with self.engine.connect() as conn:
            open_count = await conn.scalar(
                select(func.count())
                .select_from(blob_uploads)
                .where(blob_uploads.c.owner == user.user_id, blob_uploads.c.completed_at.is_(None))
            )
        if (open_count or 0) >= self.max_open_uploads:
            raise TooManyUploads(f"{open_count} uploads are open; finish or delete some")
        async with self.engine.begin() as conn:
            await conn.execute(
                insert(blob_uploads).values(
                    id=upload_id,
                    owner=user.user_id,
                    sha256=sha256,
                    media_type=media_type,
                    length=length,
                    offset=0,
                    created_at=now,
                    updated_at=now,
                    completed_at=None,
                )
            )
        await anyio.Path(self.part_path(upload_id)).touch()
        location = request.url_for("upload", upload_id=upload_id).path
        return Response(
            status_code=201, headers={**TUS_HEADERS, "Location": location, "Upload-Offset": "0"}
        )

    async def _row(self, request: Request, user: BlobUser) -> Row[Any]:
        upload_id = check_upload_id(request.path_params["upload_id"])
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(
                    select(blob_uploads).where(
                        blob_uploads.c.id == upload_id, blob_uploads.c.owner == user.user_id
                    )
                )
            ).first()
        if row is None:
            raise NotFound("no such upload")  # also for someone else's
        return row

    async def head(self, request: Request) -> Response:
        user = await self.authenticate(request)
        _check_version(request)
        row = await self._row(request, user)
        return Response(
            status_code=200,
            headers={
                **TUS_HEADERS,
                "Upload-Offset": str(row.offset),
                "Upload-Length": str(row.length),
                "Cache-Control": "no-store",
            },
        )

    async def terminate(self, request: Request) -> Response:
        user = await self.authenticate(request)
        _check_version(request)
        row = await self._row(request, user)
        if row.id in self._busy:
            raise UploadLocked("a PATCH is writing this upload")
        async with self.engine.begin() as conn:
            await conn.execute(delete(blob_uploads).where(blob_uploads.c.id == row.id))
        await anyio.Path(self.part_path(row.id)).unlink(missing_ok=True)
        return Response(status_code=204, headers=TUS_HEADERS)

    async def patch(self, request: Request) -> Response:
        user = await self.authenticate(request)
        _check_version(request)
        check_upload_id(request.path_params["upload_id"])
        content_type = (request.headers.get("content-type") or "").split(";")[0].strip()
        if content_type != OFFSET_STREAM:
            raise UnsupportedMediaType(f"PATCH bodies are {OFFSET_STREAM}")
        offset = _header_int(request, "upload-offset")
        row = await self._row(request, user)
        if row.id in self._busy:
            raise UploadLocked("another PATCH is writing this upload; HEAD, then resume")
        self._busy.add(row.id)
        try:
            return await self._append(request, user, row, offset)
        finally:
            self._busy.discard(row.id)

    async def _append(
        self, request: Request, user: BlobUser, row: Row[Any], offset: int
    ) -> Response:
        stored = row.offset
        if row.completed_at is not None or offset != stored:
            raise OffsetMismatch(
                f"the upload is at {stored}, not {offset}", headers={"Upload-Offset": str(stored)}
            )
        length = _content_length(request)
        if length is not None and offset + length > row.length:
            raise TooLarge(f"{offset + length} bytes is past the declared {row.length}")
        path = self.part_path(row.id)
        if stored > 0 and not await anyio.Path(path).exists():
            # The partial bytes are gone (chunk_dir wiped): start again from zero.
            await self._checkpoint(row.id, stored, 0)
            raise OffsetMismatch("the partial upload was lost", headers={"Upload-Offset": "0"})

        f: BinaryIO = await anyio.to_thread.run_sync(_open_at, path, stored)
        position = stored  # bytes in the file
        durable = stored  # bytes the table vouches for
        buffer = bytearray()
        disconnected = False
        try:
            try:
                async for chunk in request.stream():
                    if position + len(buffer) + len(chunk) > row.length:
                        raise TooLarge(f"the body runs past the declared {row.length} bytes")
                    buffer += chunk
                    if len(buffer) >= WRITE_BUFFER:
                        position += await _write(f, buffer)
                    if position - durable >= self.checkpoint_bytes and position < row.length:
                        await anyio.to_thread.run_sync(_sync, f)
                        durable = await self._checkpoint(row.id, durable, position)
            except ClientDisconnect:
                disconnected = True
            position += await _write(f, buffer)
            await anyio.to_thread.run_sync(_sync, f)
        finally:
            await anyio.to_thread.run_sync(f.close)

        if position < row.length:
            durable = await self._checkpoint(row.id, durable, position)
            if disconnected:
                log.info("upload %s interrupted at %d of %d", row.id, durable, row.length)
            return Response(status_code=204, headers={**TUS_HEADERS, "Upload-Offset": str(durable)})
        info = await self._complete(user, row, path)
        return Response(
            status_code=204,
            headers={
                **TUS_HEADERS,
                "Upload-Offset": str(row.length),
                "Location": request.url_for("blob", sha256=info).path,
            },
        )

    async def _checkpoint(self, upload_id: str, old: int, new: int) -> int:
        """Move the stored offset, if nobody else moved it meanwhile."""
        if new == old:
            return old
        async with self.engine.begin() as conn:
            result = await conn.execute(
                update(blob_uploads)
                .where(blob_uploads.c.id == upload_id, blob_uploads.c.offset == old)
                .values(offset=new, updated_at=utcnow())
            )
        if result.rowcount != 1:
            raise OffsetMismatch("the upload moved under this PATCH; HEAD, then resume")
        return new

    async def _complete(self, user: BlobUser, row: Row[Any], path: Path) -> str:
        """All bytes are in: check them, store the blob, and close the upload. A failed check
        ends the upload, since resending the same bytes cannot pass it."""
        try:
            digest = await anyio.to_thread.run_sync(hash_file, path)
            if digest != row.sha256:
                raise HashMismatch(f"the bytes hash to {digest}, not {row.sha256}")
            await self.ingest.finish(user, row.sha256, row.media_type, path)
        except BlobError:
            async with self.engine.begin() as conn:
                await conn.execute(delete(blob_uploads).where(blob_uploads.c.id == row.id))
            await anyio.Path(path).unlink(missing_ok=True)
            raise
        now = utcnow()
        async with self.engine.begin() as conn:
            await conn.execute(
                update(blob_uploads)
                .where(blob_uploads.c.id == row.id)
                .values(offset=row.length, updated_at=now, completed_at=now)
            )
        await anyio.Path(path).unlink(missing_ok=True)
        return str(row.sha256)


def _open_at(path: Path, offset: int) -> BinaryIO:
    """The part file opened for writing at ``offset``, anything past it (bytes written but
    never vouched for by a checkpoint) cut off."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    f = os.fdopen(fd, "r+b")
    f.truncate(offset)
    f.seek(offset)
    return f


async def _write(f: BinaryIO, buffer: bytearray) -> int:
    if not buffer:
        return 0
    data = bytes(buffer)
    buffer.clear()
    await anyio.to_thread.run_sync(f.write, data)
    return len(data)


def _sync(f: BinaryIO) -> None:
    f.flush()
    os.fsync(f.fileno())


def _content_length(request: Request) -> int | None:
    value = request.headers.get("content-length")
    return int(value) if value is not None and value.isdigit() else None
