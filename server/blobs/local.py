"""Blob bytes on the local disk, under ``root/ab/cd/<key>``, written atomically.

A write goes to a temporary file in the final directory, is fsynced, renamed over the final
name and the directory fsynced, so a crash leaves either the whole object or none of it (and
perhaps a ``.tmp-*`` file, which ``remove_stale_temp_files`` clears).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterable
from datetime import UTC, datetime
from pathlib import Path

import anyio.to_thread

from server.blobs.store import KEY_RE, BlobMissing, BlobStat, StoredObject, check_key

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
            # Content-addressed: the same key always holds the same bytes. The write time is
            # moved all the same, so that the orphan sweep sees these bytes as fresh while
            # the row that will own them is being committed.
            try:
                os.utime(final)
                return
            except FileNotFoundError:
                pass  # deleted meanwhile: write it again
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
        return BlobStat(size=st.st_size, modified_at=_utc(st.st_mtime))

    async def list_objects(self) -> AsyncIterator[StoredObject]:
        for leaf in await anyio.to_thread.run_sync(self._leaves):
            for obj in await anyio.to_thread.run_sync(self._list_leaf, leaf):
                yield obj

    def _leaves(self) -> list[Path]:
        """The ``ab/cd`` directories, which is where objects live."""
        out: list[Path] = []
        for top in _subdirs(self.root):
            out.extend(_subdirs(top))
        return out

    @staticmethod
    def _list_leaf(leaf: Path) -> list[StoredObject]:
        found: list[StoredObject] = []
        try:
            entries = list(os.scandir(leaf))
        except FileNotFoundError:
            return found
        for entry in entries:
            if not KEY_RE.fullmatch(entry.name):
                continue
            try:
                st = entry.stat(follow_symlinks=False)
            except FileNotFoundError:
                continue  # deleted while we looked
            found.append(StoredObject(entry.name, st.st_size, _utc(st.st_mtime)))
        return found

    async def remove_stale_temp_files(self, before: datetime) -> int:
        """Remove the ``.tmp-*`` files of writes killed half way, last written before
        ``before``; returns how many. A live write's temp file is younger than any sane
        ``before``."""

        def sweep() -> int:
            limit = before.timestamp()
            return sum(remove_older_than(leaf.glob(".tmp-*"), limit) for leaf in self._leaves())

        return await anyio.to_thread.run_sync(sweep)

    async def exists(self, key: str) -> bool:
        return await self.stat(key) is not None

    async def delete(self, key: str) -> None:
        path = self.path(key)
        await anyio.to_thread.run_sync(lambda: path.unlink(missing_ok=True))

    async def aclose(self) -> None:
        pass


def _utc(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp, UTC)


def _subdirs(path: Path) -> list[Path]:
    """The two-hex-digit directories under ``path`` (the fan-out levels)."""
    try:
        entries = list(os.scandir(path))
    except FileNotFoundError:
        return []
    return [
        Path(e.path)
        for e in entries
        if len(e.name) == 2 and all(c in "0123456789abcdef" for c in e.name) and e.is_dir()
    ]


def remove_older_than(paths: Iterable[Path], limit: float) -> int:
    """Unlink the files last written before `limit` (a POSIX time); returns how many. A file
    gone meanwhile is no error. Blocking: run it in a worker thread."""
    removed = 0
    for path in paths:
        try:
            if path.stat().st_mtime < limit:
                path.unlink()
                removed += 1
        except FileNotFoundError:
            pass
    return removed
