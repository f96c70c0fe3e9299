"""The log's one writer: every write goes through its queue and lands in a group commit
(many devices' updates, their device rows, the server's own writes, in one transaction).

Submitters' futures resolve right after the commit, before fan-out and the server rules
run. Sequence numbers come from a counter row updated in the committing transaction, which
serialises writers across instances on PostgreSQL.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from .. import tables as t
from .items import Append, CommitHook, Contact, Item, Queued, Refusal, Write
from .sql import SEQ, bind, now_ms, upsert

log = logging.getLogger("sync.log")


class Writer:
    """Use as `async with Writer(...)`: the writer task runs while inside, and what was
    queued commits before it stops. `committed(appended)` is called after every commit,
    in commit order (the log's follower dispatches from there)."""

    def __init__(
        self,
        engine: AsyncEngine,
        committed: Callable[[list[Append]], None],
        *,
        max_batch: int = 512,
        on_commit: CommitHook | None = None,
        notify_channel: str | None = None,
    ) -> None:
        self.engine = engine
        self.committed = committed
        self.max_batch = max_batch
        self.on_commit = on_commit
        self.notify_channel = notify_channel  # every commit notifies it (PostgreSQL)
        # The first seq of the batch being committed: the follower must not read it back as
        # another instance's (this instance's own NOTIFY arrives too).
        self.inflight: int | None = None
        self._queue: asyncio.Queue[Queued] = asyncio.Queue()
        self._device_tail: dict[tuple[str, str], asyncio.Future[Item]] = {}
        self._task: asyncio.Task[None] | None = None
        self._conn: AsyncConnection | None = None  # the writer's own, so readers never starve it
        self.batches = 0
        self.appended = 0

    async def __aenter__(self) -> Writer:
        self._task = asyncio.create_task(self._writer(), name="waiqin-log-writer")
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._task is not None:
            # Let queued work commit before stopping: it was promised to someone.
            while not self._queue.empty():
                await asyncio.sleep(0)
                if self._task.done():
                    break
            await self._drain_idle()
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None
        await self._drop_conn()

    async def _drain_idle(self) -> None:
        for fut in list(self._device_tail.values()):
            try:
                await asyncio.wait_for(asyncio.shield(fut), timeout=10)
            except Exception:  # noqa: BLE001 - the failure was reported to its submitter
                pass

    def submit(self, item: Item) -> asyncio.Future[Item]:
        """Queue an item for the next group commit; the future resolves after commit."""
        if self._task is None or self._task.done():
            raise RuntimeError("the log writer is not running")
        fut: asyncio.Future[Item] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(Queued(item, fut))
        if isinstance(item, Write):
            return fut  # no device's: nothing waits for it in device_settled
        key = (item.user_id, item.device_id)
        self._device_tail[key] = fut

        def forget(f: asyncio.Future[Item]) -> None:
            self._forget(key, f)

        fut.add_done_callback(forget)
        return fut

    def _forget(self, key: tuple[str, str], fut: asyncio.Future[Item]) -> None:
        if self._device_tail.get(key) is fut:
            del self._device_tail[key]
        if not fut.cancelled():
            fut.exception()  # mark retrieved; submitters handle it

    async def write(self, run: Callable[[AsyncConnection], Awaitable[Any]]) -> Any:
        """Run `run(conn)` in the next group commit (the one writer's transaction); returns
        its result once committed. A failure of its own fails only it: the batch is then
        committed without it, and it alone after."""
        item = Write(run)
        await asyncio.shield(self.submit(item))
        return item.result

    async def device_settled(self, user_id: str, device_id: str) -> bool:
        """Wait until everything this device submitted so far is committed (or failed);
        True if there was anything to wait for."""
        fut = self._device_tail.get((user_id, device_id))
        if fut is not None:
            await asyncio.wait([fut])
        return fut is not None

    async def _writer(self) -> None:
        while True:
            first = await self._queue.get()
            batch = [first]
            while len(batch) < self.max_batch and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                appended = await self._commit([q.item for q in batch])
            except Exception as e:
                self.inflight = None
                log.exception("group commit of %s items failed", len(batch))
                for q in batch:
                    if not q.future.done():
                        q.future.set_exception(e)
                continue
            self.batches += 1
            self.appended += len(appended)
            # Ack first: the submitters' acks are queued before fan-out and the server
            # rules run (one loop turn lets the ack pumps take their results). Their
            # CURSOR stays at the head dispatched so far, which is never ahead of it.
            for q in batch:
                if q.future.done():
                    continue
                if isinstance(q.item, Write) and q.item.error is not None:
                    q.future.set_exception(q.item.error)
                else:
                    q.future.set_result(q.item)
            if appended:
                await asyncio.sleep(0)
            self.committed(appended)
            self.inflight = None

    async def _commit(self, items: list[Item]) -> list[Append]:
        try:
            return await self._commit_once(items)
        except Exception:
            writes = [i for i in items if isinstance(i, Write)]
            if not writes:
                raise
            # One of the server's own writes may be what failed: the devices' items are not
            # to fail with it. Commit them alone (their failure fails them, as always), then
            # each write in a transaction of its own.
            log.warning("a group commit with %s server writes failed; committing them apart",
                        len(writes), exc_info=True)
            self.inflight = None
            rest: list[Item] = [i for i in items if not isinstance(i, Write)]
            appended = await self._commit_once(rest) if rest else []
            for w in writes:
                try:
                    await self._commit_once([w])
                except Exception as e:  # noqa: BLE001 - reported to its submitter
                    w.error = e
            return appended

    async def _commit_once(self, items: list[Item]) -> list[Append]:
        appends = [i for i in items if isinstance(i, Append)]
        refusals = [i for i in items if isinstance(i, Refusal)]
        now = now_ms()
        if self._conn is None or self._conn.closed:
            self._conn = await self.engine.connect()
        conn = self._conn
        try:
            async with conn.begin():
                await self._write(conn, appends, refusals, items, now)
        except Exception:
            # A broken connection is replaced on the next batch.
            await self._drop_conn()
            raise
        return appends

    async def _drop_conn(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                await conn.close()
            except Exception:  # noqa: BLE001 - already failing; the original error is raised
                log.warning("closing the writer's connection failed", exc_info=True)

    async def _write(
        self,
        conn: AsyncConnection,
        appends: list[Append],
        refusals: list[Refusal],
        items: list[Item],
        now: int,
    ) -> None:
        if appends:
            res = await conn.execute(
                update(t.counters)
                .where(t.counters.c.name == SEQ)
                .values(value=t.counters.c.value + len(appends))
                .returning(t.counters.c.value)
            )
            last = res.scalar_one()
            self.inflight = last - len(appends) + 1
            for i, a in enumerate(appends):
                a.seq = last - len(appends) + 1 + i
                a.committed_at = now
            await conn.execute(
                insert(t.changes),
                [
                    {
                        "seq": a.seq,
                        "doc_id": a.doc_id,
                        "update": a.update,
                        "user_id": a.user_id,
                        "device_id": a.device_id,
                        "clock": a.clock,
                        "received_at": a.received_at,
                        "committed_at": now,
                    }
                    for a in appends
                ],
            )
            await self._write_docs(conn, appends)
            await self._write_grants(conn, appends)
        if refusals:
            await upsert(
                conn,
                t.refusals,
                [
                    {
                        "user_id": r.user_id,
                        "device_id": r.device_id,
                        "clock": r.clock,
                        "doc_id": r.doc_id,
                        "detail": json.dumps(r.detail, ensure_ascii=False),
                        "at": now,
                    }
                    for r in refusals
                ],
                ["user_id", "device_id", "clock"],
            )
        contacts = {(i.user_id, i.device_id) for i in items if isinstance(i, Contact)}
        if contacts:
            await upsert(
                conn,
                t.devices,
                [
                    {
                        "user_id": u,
                        "device_id": d,
                        "last_clock": 0,
                        "first_seen_at": now,
                        "last_contact_at": now,
                        "revoked_at": None,
                        "needs_reset": 0,
                    }
                    for u, d in sorted(contacts)
                ],
                ["user_id", "device_id"],
            )
        await self._write_devices(conn, items, now)
        if appends and self.on_commit is not None:
            await self.on_commit(conn, appends)
        for w in items:
            if isinstance(w, Write):
                w.result = await w.run(conn)
        if appends and self.notify_channel and conn.dialect.name == "postgresql":
            # Delivered at commit, in commit order, to every other instance listening.
            await conn.execute(select(func.pg_notify(self.notify_channel, str(appends[-1].seq))))

    async def _write_docs(self, conn: AsyncConnection, appends: list[Append]) -> None:
        last_seq: dict[str, int] = {}
        created: dict[str, Append] = {}
        for a in appends:
            if a.new_doc is not None and a.doc_id not in created:
                created[a.doc_id] = a
            last_seq[a.doc_id] = a.seq
        if created:
            await conn.execute(
                insert(t.docs),
                [
                    {
                        "doc_id": a.doc_id,
                        "kind": a.new_doc.kind,
                        "created_by": a.new_doc.created_by,
                        "created_device": a.new_doc.created_device,
                        "first_seq": a.seq,
                        "last_seq": last_seq[a.doc_id],
                        "last_committed_at": a.committed_at,
                        "first_received_at": a.received_at,
                        "contact_floor_at": a.new_doc.contact_floor_at,
                        "clock_offset": a.new_doc.clock_offset,
                        "merged_into": a.redirect,
                    }
                    for a in created.values()
                    if a.new_doc is not None
                ],
            )
        redirect = {a.doc_id: a.redirect for a in appends}
        existing = [(d, s) for d, s in last_seq.items() if d not in created]
        if existing:
            await conn.execute(
                update(t.docs)
                .where(t.docs.c.doc_id == bind("d"))
                .values(
                    last_seq=bind("s"),
                    merged_into=bind("m"),
                    last_committed_at=appends[0].committed_at,
                ),
                [{"d": d, "s": s, "m": redirect[d]} for d, s in existing],
            )

    async def _write_grants(self, conn: AsyncConnection, appends: list[Append]) -> None:
        # Grants added are written in one statement for a run of appends (a burst of new
        # records adds one each); a removal writes what came before it first, in order.
        adds: list[dict[str, Any]] = []

        async def write_adds() -> None:
            if adds:
                await upsert(conn, t.grants, list(adds), ["doc_id", "user_id"], ["since_seq"])
                adds.clear()

        for a in appends:
            if a.grant_remove:
                await write_adds()
                await conn.execute(
                    delete(t.grants).where(
                        t.grants.c.doc_id == a.doc_id, t.grants.c.user_id.in_(a.grant_remove)
                    )
                )
                await conn.execute(
                    insert(t.revocations),
                    [{"seq": a.seq, "doc_id": a.doc_id, "user_id": u} for u in a.grant_remove],
                )
            adds.extend(
                {"doc_id": a.doc_id, "user_id": u, "since_seq": a.seq} for u in a.grant_add
            )
        await write_adds()

    async def _write_devices(self, conn: AsyncConnection, items: list[Item], now: int) -> None:
        clocks: dict[tuple[str, str], int] = {}
        for i in items:
            if isinstance(i, Write):
                continue
            key = (i.user_id, i.device_id)
            clocks[key] = max(clocks.get(key, 0), i.clock)
        if not clocks:
            return
        await conn.execute(
            update(t.devices)
            .where(
                t.devices.c.user_id == bind("u"),
                t.devices.c.device_id == bind("d"),
            )
            .values(
                last_clock=func.max(t.devices.c.last_clock, bind("c"))
                if conn.dialect.name == "sqlite"
                else func.greatest(t.devices.c.last_clock, bind("c")),
                last_contact_at=now,
            ),
            [{"u": u, "d": d, "c": c} for (u, d), c in clocks.items()],
        )
