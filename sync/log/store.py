"""`Log`: the change log as one service, made of its parts (writer, follower, reader,
device registry) and started and stopped together."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from .. import tables as t
from .compaction import compact
from .devices import Devices
from .follower import Follower
from .items import CommitHook, DispatchHook, Item
from .reader import Reader, read_head
from .sql import SEQ, upsert
from .writer import Writer


class Log:
    """Use as `async with Log(engine) as log:`; the writer (and, with `notify_channel`, the
    follower of other instances' commits) runs while inside.

    The hub and the sessions read through `reader` and write through `submit`/`write`;
    `engine` is for the server's own modules' reads (projections, the back office).
    """

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        max_batch: int = 512,
        on_commit: CommitHook | None = None,
        notify_channel: str | None = None,
    ) -> None:
        self.engine = engine
        self.reader = Reader(engine)
        # With several instances on one PostgreSQL: every commit notifies this channel, and
        # other instances' commits are read back from the log and dispatched in order.
        self.follower = Follower(engine, lambda: self.writer.inflight,
                                 follow=notify_channel is not None)
        self.writer = Writer(engine, self.follower.committed, max_batch=max_batch,
                             on_commit=on_commit, notify_channel=notify_channel)
        self.devices = Devices(self.reader, self.writer)

    async def __aenter__(self) -> Log:
        async with self.engine.begin() as conn:
            await upsert(conn, t.counters, {"name": SEQ, "value": 0}, ["name"])
            self.follower.head = await read_head(conn)
        await self.writer.__aenter__()
        await self.follower.__aenter__()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.follower.__aexit__(*exc)
        await self.writer.__aexit__(*exc)

    @property
    def head(self) -> int:
        """The highest seq committed and dispatched by this process."""
        return self.follower.head

    @property
    def dispatch(self) -> DispatchHook | None:
        return self.follower.dispatch

    @dispatch.setter
    def dispatch(self, hook: DispatchHook | None) -> None:
        self.follower.dispatch = hook

    @property
    def batches(self) -> int:
        return self.writer.batches

    @property
    def appended(self) -> int:
        return self.writer.appended

    def submit(self, item: Item) -> asyncio.Future[Item]:
        """Queue an item for the next group commit; the future resolves after commit."""
        return self.writer.submit(item)

    async def write(self, run: Callable[[AsyncConnection], Awaitable[Any]]) -> Any:
        """Run `run(conn)` in the next group commit (the one writer's transaction); returns
        its result once committed."""
        return await self.writer.write(run)

    def on_remote(self, seq: int) -> None:
        """Another instance committed up to `seq` (a notification, or a poll)."""
        self.follower.on_remote(seq)

    async def compact(self, *, older_than_ms: int, max_docs: int = 200) -> int:
        return await compact(self.reader, self.writer, self.head,
                             older_than_ms=older_than_ms, max_docs=max_docs)
