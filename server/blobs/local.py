"""Blob bytes on the local disk, under ``root/ab/cd/<key>``, written atomically.

A write goes to a temporary file in the final directory, is fsynced, renamed over the final
name and the directory fsynced, so a crash leaves either the whole object or none of it.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import anyio.to_thread

from server.blobs.store import BlobMissing, BlobStat, check_key

CHUNK = 256 * 1024


class LocalDiskStore:
    def __init__(self, root: Path | str = "./data/blobs") -> None:
        self.root = Path(root)

    def path(self, key: str) -> Path:
        check_key(key)
        return self.root / key[0:2] / key[2:4] / key

    async def put(self, key: str, source: Path, *, media_type: str) -> None:
        await anyio.to_thread.run_sync(self._put, self.path(key), source)

    @staticmethod
    def _put(final: Path, source: Path) -> None:
        if final.exists():
            return  # content-addressed: the same key always holds the same bytes
        final.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=final.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as out, open(source, "rb") as src:
                shutil.copyfileobj(src, out, CHUNK)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, final)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        dir_fd = os.open(final.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)

    async def get(
        self, key: str, *, start: int = 0, end: int | None = None
    ) -> AsyncIterator[bytes]:
        path = self.path(key)
        try:
            f = await anyio.to_thread.run_sync(open, path, "rb")
        except FileNotFoundError:
            raise BlobMissing(key) from None
        try:
            await anyio.to_thread.run_sync(f.seek, start)
            remaining = None if end is None else end - start
            while remaining is None or remaining > 0:
                n = CHUNK if remaining is None else min(CHUNK, remaining)
                chunk = await anyio.to_thread.run_sync(f.read, n)
                if not chunk:
                    break
                if remaining is not None:
                    remaining -= len(chunk)
                yield chunk
        finally:
            f.close()

    async def stat(self, key: str) -> BlobStat | None:
        path = self.path(key)
        try:
            st = await anyio.to_thread.run_sync(os.stat, path)
        except FileNotFoundError:
            return None
        return BlobStat(size=st.st_size)

    async def exists(self, key: str) -> bool:
        return await self.stat(key) is not None

    async def delete(self, key: str) -> None:
        path = self.path(key)
        await anyio.to_thread.run_sync(lambda: path.unlink(missing_ok=True))

    async def aclose(self) -> None:
        pass
