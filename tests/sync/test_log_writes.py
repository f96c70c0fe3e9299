"""The server's own writes go through the log's one writer (`Log.write`): in the group commit
with the devices' appends, and a write that fails fails alone."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from sync import tables as t
from sync.log import Append, Log, NewDoc, Write, upsert

pytestmark = pytest.mark.asyncio


def append(n: int) -> Append:
    return Append(f"visit:{uuid.uuid4()}", "visit", bytes([n]), "u-w", "d-w", n,
                  int(time.time() * 1000), new_doc=NewDoc("visit", "u-w", "d-w", 0))


async def bump(conn: AsyncConnection) -> int:
    await upsert(conn, t.counters, {"name": "test_writes", "value": 0}, ["name"])
    res = await conn.execute(update(t.counters).where(t.counters.c.name == "test_writes")
                             .values(value=t.counters.c.value + 10).returning(t.counters.c.value))
    return int(res.scalar_one())


async def broken(conn: AsyncConnection) -> None:
    await conn.execute(select(t.counters.c.value))
    raise ValueError("a bug in the server's own write")


async def count_changes(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return int(await conn.scalar(select(func.count()).select_from(t.changes)) or 0)


async def test_a_write_commits_in_the_group_commit_with_appends(engine: AsyncEngine) -> None:
    async with Log(engine) as log_:
        # queued together, before the writer runs: one transaction holds all of them
        # (write submits before it first waits)
        futs = [log_.submit(append(i)) for i in range(1, 4)]
        assert await log_.write(bump) == 10
        await asyncio.gather(*futs)
        assert log_.batches == 1
        assert await log_.write(bump) == 20  # alone in a batch of its own
        assert log_.batches == 2
    assert await count_changes(engine) == 3


async def test_a_failing_write_fails_alone(engine: AsyncEngine) -> None:
    async with Log(engine) as log_:
        # one batch: the appends and two writes, one of which fails
        futs = [log_.submit(append(i)) for i in range(1, 4)]
        bad, good = Write(broken), Write(bump)
        bad_fut, good_fut = log_.submit(bad), log_.submit(good)
        items = await asyncio.gather(*futs)
        assert all(isinstance(i, Append) and i.seq > 0 for i in items)
        with pytest.raises(ValueError, match="a bug in the server's own write"):
            await bad_fut
        assert await good_fut is good and good.result == 10
        assert log_.batches == 1
        # the writer goes on
        assert isinstance(await log_.submit(append(9)), Append)
    assert await count_changes(engine) == 4
