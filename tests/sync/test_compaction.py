"""Compaction folds old log rows into snapshots through the log's one writer; what devices
read afterwards (whole states, catch-up by cursor) is what they would have read before."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from sync import tables as t
from sync.client import SyncClient
from tests.conftest import make_team

from .harness import harness, new_id

pytestmark = pytest.mark.asyncio


async def test_old_rows_become_snapshots_and_devices_read_the_same(engine: Any) -> None:
    async with harness(engine) as h:
        team = await make_team(h.accounts)
        writer, reader = SyncClient("writer"), SyncClient("reader")
        docs = [new_id() for _ in range(3)]
        async with h.online(writer, team.rep1):
            for i, d in enumerate(docs):
                writer.set_fields(d, {"n": i})
                writer.set_fields(d, {"note": f"第{i}次"})
            await writer.wait_flushed()
        async with h.online(reader, team.manager):
            assert all(reader.read(d) == {"n": i, "note": f"第{i}次"}
                       for i, d in enumerate(docs))
        async with h.online(writer, team.rep1):
            writer.set_fields(docs[0], {"result": "同意试用"})
            await writer.wait_flushed()
        before = {d: await h.server_record(d) for d in docs}
        batches = h.log.batches

        assert await h.log.compact(older_than_ms=0) == len(docs)

        # one group commit of the writer per doc folded, none beside it
        assert h.log.batches == batches + len(docs)
        assert await h.log_rows() == 0
        async with engine.connect() as conn:
            snapshots = await conn.scalar(select(func.count()).select_from(t.snapshots))
        assert snapshots == len(docs)
        assert {d: await h.server_record(d) for d in docs} == before
        # a device whose cursor is older than the snapshot gets the doc whole
        async with h.online(reader, team.manager):
            assert reader.read(docs[0]) == {"n": 0, "note": "第0次", "result": "同意试用"}
        fresh = SyncClient("fresh")
        async with h.online(fresh, team.manager):
            assert {d: fresh.read(d) for d in docs} == before
        assert await h.log.compact(older_than_ms=0) == 0  # nothing left to fold


async def test_rows_newer_than_the_retention_stay(engine: Any) -> None:
    async with harness(engine) as h:
        team = await make_team(h.accounts)
        writer = SyncClient("writer")
        doc = new_id()
        async with h.online(writer, team.rep1):
            writer.set_fields(doc, {"n": 1})
            await writer.wait_flushed()
        assert await h.log.compact(older_than_ms=3_600_000) == 0
        assert await h.log_rows(doc) == 1
