"""Two logs on one PostgreSQL, as two server instances run: each dispatches every committed
seq exactly once and in order, its own and the other's, however their commits interleave.

A regression test for a race seen in CI: an instance's own NOTIFY made its follower read
back a batch the writer had committed but not yet dispatched; the writer's dispatch then
waited forever behind it and fan-out on that instance stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from server.db import make_engine
from sync.fanout import CHANNEL, PgListener
from sync.log import Append, Log, NewDoc
from sync.log.devices import Devices
from sync.log.writer import Writer

pytestmark = pytest.mark.asyncio


class SlowWriter(Writer):
    """A busy event loop: time passes between a commit and its dispatch, long enough for
    this instance's own NOTIFY to reach its follower first."""

    async def _commit(self, items: Any) -> list[Append]:
        appended = await super()._commit(items)
        await asyncio.sleep(0.15)
        return appended


class SlowToDispatch(Log):
    def __init__(self, engine: AsyncEngine, **kwargs: Any) -> None:
        super().__init__(engine, **kwargs)
        self.writer = SlowWriter(engine, self.follower.committed, **kwargs)
        self.devices = Devices(self.reader, self.writer)


def append(n: int, device: str) -> Append:
    doc = f"visit:{uuid.uuid4()}"
    return Append(
        doc,
        "visit",
        bytes([n % 256]),
        "u-stress",
        device,
        n,
        int(time.time() * 1000),
        new_doc=NewDoc("visit", "u-stress", device, 0),
    )


async def test_two_logs_dispatch_every_seq_once_in_order(
    engine: AsyncEngine, database_url: str
) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("instances share a PostgreSQL; SQLite serves one instance")
    other_engine = make_engine(database_url)
    seen: dict[str, list[int]] = {"a": [], "b": []}
    remote: dict[str, set[int]] = {"a": set(), "b": set()}

    def collect(name: str, batch: list[Append]) -> None:
        seen[name].extend(x.seq for x in batch)
        remote[name].update(x.seq for x in batch if x.remote)

    try:
        async with contextlib.AsyncExitStack() as stack:
            logs: dict[str, Log] = {}
            for name, eng in (("a", engine), ("b", other_engine)):
                kind = SlowToDispatch if name == "a" else Log
                lg = await stack.enter_async_context(kind(eng, notify_channel=CHANNEL))
                lg.dispatch = lambda batch, name=name: collect(name, batch)
                await stack.enter_async_context(PgListener(lg, database_url, poll_interval=0.5))
                logs[name] = lg
            start = logs["a"].head
            total = 0
            mine: dict[str, set[int]] = {"a": set(), "b": set()}
            for burst in range(12):
                futs: list[asyncio.Future[Any]] = []
                # bursts of different sizes on each side, so that batches interleave
                for i in range(1 + burst % 4):
                    futs.append(logs["a"].submit(append(total, f"dev-a{i}")))
                    total += 1
                for i in range(1 + (burst * 7) % 5):
                    futs.append(logs["b"].submit(append(total, f"dev-b{i}")))
                    total += 1
                for f in await asyncio.gather(*futs):
                    mine["a" if f.device_id.startswith("dev-a") else "b"].add(f.seq)
                if burst % 3 == 0:
                    await asyncio.sleep(0)
            async with asyncio.timeout(20):
                while logs["a"].head < start + total or logs["b"].head < start + total:  # noqa: ASYNC110
                    await asyncio.sleep(0.02)
            expected = list(range(start + 1, start + total + 1))
            assert seen["a"] == expected
            assert seen["b"] == expected
            # each instance dispatches its own commits as its own (with the record the
            # rules produced), and the other's as read back from the log
            for name, other in (("a", "b"), ("b", "a")):
                assert remote[name] == mine[other]
                assert not logs[name].follower.backlog
    finally:
        await other_engine.dispose()
