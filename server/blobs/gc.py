"""Garbage collection: blobs no record refers to, and uploads abandoned half way.

A blob is collected once it has been unreferenced for ``grace`` (default 7 days) since its
last upload or release; its row goes first, then its bytes and thumbnails, so a crash in
between leaves unreachable bytes, never a row without bytes. Run ``collect_garbage`` from a
scheduler, or keep a ``GarbageCollector`` running inside the app's lifespan.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from types import TracebackType

import anyio
import anyio.abc
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncEngine

from server.blobs.store import BlobStore, thumb_key
from server.blobs.tables import blob_uploaders, blob_uploads, blobs, utcnow
from server.blobs.thumbs import THUMB_SIZES

log = logging.getLogger("waiqin.blobs.gc")

DEFAULT_GRACE = timedelta(days=7)
DEFAULT_UPLOAD_TTL = timedelta(days=7)
TEMP_TTL = timedelta(hours=1)


@dataclass(frozen=True)
class GcReport:
    blobs_deleted: int
    bytes_freed: int
    uploads_expired: int
    temp_files_removed: int


async def collect_garbage(
    *,
    engine: AsyncEngine,
    store: BlobStore,
    chunk_dir: Path | str,
    grace: timedelta = DEFAULT_GRACE,
    upload_ttl: timedelta = DEFAULT_UPLOAD_TTL,
    now: datetime | None = None,
    batch: int = 500,
) -> GcReport:
    now = now or utcnow()
    chunk_dir = Path(chunk_dir)
    cutoff = now - grace
    deleted = freed = 0
    while True:
        async with engine.connect() as conn:
            candidates = (
                await conn.execute(
                    select(blobs.c.sha256, blobs.c.size)
                    .where(blobs.c.referenced_at.is_(None), blobs.c.touched_at < cutoff)
                    .limit(batch)
                )
            ).all()
        if not candidates:
            break
        for sha256, size in candidates:
            async with engine.begin() as conn:
                # Re-checked in the delete: a record may have referred to it meanwhile.
                result = await conn.execute(
                    delete(blobs).where(
                        blobs.c.sha256 == sha256,
                        blobs.c.referenced_at.is_(None),
                        blobs.c.touched_at < cutoff,
                    )
                )
                if result.rowcount != 1:
                    continue
                await conn.execute(delete(blob_uploaders).where(blob_uploaders.c.sha256 == sha256))
            await store.delete(sha256)
            for size_px in THUMB_SIZES:
                await store.delete(thumb_key(sha256, size_px))
            deleted += 1
            freed += size
            log.info("collected unreferenced blob %s (%d bytes)", sha256, size)
        if len(candidates) < batch:
            break

    upload_cutoff = now - upload_ttl
    async with engine.connect() as conn:
        stale = (
            (
                await conn.execute(
                    select(blob_uploads.c.id).where(blob_uploads.c.updated_at < upload_cutoff)
                )
            )
            .scalars()
            .all()
        )
    if stale:
        async with engine.begin() as conn:
            await conn.execute(
                delete(blob_uploads).where(
                    blob_uploads.c.id.in_(stale), blob_uploads.c.updated_at < upload_cutoff
                )
            )
    for upload_id in stale:
        await anyio.Path(chunk_dir / f"{upload_id}.part").unlink(missing_ok=True)
    temps = await anyio.to_thread.run_sync(_sweep_temp_files, chunk_dir, TEMP_TTL)
    return GcReport(deleted, freed, len(stale), temps)


def _sweep_temp_files(chunk_dir: Path, ttl: timedelta) -> int:
    """Temp files of requests that died with their server (a PUT body, a thumbnail)."""
    limit = time.time() - ttl.total_seconds()
    removed = 0
    for path in chunk_dir.glob("*.tmp"):
        try:
            if path.stat().st_mtime < limit:
                path.unlink()
                removed += 1
        except FileNotFoundError:
            pass
    return removed


class GarbageCollector:
    """Runs ``collect_garbage`` every ``interval`` while entered (``async with``)."""

    def __init__(
        self,
        *,
        engine: AsyncEngine,
        store: BlobStore,
        chunk_dir: Path | str,
        grace: timedelta = DEFAULT_GRACE,
        upload_ttl: timedelta = DEFAULT_UPLOAD_TTL,
        interval: timedelta = timedelta(hours=1),
    ) -> None:
        self.engine = engine
        self.store = store
        self.chunk_dir = chunk_dir
        self.grace = grace
        self.upload_ttl = upload_ttl
        self.interval = interval
        self._tg: anyio.abc.TaskGroup | None = None

    async def __aenter__(self) -> GarbageCollector:
        self._tg = anyio.create_task_group()
        await self._tg.__aenter__()
        self._tg.start_soon(self._run)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._tg is not None
        self._tg.cancel_scope.cancel()
        await self._tg.__aexit__(exc_type, exc, tb)
        self._tg = None

    async def _run(self) -> None:
        while True:
            try:
                report = await collect_garbage(
                    engine=self.engine,
                    store=self.store,
                    chunk_dir=self.chunk_dir,
                    grace=self.grace,
                    upload_ttl=self.upload_ttl,
                )
                log.info("blob collection: %s", report)
            except Exception:
                log.exception("blob collection failed; trying again in %s", self.interval)
            await anyio.sleep(self.interval.total_seconds())


__all__ = ["GarbageCollector", "GcReport", "collect_garbage"]
