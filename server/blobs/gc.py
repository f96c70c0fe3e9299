"""Garbage collection: blobs no record refers to, uploads abandoned half way, and bytes in
the store that no blob row owns.

A blob is collected once it has been unreferenced for ``grace`` (default 7 days) since its
last upload or release; its row goes first, then its bytes and thumbnails, so a crash in
between leaves unreachable bytes, never a row without bytes. Such bytes, and bytes stored
by an upload whose row never committed, are found by listing the store (``sweep_orphans``)
and deleted once they are older than the grace. Run ``collect_garbage`` from a scheduler,
or keep a ``GarbageCollector`` running inside the app's lifespan.

Bytes are only ever deleted inside a transaction that holds off inserts into ``blobs``
(``_hold_off_inserts``) and has just seen that their blob has no row. An upload that stored
the same bytes meanwhile commits its row after that transaction and then finds its bytes
gone, and writes them again (``Ingest.finish``): a row never ends up without its bytes.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from types import TracebackType

import anyio
import anyio.abc
from sqlalchemy import delete, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from server.blobs.local import LocalDiskStore, remove_older_than
from server.blobs.store import BlobStore, StoredObject, sha_of_key, thumb_key
from server.blobs.tables import blob_uploaders, blob_uploads, blobs, utcnow
from server.blobs.thumbs import THUMB_SIZES

log = logging.getLogger("waiqin.blobs.gc")

DEFAULT_GRACE = timedelta(days=7)
DEFAULT_UPLOAD_TTL = timedelta(days=7)
DEFAULT_ORPHAN_INTERVAL = timedelta(days=1)
TEMP_TTL = timedelta(hours=1)
# Objects deleted per transaction that holds off blob inserts: on SQLite that transaction
# holds the database's one write lock, so it is kept short.
LOCKED_BATCH = 20

NamedBlobs = Callable[[set[str]], Awaitable[set[str]]]
"""Of the given hashes, those that some record still names. Bytes a record names are never
swept even without a row (after a database restored to an earlier time than the store, say):
an operator can bring the row back; nobody can bring the photo back."""


@dataclass(frozen=True)
class GcReport:
    blobs_deleted: int
    bytes_freed: int
    uploads_expired: int
    temp_files_removed: int
    orphans_deleted: int = 0
    orphan_bytes_freed: int = 0


@dataclass(frozen=True)
class OrphanReport:
    objects_listed: int
    deleted: int
    bytes_freed: int
    kept_named: int  # bytes with no row that a record names: kept, and logged
    temp_files_removed: int  # local store only: writes killed half way


async def _hold_off_inserts(conn: AsyncConnection, shas: Sequence[str]) -> None:
    """Until ``conn``'s transaction ends, no other transaction inserts into ``blobs``."""
    if conn.dialect.name == "postgresql":
        # Conflicts with the ROW EXCLUSIVE lock every INSERT takes; reads go on.
        await conn.execute(text(f"LOCK TABLE {blobs.name} IN SHARE ROW EXCLUSIVE MODE"))
    else:
        # SQLite has one write lock for the whole database; any write statement takes it,
        # even one that matches no row. This one changes nothing.
        await conn.execute(
            update(blobs).where(blobs.c.sha256.in_(shas)).values(sha256=blobs.c.sha256)
        )


async def _delete_rowless(
    engine: AsyncEngine,
    store: BlobStore,
    keys: Sequence[str],
    *,
    written_before: datetime | None,
) -> tuple[int, int]:
    """Delete the objects under ``keys`` whose blob has no row (and, with
    ``written_before``, that were last written before it). Returns (objects, bytes)."""
    deleted = freed = 0
    for i in range(0, len(keys), LOCKED_BATCH):
        part = keys[i : i + LOCKED_BATCH]
        shas = sorted({sha_of_key(k) for k in part})
        async with engine.begin() as conn:
            await _hold_off_inserts(conn, shas)
            owned = {
                r[0]
                for r in await conn.execute(select(blobs.c.sha256).where(blobs.c.sha256.in_(shas)))
            }
            for key in part:
                if sha_of_key(key) in owned:
                    continue
                stat = await store.stat(key)
                if stat is None:
                    continue
                fresh = stat.modified_at is not None and written_before is not None and (
                    stat.modified_at >= written_before
                )
                if fresh:
                    continue  # written again since it was listed: an upload is under way
                await store.delete(key)
                log.info("deleted %s (%d bytes): its blob has no row", key, stat.size)
                deleted += 1
                freed += stat.size
    return deleted, freed


