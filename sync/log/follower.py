"""Dispatch in sequence order, and other instances' commits read back from the log.

`head` is the highest seq dispatched here; a session that subscribes at `head` misses
nothing. With several instances on one PostgreSQL, a local batch whose seqs follow another
instance's waits until the follower has read those back and dispatched them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from .. import tables as t
from .items import Append, DispatchHook, NewDoc
from .reader import doc_metas, load_states
from .sql import chunks

log = logging.getLogger("sync.log")


class Follower:
    """Use as `async with`; with `follow`, a task reads back what other instances commit
    (woken by `on_remote`: a notification or a poll)."""

    def __init__(
        self, engine: AsyncEngine, inflight: Callable[[], int | None], *, follow: bool
    ) -> None:
        self._engine = engine
        self._inflight = inflight  # the writer's batch being committed, if any
        self._follows = follow
        self.dispatch: DispatchHook | None = None
        self.head = 0  # highest seq committed and dispatched by this process
        self.backlog: list[list[Append]] = []  # local batches waiting behind remote ones
        self._remote_head = 0  # highest seq known committed anywhere
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Follower:
        self._remote_head = self.head
        if self._follows:
            self._task = asyncio.create_task(self._follow(), name="waiqin-log-follower")
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None

    def committed(self, appended: list[Append]) -> None:
        """The writer committed these (maybe none: device contacts, server writes)."""
        if appended:
            self.deliver(appended)
        if self._remote_head > self.head:
            self._wake.set()

    def deliver(self, appended: list[Append]) -> None:
        """Dispatch committed changes strictly in sequence order: `head` is the highest seq
        dispatched here, and a session that subscribes at `head` misses nothing."""
        if appended[0].seq <= self.head:  # never dispatch a seq twice
            appended = [a for a in appended if a.seq > self.head]
            if not appended:
                return
        if not self._follows or (appended[0].seq == self.head + 1 and not self.backlog):
            self.head = appended[-1].seq
            if self.dispatch is not None:
                try:
                    self.dispatch(appended)
                except Exception:
                    log.exception("fan-out of seq %s..%s failed", appended[0].seq, self.head)
            return
        # Another instance committed the seqs in between (the counter row's lock made it
        # commit first): they are in the log already, and the follower reads them.
        self.backlog.append(appended)
        self._remote_head = max(self._remote_head, appended[0].seq - 1)
        self._wake.set()

    def on_remote(self, seq: int) -> None:
        """Another instance committed up to `seq` (a notification, or a poll)."""
        if seq > self._remote_head:
            self._remote_head = seq
            self._wake.set()

    async def _follow(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            try:
                await self._catch_up_remote()
            except Exception:
                log.exception("reading other instances' commits failed; retrying")
                await asyncio.sleep(1)
                self._wake.set()

    async def _catch_up_remote(self) -> None:
        while True:
            self.backlog.sort(key=lambda b: b[0].seq)
            while self.backlog and self.backlog[0][0].seq == self.head + 1:
                batch = self.backlog.pop(0)
                self._deliver_now(batch)
            target = self._remote_head
            if self.backlog:
                target = min(target, self.backlog[0][0].seq - 1)
            busy = self._inflight()
            if busy is not None:
                target = min(target, busy - 1)
            if target <= self.head:
                return
            async with self._engine.connect() as conn:
                remote = await read_committed(conn, self.head, target)
            # While reading, this instance's writer may have committed and dispatched rows
            # of its own; those are never dispatched twice.
            inflight = self._inflight()
            remote = [
                a for a in remote if a.seq > self.head and (inflight is None or a.seq < inflight)
            ]
            if not remote:
                if self.head >= target or (inflight is not None and inflight <= self.head + 1):
                    continue
                raise RuntimeError(f"log rows {self.head + 1}..{target} are not readable yet")
            if remote[0].seq != self.head + 1:
                missing = f"{self.head + 1}..{remote[0].seq - 1}"
                raise RuntimeError(f"log rows {missing} are not readable yet")
            self._deliver_now(remote)

    def _deliver_now(self, batch: list[Append]) -> None:
        self.head = batch[-1].seq
        if self.dispatch is not None:
            try:
                self.dispatch(batch)
            except Exception:
                log.exception("fan-out of seq %s..%s failed", batch[0].seq, self.head)


async def read_committed(conn: AsyncConnection, after: int, upto: int) -> list[Append]:
    """Changes another instance committed, as `Append`s for dispatch (no record: the
    server rules ran where they were committed)."""
    rows = list(
        await conn.execute(
            select(t.changes)
            .where(t.changes.c.seq > after, t.changes.c.seq <= upto)
            .order_by(t.changes.c.seq)
        )
    )
    doc_ids = sorted({r.doc_id for r in rows})
    metas = await doc_metas(conn, doc_ids) if doc_ids else {}
    since: dict[str, dict[str, int]] = {}
    revoked: dict[str, list[tuple[int, str]]] = {}
    for part in chunks(doc_ids):
        for d, u, s in await conn.execute(
            select(t.grants.c.doc_id, t.grants.c.user_id, t.grants.c.since_seq).where(
                t.grants.c.doc_id.in_(part)
            )
        ):
            since.setdefault(d, {})[u] = s
        for s, d, u in await conn.execute(
            select(t.revocations.c.seq, t.revocations.c.doc_id, t.revocations.c.user_id).where(
                t.revocations.c.doc_id.in_(part), t.revocations.c.seq > after
            )
        ):
            revoked.setdefault(d, []).append((s, u))
    out = []
    for r in rows:
        meta = metas.get(r.doc_id)
        granted = since.get(r.doc_id, {})
        gone = revoked.get(r.doc_id, [])
        after_grantees = {u for u, s in granted.items() if s <= r.seq}
        after_grantees |= {u for s, u in gone if s > r.seq}
        add = frozenset(u for u, s in granted.items() if s == r.seq)
        remove = frozenset(u for s, u in gone if s == r.seq)
        is_new = meta is not None and meta.first_seq == r.seq
        state_after = None
        if add and not is_new:
            states = await load_states(conn, [r.doc_id], upto=r.seq)
            state_after = states[r.doc_id][0] if r.doc_id in states else None
        out.append(
            Append(
                r.doc_id,
                meta.kind if meta else "",
                r.update,
                r.user_id,
                r.device_id,
                r.clock,
                r.received_at,
                new_doc=NewDoc(meta.kind, r.user_id, r.device_id, 0)
                if is_new and meta
                else None,
                grant_add=add,
                grant_remove=remove,
                grantees=frozenset(after_grantees),
                state_after=state_after,
                redirect=meta.merged_into if meta is not None and remove else None,
                remote=True,
                seq=r.seq,
                committed_at=r.committed_at,
            )
        )
    return out
