"""Both storage backends behind the one BlobStore interface, driven directly."""

from __future__ import annotations

import os
import random
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from server.blobs import BlobStore, LocalDiskStore, S3Store
from server.blobs.store import BlobMissing
from tests.blobs.conftest import new_bucket, s3_client, sha


@pytest_asyncio.fixture(params=["local", "s3"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[BlobStore]:
    if request.param == "local":
        yield LocalDiskStore(tmp_path / "blobs")
        return
    endpoint = request.getfixturevalue("s3_endpoint")
    s3 = S3Store(
        endpoint_url=endpoint,
        bucket=new_bucket(endpoint),
        access_key="testing",
        secret_key="testing",
        part_size=5 * 1024 * 1024,
    )
    async with s3:
        yield s3


async def read(store: BlobStore, key: str, start: int = 0, end: int | None = None) -> bytes:
    return b"".join([chunk async for chunk in store.get(key, start=start, end=end)])


@pytest.mark.asyncio
async def test_put_get_stat_delete(store: BlobStore, tmp_path: Path) -> None:
    data = random.randbytes(300_000)
    key = sha(data)
    src = tmp_path / "src"
    src.write_bytes(data)
    assert await store.stat(key) is None
    assert not await store.exists(key)

    await store.put(key, src, media_type="image/jpeg")
    assert src.read_bytes() == data  # the source is left in place
    stat = await store.stat(key)
    assert stat is not None and stat.size == len(data)
    assert await read(store, key) == data
    assert await read(store, key, 1000, 2000) == data[1000:2000]
    assert await read(store, key, 299_990) == data[299_990:]

    await store.put(f"{key}.thumb-256", src, media_type="image/jpeg")  # a derived key
    assert await store.exists(f"{key}.thumb-256")

    await store.delete(key)
    await store.delete(key)  # deleting twice is fine
    assert await store.stat(key) is None
    with pytest.raises(BlobMissing):
        await read(store, key)


@pytest.mark.asyncio
@pytest.mark.parametrize("key", ["../../etc/passwd", "A" * 64, "a" * 63, "a" * 64 + "/x", ""])
async def test_keys_that_are_not_hashes_are_refused(
    store: BlobStore, tmp_path: Path, key: str
) -> None:
    src = tmp_path / "src"
    src.write_bytes(b"x")
    with pytest.raises(ValueError):
        await store.put(key, src, media_type="image/jpeg")
    with pytest.raises(ValueError):
        await store.stat(key)


@pytest.mark.asyncio
async def test_large_objects_are_streamed_in_parts(store: BlobStore, tmp_path: Path) -> None:
    """11 MiB: three multipart parts on S3; read back across a part boundary."""
    data = os.urandom(11 * 1024 * 1024 + 17)
    key = sha(data)
    src = tmp_path / "big"
    src.write_bytes(data)
    await store.put(key, src, media_type="application/pdf")
    assert await read(store, key) == data
    boundary = 5 * 1024 * 1024
    assert (
        await read(store, key, boundary - 10, boundary + 10) == data[boundary - 10 : boundary + 10]
    )
    if isinstance(store, S3Store):
        head = s3_client(store.endpoint_url or "").head_object(Bucket=store.bucket, Key=key)
        assert head["ETag"].strip('"').endswith("-3")  # S3 marks multipart objects so
        assert head["ContentType"] == "application/pdf"


@pytest.mark.asyncio
async def test_local_writes_leave_no_temp_files_and_fan_out(tmp_path: Path) -> None:
    store = LocalDiskStore(tmp_path / "blobs")
    data = b"bytes" * 1000
    key = sha(data)
    src = tmp_path / "src"
    src.write_bytes(data)
    await store.put(key, src, media_type="image/jpeg")
    files = [p for p in (tmp_path / "blobs").rglob("*") if p.is_file()]
    assert files == [tmp_path / "blobs" / key[:2] / key[2:4] / key]
