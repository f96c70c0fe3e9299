"""Turning verified bytes into a stored blob, shared by the one-shot PUT and resumable uploads.

The order is what keeps "nothing partial is ever visible": check the hash, decode the bytes
as the declared type, write them whole into the store, and only then insert the ``blobs``
row that makes the blob exist; then check the bytes are still there (the collector may have
swept them as orphans in between) and write them again if not. Two uploads of the same
bytes both succeed: the store write is idempotent and the second row insert is a no-op.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

import anyio
import anyio.to_thread
from sqlalchemy import Insert, Table, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from server.blobs import media
from server.blobs.errors import MediaTypeMismatch
from server.blobs.store import BlobStore
from server.blobs.tables import as_utc, blob_uploaders, blobs, utcnow

log = logging.getLogger("waiqin.blobs")

HASH_CHUNK = 1024 * 1024


class BlobUser(Protocol):
    """The authenticated caller, as far as blobs care."""

    @property
    def user_id(self) -> str: ...


CanRead = Callable[[str, str], Awaitable[bool]]


@dataclass(frozen=True)
class BlobInfo:
    sha256: str
    media_type: str
    size: int
    width: int | None
    height: int | None
    referenced: bool

    def as_json(self) -> dict[str, Any]:
        return {
            "sha256": self.sha256,
            "media_type": self.media_type,
            "size": self.size,
            "width": self.width,
            "height": self.height,
        }


def hash_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def insert_ignoring_duplicates(conn: AsyncConnection, table: Table) -> Insert:
    """An INSERT that does nothing when the primary key exists, on SQLite and PostgreSQL."""
    dialect = conn.dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(table).on_conflict_do_nothing()
    if dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        return sqlite_insert(table).on_conflict_do_nothing()
    raise NotImplementedError(f"blobs support SQLite and PostgreSQL, not {dialect}")


class Ingest:
    def __init__(self, *, store: BlobStore, engine: AsyncEngine, can_read: CanRead) -> None:
        self.store = store
        self.engine = engine
        self.can_read = can_read

    async def lookup(self, sha256: str) -> tuple[BlobInfo, datetime | None] | None:
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(blobs).where(blobs.c.sha256 == sha256))).first()
        if row is None:
            return None
        info = BlobInfo(
            row.sha256,
            row.media_type,
            row.size,
            row.width,
            row.height,
            referenced=row.referenced_at is not None,
        )
        return info, (as_utc(row.referenced_at) if row.referenced_at else None)

    async def is_uploader(self, user_id: str, sha256: str) -> bool:
        async with self.engine.connect() as conn:
            query = select(blob_uploaders.c.user_id).where(
                blob_uploaders.c.sha256 == sha256, blob_uploaders.c.user_id == user_id
            )
            return (await conn.execute(query)).first() is not None

    async def may_read(self, user: BlobUser, info: BlobInfo) -> bool:
        """A record the user can see refers to it; or nobody refers to it and they sent it."""
        if not info.referenced and await self.is_uploader(user.user_id, info.sha256):
            return True
        return await self.can_read(user.user_id, info.sha256)

    async def known(
        self, user: BlobUser, sha256: str, media_type: str, size: int | None
    ) -> BlobInfo | None:
        """The stored blob when the caller may skip sending its bytes, else None.

        Only someone who already sent these bytes or may read the blob skips: answering
        "stored" to anyone who names a hash would let a hash stand in for the photo."""
        found = await self.lookup(sha256)
        if found is None:
            return None
        info = found[0]
        if size is not None and size != info.size:
            return None  # the upload will fail its hash check, with the right error
        if not await self.may_read(user, info):
            return None
        if media_type != info.media_type:
            raise MediaTypeMismatch(f"declared {media_type} but the bytes are {info.media_type}")
        await self._record_upload(user.user_id, sha256)
        return info

    async def finish(
        self, user: BlobUser, sha256: str, media_type: str, path: Path
    ) -> tuple[BlobInfo, bool]:
        """Store the file at ``path``, whose hash the caller has checked. Returns the blob and
        whether this call stored it (False: the bytes were there already)."""
        found = await self.lookup(sha256)
        if found is not None:
            info = found[0]
            if info.media_type != media_type:
                raise MediaTypeMismatch(
                    f"declared {media_type} but the bytes are {info.media_type}"
                )
            await self._record_upload(user.user_id, sha256)
            return info, False
        checked = await media.verify_async(path, media_type)
        size = (await anyio.Path(path).stat()).st_size
        await self.store.put(sha256, path, media_type=media_type)
        now = utcnow()
        async with self.engine.begin() as conn:
            result = await conn.execute(
                insert_ignoring_duplicates(conn, blobs).values(
                    sha256=sha256,
                    media_type=media_type,
                    size=size,
                    width=checked.width,
                    height=checked.height,
                    uploaded_by=user.user_id,
                    uploaded_at=now,
                    touched_at=now,
                    referenced_at=None,
                )
            )
            created = result.rowcount == 1
            await self._add_uploader(conn, user.user_id, sha256, now)
        if not await self.store.exists(sha256):
            # The collector deleted these bytes between our write and our row (it had seen
            # no row, and held off our insert until it was done): write them again.
            log.warning("bytes of %s were collected while being stored; writing them again",
                        sha256)
            await self.store.put(sha256, path, media_type=media_type)
        log.info("stored blob %s (%s, %d bytes) from %s", sha256, media_type, size, user.user_id)
        info = BlobInfo(sha256, media_type, size, checked.width, checked.height, False)
        return info, created

    async def _record_upload(self, user_id: str, sha256: str) -> None:
        now = utcnow()
        async with self.engine.begin() as conn:
            # A fresh upload restarts the grace period: its record may be on its way.
            await conn.execute(update(blobs).where(blobs.c.sha256 == sha256).values(touched_at=now))
            await self._add_uploader(conn, user_id, sha256, now)

    @staticmethod
    async def _add_uploader(
        conn: AsyncConnection, user_id: str, sha256: str, now: datetime
    ) -> None:
        await conn.execute(
            insert_ignoring_duplicates(conn, blob_uploaders).values(
                sha256=sha256, user_id=user_id, uploaded_at=now
            )
        )
