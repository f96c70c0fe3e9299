from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from schema.tables import metadata

PG_URL = os.environ.get("WAIQIN_TEST_PG", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")


async def _sqlite(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path}/projections.db")
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    yield engine
    await engine.dispose()


async def _postgres() -> AsyncIterator[AsyncEngine]:
    """The tables in a private PostgreSQL schema, dropped afterwards."""
    name = f"t_schema_{uuid.uuid4().hex[:12]}"
    admin = create_async_engine(PG_URL)
    try:
        async with admin.begin() as conn:
            await conn.exec_driver_sql(f'CREATE SCHEMA "{name}"')
    except OSError as exc:  # connection refused: no server on this machine
        await admin.dispose()
        pytest.skip(f"PostgreSQL not reachable: {exc}")
    engine = create_async_engine(PG_URL, connect_args={"server_settings": {"search_path": name}})
    try:
        async with engine.begin() as conn:
            await conn.run_sync(metadata.create_all)
        yield engine
    finally:
        await engine.dispose()
        async with admin.begin() as conn:
            await conn.exec_driver_sql(f'DROP SCHEMA "{name}" CASCADE')
        await admin.dispose()


@pytest_asyncio.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def engine(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    """A database with the projection tables: SQLite in a temp file, then PostgreSQL."""
    gen = _sqlite(tmp_path) if request.param == "sqlite" else _postgres()
    async for e in gen:
        yield e