async def sweep_orphans(
    *,
    engine: AsyncEngine,
    store: BlobStore,
    grace: timedelta = DEFAULT_GRACE,
    named: NamedBlobs | None = None,
    now: datetime | None = None,
    batch: int = 500,
) -> OrphanReport:
    """List the store and delete the objects (blobs and thumbnails) whose blob has no row
    and that nobody has written for ``grace``. Objects with a row are never touched, nor
    ones a record names (``named``), nor anything in the store that is not a blob key."""
    now = now or utcnow()
    cutoff = now - grace
    listed = deleted = freed = kept = 0
    old: list[StoredObject] = []

    async def settle(objs: list[StoredObject]) -> None:
        nonlocal deleted, freed, kept
        shas = sorted({sha_of_key(o.key) for o in objs})
        async with engine.connect() as conn:
            owned = {
                r[0]
                for r in await conn.execute(select(blobs.c.sha256).where(blobs.c.sha256.in_(shas)))
            }
        rowless = [o for o in objs if sha_of_key(o.key) not in owned]
        if not rowless:
            return
        if named is not None:
            still_named = await named({sha_of_key(o.key) for o in rowless})
            for o in rowless:
                if sha_of_key(o.key) in still_named:
                    kept += 1
                    log.warning("bytes %s have no blob row but a record names them: kept", o.key)
            rowless = [o for o in rowless if sha_of_key(o.key) not in still_named]
        n, size = await _delete_rowless(
            engine, store, [o.key for o in rowless], written_before=cutoff
        )
        deleted += n
        freed += size

    async for obj in store.list_objects():
        listed += 1
        if obj.modified_at < cutoff:
            old.append(obj)
        if len(old) >= batch:
            await settle(old)
            old = []
    if old:
        await settle(old)
    temps = 0
    if isinstance(store, LocalDiskStore):
        temps = await store.remove_stale_temp_files(before=cutoff)
    return OrphanReport(listed, deleted, freed, kept, temps)


async def collect_garbage(
    *,
    engine: AsyncEngine,
    store: BlobStore,
    chunk_dir: Path | str,
    grace: timedelta = DEFAULT_GRACE,
    upload_ttl: timedelta = DEFAULT_UPLOAD_TTL,
    now: datetime | None = None,
    batch: int = 500,
    orphans: bool = True,
    named: NamedBlobs | None = None,
) -> GcReport:
    """One collection. With ``orphans``, the store is listed too (``sweep_orphans``): that
    costs one LIST request per 1,000 objects on S3, so a scheduler may do it less often."""
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
        gone: list[str] = []
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
            gone.append(sha256)
            deleted += 1
            freed += size
            log.info("collected unreferenced blob %s (%d bytes)", sha256, size)
        # The bytes go only if no upload of the same bytes has made a new row meanwhile.
        keys = [k for sha256 in gone
                for k in (sha256, *(thumb_key(sha256, px) for px in THUMB_SIZES))]
        await _delete_rowless(engine, store, keys, written_before=None)
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
    swept = OrphanReport(0, 0, 0, 0, 0)
    if orphans:
        swept = await sweep_orphans(engine=engine, store=store, grace=grace, named=named,
                                    now=now)
    return GcReport(deleted, freed, len(stale), temps + swept.temp_files_removed,
                    swept.deleted, swept.bytes_freed)


def _sweep_temp_files(chunk_dir: Path, ttl: timedelta) -> int:
    """Temp files of requests that died with their server (a PUT body, a thumbnail)."""
    return remove_older_than(chunk_dir.glob("*.tmp"), time.time() - ttl.total_seconds())


class GarbageCollector:
    """Runs ``collect_garbage`` every ``interval`` while entered (``async with``); the
    store is listed for orphaned bytes on the first run and then every ``orphan_interval``."""

    def __init__(
        self,
        *,
        engine: AsyncEngine,
        store: BlobStore,
        chunk_dir: Path | str,
        grace: timedelta = DEFAULT_GRACE,
        upload_ttl: timedelta = DEFAULT_UPLOAD_TTL,
        interval: timedelta = timedelta(hours=1),
        orphan_interval: timedelta = DEFAULT_ORPHAN_INTERVAL,
        named: NamedBlobs | None = None,
    ) -> None:
        self.engine = engine
        self.store = store
        self.chunk_dir = chunk_dir
        self.grace = grace
        self.upload_ttl = upload_ttl
        self.interval = interval
        self.orphan_interval = orphan_interval
        self.named = named
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
        last_sweep: float | None = None
        while True:
            try:
                started = time.monotonic()
                sweep = last_sweep is None or (
                    started - last_sweep >= self.orphan_interval.total_seconds()
                )
                report = await collect_garbage(
                    engine=self.engine,
                    store=self.store,
                    chunk_dir=self.chunk_dir,
                    grace=self.grace,
                    upload_ttl=self.upload_ttl,
                    orphans=sweep,
                    named=self.named,
                )
                if sweep:
                    last_sweep = started
                # a pass that found nothing to remove is news to nobody
                level = logging.INFO if any(dataclasses.astuple(report)) else logging.DEBUG
                log.log(level, "blob collection: %s", report)
            except Exception:
                log.exception("blob collection failed; trying again in %s", self.interval)
            await anyio.sleep(self.interval.total_seconds())


__all__ = [
    "GarbageCollector",
    "GcReport",
    "NamedBlobs",
    "OrphanReport",
    "collect_garbage",
    "sweep_orphans",
]
