"""A small app that mounts the real blob Router, for tests and bench/blobs.py under uvicorn.

Configured by environment: BLOBS_TEST_DB (SQLite file), BLOBS_TEST_STORE ("local:<dir>" or
"s3:<endpoint>|<bucket>"), BLOBS_TEST_CHUNKS, BLOBS_TEST_MAX_SIZE, BLOBS_TEST_CHECKPOINT.
A caller is whoever ``Authorization: Bearer <user>`` names; who can read which blob through a
record is the ``test_grants`` table, which tests fill directly.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Column, MetaData, String, Table, event, select
from sqlalchemy.ext.asyncio import create_async_engine
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.routing import Mount

from server.blobs import BlobStore, LocalDiskStore, S3Store, blob_routes, metadata

test_metadata = MetaData()
grants = Table(
    "test_grants",
    test_metadata,
    Column("user_id", String(128), primary_key=True),
    Column("sha256", String(64), primary_key=True),
)


@dataclass(frozen=True)
class Caller:
    user_id: str


async def authenticate(request: Request) -> Caller:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise HTTPException(401, "log in first")
    return Caller(token)


def make_store(spec: str) -> BlobStore:
    kind, _, rest = spec.partition(":")
    if kind == "local":
        return LocalDiskStore(rest)
    if kind == "s3":
        endpoint, _, bucket = rest.partition("|")
        return S3Store(
            endpoint_url=endpoint,
            bucket=bucket,
            access_key="testing",
            secret_key="testing",
            region="us-east-1",
        )
    raise ValueError(f"BLOBS_TEST_STORE: unknown store {spec!r}")


engine = create_async_engine(f"sqlite+aiosqlite:///{os.environ['BLOBS_TEST_DB']}")


@event.listens_for(engine.sync_engine, "connect")
def _sqlite_pragmas(dbapi_conn: Any, record: Any) -> None:
    # As the real app does: WAL so that reads do not block writes, and waits, not errors,
    # while another connection writes.
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()

store = make_store(os.environ["BLOBS_TEST_STORE"])
chunk_dir = Path(os.environ["BLOBS_TEST_CHUNKS"])


async def can_read(user_id: str, sha256: str) -> bool:
    async with engine.connect() as conn:
        query = select(grants).where(grants.c.user_id == user_id, grants.c.sha256 == sha256)
        return (await conn.execute(query)).first() is not None


@contextlib.asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
        await conn.run_sync(test_metadata.create_all)
    try:
        yield
    finally:
        await store.aclose()
        await engine.dispose()


router = blob_routes(
    store=store,
    engine=engine,
    authenticate=authenticate,
    can_read=can_read,
    chunk_dir=chunk_dir,
    max_size=int(os.environ.get("BLOBS_TEST_MAX_SIZE", 25 * 1024 * 1024)),
    checkpoint_bytes=int(os.environ.get("BLOBS_TEST_CHECKPOINT", 1024 * 1024)),
)
app = Starlette(routes=[Mount("", app=router)], lifespan=lifespan)
