"""Bytes in the store that no blob row owns: swept once older than the grace period, on the
local disk and on the S3-compatible test server, with the database on SQLite and PostgreSQL.
Nothing with a row, nothing fresh, nothing a record names and nothing foreign is touched."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy import delete, insert, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from server.blobs import BlobStore, LocalDiskStore, S3Store, blob_uploaders, blobs, metadata
from server.blobs.gc import _hold_off_inserts, collect_garbage, sweep_orphans
from server.blobs.ingest import Ingest
from server.blobs.store import BlobStat, StoredObject, thumb_key
from server.blobs.tables import utcnow
from tests.blobs.conftest import jpeg, new_bucket, s3_client, sha
from tests.conftest import PG_ADMIN_URL, _pg_answers, _pg_create, _pg_drop

GRACE = timedelta(days=7)
PREFIX = "photos/"

pytestmark = pytest.mark.asyncio


def later() -> datetime:
    """A moment at which everything written by this test is past its grace period."""
    return utcnow() + GRACE + timedelta(hours=1)


@dataclass(frozen=True)
class User:
    user_id: str


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest) -> Iterator[str]:
    """"sqlite", or the URL of a PostgreSQL database made for this module."""
    if request.param == "sqlite":
        yield "sqlite"
        return
    problem = asyncio.run(_pg_answers())
    if problem is not None:
        pytest.skip(f"PostgreSQL not available: {problem}")
    name = f"waiqin_orphans_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    asyncio.run(_pg_create(name))
    yield PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    asyncio.run(_pg_drop(name))


def _url(database: str, tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'orphans.sqlite'}" if database == "sqlite" \
        else database


@pytest_asyncio.fixture
async def engine(database: str, tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    engine = create_async_engine(_url(database, tmp_path))
    async with engine.begin() as conn:
        await conn.run_sync(metadata.drop_all)
        await conn.run_sync(metadata.create_all)
    yield engine
    await engine.dispose()


@dataclass
class Store:
    store: BlobStore
    kind: str
    root: Path | None = None  # local
    endpoint: str | None = None  # s3
    bucket: str | None = None

    def put_foreign(self, name: str, data: bytes) -> None:
        """Something that shares the directory or bucket but is not a blob of ours."""
        if self.root is not None:
            path = self.root / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            os.utime(path, (0, 0))
        else:
            s3_client(str(self.endpoint)).put_object(Bucket=self.bucket, Key=name, Body=data)

    def has_foreign(self, name: str) -> bool:
        if self.root is not None:
            return (self.root / name).exists()
        found = s3_client(str(self.endpoint)).list_objects_v2(Bucket=self.bucket, Prefix=name)
        return any(o["Key"] == name for o in found.get("Contents", []))


@pytest_asyncio.fixture(params=["local", "s3"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    if request.param == "local":
        root = tmp_path / "blobs"
        yield Store(LocalDiskStore(root), "local", root=root)
        return
    endpoint = request.getfixturevalue("s3_endpoint")
    bucket = new_bucket(endpoint)
    async with S3Store(endpoint_url=endpoint, bucket=bucket, access_key="t", secret_key="t",
                       prefix=PREFIX) as s3:
        yield Store(s3, "s3", endpoint=endpoint, bucket=bucket)


async def nobody(user_id: str, sha256: str) -> bool:
    return False


async def ingest(engine: AsyncEngine, store: BlobStore, tmp_path: Path) -> str:
    """A blob stored the normal way: bytes, then its row."""
    data = jpeg(48, 48)
    path = tmp_path / f"{sha(data)}.jpg"
    path.write_bytes(data)
    await Ingest(store=store, engine=engine, can_read=nobody).finish(
        User("u"), sha(data), "image/jpeg", path
    )
    return sha(data)


async def bytes_only(store: BlobStore, tmp_path: Path, key: str | None = None) -> str:
    """Bytes in the store with no row: an upload that died before its row committed."""
    data = jpeg(48, 48)
    key = key or sha(data)
    path = tmp_path / f"{key}.bin"
    path.write_bytes(data)
    await store.put(key, path, media_type="image/jpeg")
    return key


async def keys(store: BlobStore) -> set[str]:
    return {o.key async for o in store.list_objects()}


async def test_old_bytes_without_a_row_are_swept_and_nothing_else(
    engine: AsyncEngine, store: Store, tmp_path: Path
) -> None:
    s = store.store
    owned = await ingest(engine, s, tmp_path)
    await bytes_only(s, tmp_path, thumb_key(owned, 256))  # its thumbnail
    orphan = await bytes_only(s, tmp_path)
    orphan_thumb = await bytes_only(s, tmp_path, thumb_key(orphan, 512))
    # Foreign things: a file beside the fan-out, a non-key in a leaf directory, and (S3)
    # an object named like the orphan but outside the store's prefix.
    foreign = ["README", f"{orphan[:2]}/{orphan[2:4]}/notes.txt"] if store.kind == "local" \
        else ["README", orphan, f"{PREFIX}exports/{orphan}"]
    for name in foreign:
        store.put_foreign(name, b"not a blob")
    assert await keys(s) == {owned, thumb_key(owned, 256), orphan, orphan_thumb}

    # Within the grace period nothing goes: its row may be about to commit.
    fresh = await sweep_orphans(engine=engine, store=s, grace=GRACE)
    assert (fresh.objects_listed, fresh.deleted) == (4, 0)
    assert await keys(s) == {owned, thumb_key(owned, 256), orphan, orphan_thumb}

    sizes = [await s.stat(k) for k in (orphan, orphan_thumb)]
    report = await sweep_orphans(engine=engine, store=s, grace=GRACE, now=later())
    assert (report.objects_listed, report.deleted, report.kept_named) == (4, 2, 0)
    assert report.bytes_freed == sum(st.size for st in sizes if st is not None) > 0
    assert await keys(s) == {owned, thumb_key(owned, 256)}
    assert not await s.exists(orphan) and not await s.exists(orphan_thumb)
    for name in foreign:
        assert store.has_foreign(name), name
    # The blob with a row reads back whole.
    got = b"".join([chunk async for chunk in s.get(owned)])
    assert sha(got) == owned


async def test_bytes_left_by_a_crash_between_row_and_bytes_are_collected(
    engine: AsyncEngine, store: Store, tmp_path: Path
) -> None:
    s = store.store
    kept = await ingest(engine, s, tmp_path)
    crashed = await ingest(engine, s, tmp_path)
    # What the collector leaves when the process dies after deleting the row and before
    # deleting the bytes.
    async with engine.begin() as conn:
        await conn.execute(delete(blobs).where(blobs.c.sha256 == crashed))
        await conn.execute(delete(blob_uploaders).where(blob_uploaders.c.sha256 == crashed))
    chunks = tmp_path / "uploads"
    chunks.mkdir()

    report = await collect_garbage(engine=engine, store=s, chunk_dir=chunks, grace=GRACE,
                                   now=later())
    assert report.blobs_deleted == 1  # `kept` was never referenced: collected the usual way
    assert report.orphans_deleted == 1 and report.orphan_bytes_freed > 0
    assert not await s.exists(crashed) and not await s.exists(kept)

    # Without the sweep (`orphans=False`), row-less bytes stay.
    left = await bytes_only(s, tmp_path)
    quiet = await collect_garbage(engine=engine, store=s, chunk_dir=chunks, grace=GRACE,
                                  now=later(), orphans=False)
    assert quiet.orphans_deleted == 0 and await s.exists(left)


async def test_bytes_a_record_names_are_kept_without_a_row(
    engine: AsyncEngine, store: Store, tmp_path: Path
) -> None:
    s = store.store
    named, unnamed = await bytes_only(s, tmp_path), await bytes_only(s, tmp_path)
    asked: list[set[str]] = []

    async def still_named(hashes: set[str]) -> set[str]:
        asked.append(hashes)
        return hashes & {named}

    report = await sweep_orphans(engine=engine, store=s, grace=GRACE, now=later(),
                                 named=still_named)
    assert (report.deleted, report.kept_named) == (1, 1)
    assert await s.exists(named) and not await s.exists(unnamed)
    assert asked == [{named, unnamed}]  # only row-less candidates are asked about


class SweepingStore:
    """A store whose first `put` is followed at once by an orphan sweep that sees the bytes
    as old: the worst moment, after the bytes are written and before their row commits."""

    def __init__(self, inner: BlobStore, engine: AsyncEngine) -> None:
        self.inner = inner
        self.engine = engine
        self.puts = 0
        self.swept = -1

    async def put(self, key: str, source: Path, *, media_type: str) -> None:
        await self.inner.put(key, source, media_type=media_type)
        self.puts += 1
        if self.puts == 1:
            report = await sweep_orphans(engine=self.engine, store=self.inner, grace=GRACE,
                                         now=later())
            self.swept = report.deleted

    def get(self, key: str, *, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        return self.inner.get(key, start=start, end=end)

    async def stat(self, key: str) -> BlobStat | None:
        return await self.inner.stat(key)

    def list_objects(self) -> AsyncIterator[StoredObject]:
        return self.inner.list_objects()

    async def exists(self, key: str) -> bool:
        return await self.inner.exists(key)

    async def delete(self, key: str) -> None:
        await self.inner.delete(key)

    async def aclose(self) -> None:
        pass


async def test_an_upload_whose_bytes_are_swept_before_its_row_commits_writes_them_again(
    engine: AsyncEngine, store: Store, tmp_path: Path
) -> None:
    s = SweepingStore(store.store, engine)
    blob = await ingest(engine, s, tmp_path)
    assert s.swept == 1  # the sweep did delete the bytes, having seen no row
    assert s.puts == 2  # and the upload noticed after its commit and wrote them again
    got = b"".join([chunk async for chunk in store.store.get(blob)])
    assert sha(got) == blob
    async with engine.connect() as conn:
        assert (await conn.execute(select(blobs.c.sha256))).scalars().all() == [blob]


async def test_a_sweep_holds_off_blob_inserts_until_it_is_done(
    database: str, engine: AsyncEngine, tmp_path: Path
) -> None:
    """The guarantee the sweep's deletes rely on: while the sweeping transaction is open,
    no upload can commit a row (it waits; here it gives up after a short lock wait)."""
    impatient = create_async_engine(_url(database, tmp_path), connect_args=(
        {"timeout": 0.2} if database == "sqlite" else {}))
    row: dict[str, Any] = {
        "sha256": "e" * 64, "media_type": "image/jpeg", "size": 1, "uploaded_by": "u",
        "uploaded_at": utcnow(), "touched_at": utcnow(),
    }
    try:
        async with engine.begin() as sweeping:
            await _hold_off_inserts(sweeping, ["e" * 64])
            with pytest.raises(DBAPIError):
                async with impatient.begin() as upload:
                    if database != "sqlite":
                        await upload.execute(text("SET LOCAL lock_timeout = '200ms'"))
                    await upload.execute(insert(blobs).values(**row))
        async with impatient.begin() as upload:  # once it is over, the insert goes through
            await upload.execute(insert(blobs).values(**row))
    finally:
        await impatient.dispose()


async def test_a_local_rewrite_of_stored_bytes_counts_as_fresh(tmp_path: Path) -> None:
    """Content addressing skips rewriting bytes already there; the write time still moves,
    so a new upload of long-orphaned bytes is not swept while its row commits."""
    s = LocalDiskStore(tmp_path / "blobs")
    key = await bytes_only(s, tmp_path)
    os.utime(s.path(key), (0, 0))
    old = await s.stat(key)
    assert old is not None and old.modified_at is not None and old.modified_at.year == 1970
    path = tmp_path / "again.jpg"
    path.write_bytes(b"".join([c async for c in s.get(key)]))
    await s.put(key, path, media_type="image/jpeg")
    new = await s.stat(key)
    assert new is not None and new.modified_at is not None
    assert new.modified_at > utcnow() - timedelta(hours=1)


async def test_temp_files_of_killed_local_writes_are_swept(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    s = LocalDiskStore(tmp_path / "blobs")
    key = await bytes_only(s, tmp_path)
    leaf = s.path(key).parent
    dead, live = leaf / ".tmp-dead", leaf / ".tmp-live"
    dead.write_bytes(b"half a photo")
    os.utime(dead, (0, 0))
    live.write_bytes(b"a photo being written")
    report = await sweep_orphans(engine=engine, store=s, grace=GRACE)
    assert report.temp_files_removed == 1 and report.deleted == 0
    assert not dead.exists() and live.exists() and await s.exists(key)
