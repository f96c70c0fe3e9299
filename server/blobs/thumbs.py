"""Thumbnails for the back office: made once per blob and size, then kept in the store.

A thumbnail lives in the store under a derived key (``<sha256>.thumb-<size>``), so it is
shared by every server instance and collected with its blob.
"""

from __future__ import annotations

import uuid
import weakref
from pathlib import Path

import anyio
import anyio.to_thread

from server.blobs import media
from server.blobs.store import BlobStore, thumb_key

THUMB_SIZES = (128, 256, 512, 1024)
THUMB_TYPES = frozenset({"image/jpeg", "image/png", "image/webp", "image/heic"})


class Thumbnails:
    def __init__(self, *, store: BlobStore, work_dir: Path) -> None:
        self.store = store
        self.work_dir = work_dir
        self._locks: weakref.WeakValueDictionary[str, anyio.Lock] = weakref.WeakValueDictionary()

    async def ensure(self, sha256: str, size: int) -> str:
        """The store key of the thumbnail, making it first if need be."""
        key = thumb_key(sha256, size)
        if await self.store.exists(key):
            return key
        lock = self._locks.get(key)
        if lock is None:
            lock = self._locks[key] = anyio.Lock()
        async with lock:  # one maker per key in this process; others wait for its result
            if not await self.store.exists(key):
                await self._make(sha256, size, key)
        return key

    async def _make(self, sha256: str, size: int, key: str) -> None:
        await anyio.Path(self.work_dir).mkdir(parents=True, exist_ok=True)
        stem = uuid.uuid4().hex
        original = self.work_dir / f"thumb-{stem}.src.tmp"
        thumb = self.work_dir / f"thumb-{stem}.jpg.tmp"
        try:
            async with await anyio.open_file(original, "wb") as out:
                async for chunk in self.store.get(sha256):
                    await out.write(chunk)
            await media.make_thumbnail_async(original, thumb, size)
            await self.store.put(key, thumb, media_type="image/jpeg")
        finally:
            await anyio.Path(original).unlink(missing_ok=True)
            await anyio.Path(thumb).unlink(missing_ok=True)
