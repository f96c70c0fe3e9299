"""An instance whose listening connection to PostgreSQL drops misses the announcements sent
meanwhile (revocations, scope changes: they are not in the log). When it reconnects it says so
(`on_gap`), and hears the announcements made after."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from sync.fanout import CHANNEL, PgListener
from sync.log import Log

pytestmark = pytest.mark.asyncio


async def test_a_lost_listener_reconnects_and_reports_the_gap(
    engine: AsyncEngine, database_url: str
) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("instances share a PostgreSQL; SQLite serves one instance")
    gap = asyncio.Event()
    heard: asyncio.Queue[list[str]] = asyncio.Queue()
    async with Log(engine, notify_channel=CHANNEL) as lg:
        async with PgListener(lg, database_url, on_gap=gap.set,
                              on_scope_changed=heard.put_nowait, poll_interval=0.05) as here, \
                PgListener(lg, database_url, poll_interval=3600) as other:
            await other.announce_scope_changed(["u-before"])
            assert await asyncio.wait_for(heard.get(), 30) == ["u-before"]
            assert here.gaps == 0 and not gap.is_set()

            pid = here._conn.get_server_pid()
            async with engine.connect() as conn:
                assert await conn.scalar(text("select pg_terminate_backend(:pid)"), {"pid": pid})
            await asyncio.wait_for(gap.wait(), 30)
            assert here.gaps == 1 and not here._conn.is_closed()

            await other.announce_scope_changed(["u-after"])
            assert await asyncio.wait_for(heard.get(), 30) == ["u-after"]
