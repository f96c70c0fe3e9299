"""Compaction: log rows older than the retention folded into per-doc snapshots, in the
background, through the log's one writer.

Rows newer than the cut-off stay, to keep catch-up deltas small.
"""

from __future__ import annotations

import logging
from typing import Protocol

import anyio
import anyio.abc
import anyio.lowlevel
from sqlalchemy import and_, delete, select
from sqlalchemy.ext.asyncio import AsyncConnection

from .. import tables as t
from .reader import Reader
from .sql import merge, now_ms, upsert
from .writer import Writer

log = logging.getLogger("sync.log")


async def compact(
    reader: Reader, writer: Writer, head: int, *, older_than_ms: int, max_docs: int = 200
) -> int:
    """Fold log rows older than the cut-off into snapshots; returns docs compacted.

    Only rows up to `head` (dispatched) are folded. Each doc is folded in the writer's next
    group commit, so syncing devices never wait long behind it, and no transaction beside
    the writer's contends for the write lock.
    """
    cutoff = now_ms() - older_than_ms
    async with reader.reads() as r:
        doc_ids = await r.compactable(cutoff, head, max_docs)
    for doc_id in doc_ids:

        async def fold(conn: AsyncConnection, doc_id: str = doc_id) -> None:
            await _fold(conn, doc_id, cutoff, head)

        await writer.write(fold)
    return len(doc_ids)


async def _fold(conn: AsyncConnection, doc_id: str, cutoff: int, head: int) -> None:
    snap = (
        await conn.execute(
            select(t.snapshots.c.state, t.snapshots.c.seq).where(t.snapshots.c.doc_id == doc_id)
        )
    ).one_or_none()
    q = (
        select(t.changes.c.seq, t.changes.c.update)
        .where(
            t.changes.c.doc_id == doc_id,
            t.changes.c.committed_at <= cutoff,
            t.changes.c.seq <= head,
        )
        .order_by(t.changes.c.seq)
    )
    found = list(await conn.execute(q))
    if not found:
        return
    upto = found[-1][0]
    states = ([snap.state] if snap else []) + [u for _, u in found]
    await upsert(
        conn,
        t.snapshots,
        {"doc_id": doc_id, "state": merge(states), "seq": upto, "updated_at": now_ms()},
        ["doc_id"],
        ["state", "seq", "updated_at"],
    )
    await conn.execute(
        delete(t.changes).where(and_(t.changes.c.doc_id == doc_id, t.changes.c.seq <= upto))
    )


class Compacts(Protocol):
    async def compact(self, *, older_than_ms: int, max_docs: int = 200) -> int: ...


class Compactor:
    """Runs `Log.compact` in the background every `interval` seconds."""

    def __init__(self, log_: Compacts, *, interval: float, retention_ms: int) -> None:
        self.log = log_
        self.interval = interval
        self.retention_ms = retention_ms
        self._tg: anyio.abc.TaskGroup | None = None

    async def __aenter__(self) -> Compactor:
        self._tg = anyio.create_task_group()
        await self._tg.__aenter__()
        self._tg.start_soon(self._run)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._tg is not None
        self._tg.cancel_scope.cancel()
        await self._tg.__aexit__(None, None, None)

    async def _run(self) -> None:
        while True:
            await anyio.sleep(self.interval)
            try:
                done = await self.log.compact(older_than_ms=self.retention_ms)
                while done > 0:
                    await anyio.lowlevel.checkpoint()
                    done = await self.log.compact(older_than_ms=self.retention_ms)
            except Exception:
                log.exception("compaction failed; will try again in %ss", self.interval)
