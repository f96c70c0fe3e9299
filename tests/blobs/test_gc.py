"""Garbage collection of unreferenced blobs and abandoned uploads; mark_referenced."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import pytest_asyncio
from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from server.blobs import (
    BlobStore,
    LocalDiskStore,
    S3Store,
    blob_uploaders,
    blob_uploads,
    blobs,
    collect_garbage,
    mark_referenced,
    mark_unreferenced,
    metadata,
)
from server.blobs.ingest import Ingest
from server.blobs.store import thumb_key
from tests.blobs.conftest import jpeg, new_bucket, sha

NOW = datetime(2030, 6, 1, 12, 0, tzinfo=UTC)


@dataclass(frozen=True)
class User:
    user_id: str


@pytest_asyncio.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'gc.sqlite'}")
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    yield engine
    await engine.dispose()


@pytest_asyncio.fixture(params=["local", "s3"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[BlobStore]:
    if request.param == "local":
        yield LocalDiskStore(tmp_path / "blobs")
        return
    endpoint = request.getfixturevalue("s3_endpoint")
    async with S3Store(
        endpoint_url=endpoint, bucket=new_bucket(endpoint), access_key="t", secret_key="t"
    ) as s3:
        yield s3


async def stored(engine: AsyncEngine, store: BlobStore, tmp_path: Path, touched: datetime) -> str:
    async def nobody(user_id: str, sha256: str) -> bool:
        return False

    data = jpeg(64, 64)
    path = tmp_path / f"{sha(data)}.jpg"
    path.write_bytes(data)
    await Ingest(store=store, engine=engine, can_read=nobody).finish(
        User("u"), sha(data), "image/jpeg", path
    )
    async with engine.begin() as conn:
        await conn.execute(
            update(blobs).where(blobs.c.sha256 == sha(data)).values(touched_at=touched)
        )
    return sha(data)


@pytest.mark.asyncio
async def test_unreferenced_blobs_are_collected_after_the_grace_period(
    engine: AsyncEngine, store: BlobStore, tmp_path: Path
) -> None:
    old = NOW - timedelta(days=8)
    orphan = await stored(engine, store, tmp_path, old)
    referenced = await stored(engine, store, tmp_path, old)
    recent = await stored(engine, store, tmp_path, NOW - timedelta(days=6))
    released = await stored(engine, store, tmp_path, old)
    thumb = tmp_path / "thumb"
    thumb.write_bytes(b"thumbnail")
    await store.put(thumb_key(orphan, 256), thumb, media_type="image/jpeg")

    async with engine.begin() as conn:
        assert await mark_referenced(conn, [referenced, released, "f" * 64], now=old) == {"f" * 64}
        # released a day ago: its grace period starts again from the release
        await mark_unreferenced(conn, [released], now=NOW - timedelta(days=1))

    chunks = tmp_path / "uploads"
    chunks.mkdir()
    stale_id, live_id = "a" * 32, "b" * 32
    async with engine.begin() as conn:
        for upload_id, updated in ((stale_id, NOW - timedelta(days=9)), (live_id, NOW)):
            await conn.execute(
                insert(blob_uploads).values(
                    id=upload_id,
                    owner="u",
                    sha256="c" * 64,
                    media_type="image/jpeg",
                    length=10,
                    offset=5,
                    created_at=updated,
                    updated_at=updated,
                )
            )
            (chunks / f"{upload_id}.part").write_bytes(b"12345")
    stray = chunks / "put-dead.tmp"
    stray.write_bytes(b"left by a killed server")
    os.utime(stray, (0, 0))

    report = await collect_garbage(
        engine=engine, store=store, chunk_dir=chunks, grace=timedelta(days=7), now=NOW
    )
    assert report.blobs_deleted == 1
    assert report.uploads_expired == 1
    assert report.temp_files_removed == 1

    async with engine.connect() as conn:
        left = set((await conn.execute(select(blobs.c.sha256))).scalars())
        uploaders = set((await conn.execute(select(blob_uploaders.c.sha256))).scalars())
        uploads = set((await conn.execute(select(blob_uploads.c.id))).scalars())
    assert left == {referenced, recent, released}
    assert orphan not in uploaders
    assert not await store.exists(orphan)
    assert not await store.exists(thumb_key(orphan, 256))
    for kept in (referenced, recent, released):
        assert await store.exists(kept)
    assert uploads == {live_id}
    assert not (chunks / f"{stale_id}.part").exists()
    assert (chunks / f"{live_id}.part").exists()
    assert not stray.exists()

    # run again later: the released one's grace is over too
    later = await collect_garbage(
        engine=engine, store=store, chunk_dir=chunks, now=NOW + timedelta(days=7)
    )
    assert later.blobs_deleted == 2  # released, and recent
    assert await store.exists(referenced)
