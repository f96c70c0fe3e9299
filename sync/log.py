"""The change log: group-committed appends, doc loading, catch-up queries, compaction.

One writer task per process owns every write to the log (many updates per transaction);
readers use their own connections. Sequence numbers come from a counter row updated in
the committing transaction, which serialises writers across instances on PostgreSQL.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import anyio
import anyio.lowlevel
from pycrdt import merge_updates
from sqlalchemy import Table, and_, delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from . import tables as t

log = logging.getLogger(__name__)

SEQ = "seq"
_IN_CHUNK = 500  # ids per IN (...) clause; well under SQLite's and asyncpg's limits


def now_ms() -> int:
    return int(time.time() * 1000)


def merge(updates: Sequence[bytes]) -> bytes:
    if len(updates) == 1:
        return updates[0]
    return merge_updates(*updates)


def chunks(items: Sequence[str], n: int = _IN_CHUNK) -> Iterable[Sequence[str]]:
    for i in range(0, len(items), n):
        yield items[i : i + n]


async def mark_reset(conn: AsyncConnection, user_ids: Iterable[str]) -> None:
    """These users' scope changed beyond what a cursor expresses (the reporting tree moved):
    each of their devices resyncs from zero at its next connection. In the caller's
    transaction, so the change and the reset commit together."""
    for part in chunks(sorted(set(user_ids))):
        await conn.execute(
            update(t.devices).where(t.devices.c.user_id.in_(part)).values(needs_reset=1)
        )


async def upsert(
    conn: AsyncConnection,
    table: Table,
    values: dict[str, Any] | list[dict[str, Any]],
    keys: Sequence[str],
    update_cols: Sequence[str] = (),
) -> None:
    """INSERT ... ON CONFLICT, in the dialect at hand (SQLite or PostgreSQL)."""
    from sqlalchemy.dialects import postgresql, sqlite

    if isinstance(values, list) and not values:
        return
    dialect_insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    # Parameters apart from the statement (executemany for a list): the statement compiles
    # once and is cached, where a multi-row VALUES is keyed and compiled anew per row count.
    stmt: Any = dialect_insert(table)
    if update_cols:
        stmt = stmt.on_conflict_do_update(
            index_elements=list(keys), set_={c: stmt.excluded[c] for c in update_cols}
        )
    else:
        stmt = stmt.on_conflict_do_nothing(index_elements=list(keys))
    await conn.execute(stmt, values)


# -- records in flight ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NewDoc:
    kind: str
    created_by: str
    created_device: str
    contact_floor_at: int
    clock_offset: int = 0


@dataclass(slots=True)
class Append:
    """An accepted update waiting for its transaction."""

    doc_id: str
    kind: str
    update: bytes
    user_id: str
    device_id: str
    clock: int
    received_at: int
    new_doc: NewDoc | None = None
    grant_add: frozenset[str] = frozenset()
    grant_remove: frozenset[str] = frozenset()
    grantees: frozenset[str] = frozenset()  # the doc's grantees once this update applies
    record: dict[str, Any] | None = None  # the record after this update, for projections
    record_before: dict[str, Any] | None = None  # and before it (None for a new doc)
    state_after: bytes | None = None  # whole doc, kept only when grants change
    redirect: str | None = None  # the doc this one was merged into, if it was
    remote: bool = False  # committed by another server instance (read back from the log)
    seq: int = 0
    committed_at: int = 0


@dataclass(slots=True)
class Refusal:
    """A refused update: recorded so that a resend gets the same answer."""

    user_id: str
    device_id: str
    clock: int
    doc_id: str
    detail: dict[str, Any]


@dataclass(slots=True)
class Contact:
    """A device said hello: its row is created if it is new and its contact time moves, in
    the next group commit (a thousand devices reconnecting at once share transactions
    instead of queueing one by one for SQLite's write lock)."""

    user_id: str
    device_id: str
    clock: int = 0


@dataclass(slots=True, eq=False)
class Write:
    """A write of the server's own (a block of customer codes, likely-duplicate pairs) that
    the log's one writer does in its next group commit (`Log.write`), instead of a
    transaction of its own beside it contending for the database's write lock."""

    run: Callable[[AsyncConnection], Awaitable[Any]]
    result: Any = None
    error: BaseException | None = None  # set when it failed on its own (see `_commit`)
    user_id: str = ""
    device_id: str = ""
    clock: int = 0


Item = Append | Refusal | Contact | Write
CommitHook = Callable[[AsyncConnection, list[Append]], Awaitable[None]]
DispatchHook = Callable[[list[Append]], None]


@dataclass(slots=True)
class _Queued:
    item: Item
    future: asyncio.Future[Item]


@dataclass(slots=True)
class DeviceState:
    last_clock: int
    first_seen_at: int
    last_contact_at: int
    revoked_at: int | None
    needs_reset: bool


@dataclass(slots=True)
class DocMeta:
    doc_id: str
    kind: str
    created_by: str
    first_seq: int
    last_seq: int
    first_received_at: int
    contact_floor_at: int
    merged_into: str | None
    grantees: frozenset[str] = field(default_factory=frozenset)
    clock_offset: int = 0


# -- the store ----------------------------------------------------------------------------


class Log:
    """The change log and everything read from it.

    Use as `async with Log(engine) as log:`; the writer task runs while inside.
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
        self.max_batch = max_batch
        self.on_commit = on_commit
        # With several instances on one PostgreSQL: every commit notifies this channel, and
        # other instances' commits are read back from the log and dispatched in order.
        self.notify_channel = notify_channel
        self._backlog: list[list[Append]] = []  # local batches waiting behind remote ones
        self._remote_head = 0  # highest seq known committed anywhere
        # The first seq of the local batch being committed: the follower must not read it
        # back as another instance's (this instance's own NOTIFY arrives too).
        self._inflight: int | None = None
        self._wake = asyncio.Event()
        self._follower: asyncio.Task[None] | None = None
        self.dispatch: DispatchHook | None = None
        self._queue: asyncio.Queue[_Queued] = asyncio.Queue()
        self._device_tail: dict[tuple[str, str], asyncio.Future[Item]] = {}
        self._task: asyncio.Task[None] | None = None
        self._conn: AsyncConnection | None = None  # the writer's own, so readers never starve it
        self.head = 0  # highest seq committed and dispatched by this process
        self.batches = 0
        self.appended = 0

    async def __aenter__(self) -> Log:
        async with self.engine.begin() as conn:
            await upsert(conn, t.counters, {"name": SEQ, "value": 0}, ["name"])
            self.head = await self.read_head(conn)
        self._remote_head = self.head
        self._task = asyncio.create_task(self._writer(), name="waiqin-log-writer")
        if self.notify_channel is not None:
            self._follower = asyncio.create_task(self._follow(), name="waiqin-log-follower")
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._follower is not None:
            self._follower.cancel()
            try:
                await self._follower
            except asyncio.CancelledError:
                pass
            self._follower = None
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

    # -- writing --------------------------------------------------------------------------

    def submit(self, item: Item) -> asyncio.Future[Item]:
        """Queue an item for the next group commit; the future resolves after commit."""
        if self._task is None or self._task.done():
            raise RuntimeError("the log writer is not running")
        fut: asyncio.Future[Item] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(_Queued(item, fut))
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
                self._inflight = None
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
                self._deliver(appended)
            self._inflight = None
            if self._remote_head > self.head:
                self._wake.set()

    def _deliver(self, appended: list[Append]) -> None:
        """Dispatch committed changes strictly in sequence order: `head` is the highest seq
        dispatched here, and a session that subscribes at `head` misses nothing."""
        if appended[0].seq <= self.head:  # never dispatch a seq twice
            appended = [a for a in appended if a.seq > self.head]
            if not appended:
                return
        if self._follower is None or (appended[0].seq == self.head + 1 and not self._backlog):
            self.head = appended[-1].seq
            if self.dispatch is not None:
                try:
                    self.dispatch(appended)
                except Exception:
                    log.exception("fan-out of seq %s..%s failed", appended[0].seq, self.head)
            return
        # Another instance committed the seqs in between (the counter row's lock made it
        # commit first): they are in the log already, and the follower reads them.
        self._backlog.append(appended)
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
            self._backlog.sort(key=lambda b: b[0].seq)
            while self._backlog and self._backlog[0][0].seq == self.head + 1:
                batch = self._backlog.pop(0)
                self._deliver_now(batch)
            target = self._remote_head
            if self._backlog:
                target = min(target, self._backlog[0][0].seq - 1)
            if self._inflight is not None:
                target = min(target, self._inflight - 1)
            if target <= self.head:
                return
            async with self.engine.connect() as conn:
                remote = await self.read_committed(conn, self.head, target)
            # While reading, this instance's writer may have committed and dispatched rows
            # of its own; those are never dispatched twice.
            inflight = self._inflight
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

    async def read_committed(self, conn: AsyncConnection, after: int, upto: int) -> list[Append]:
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
        metas = await self.doc_metas(conn, doc_ids) if doc_ids else {}
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
                states = await self.load_states(conn, [r.doc_id], upto=r.seq)
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
            self._inflight = None
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
            self._inflight = last - len(appends) + 1
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
                .where(t.docs.c.doc_id == _bind("d"))
                .values(
                    last_seq=_bind("s"),
                    merged_into=_bind("m"),
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
                t.devices.c.user_id == _bind("u"),
                t.devices.c.device_id == _bind("d"),
            )
            .values(
                last_clock=func.max(t.devices.c.last_clock, _bind("c"))
                if conn.dialect.name == "sqlite"
                else func.greatest(t.devices.c.last_clock, _bind("c")),
                last_contact_at=now,
            ),
            [{"u": u, "d": d, "c": c} for (u, d), c in clocks.items()],
        )

    # -- devices ----------------------------------------------------------------------------

    async def register_device(self, user_id: str, device_id: str) -> DeviceState:
        """Create the device row if new; return its state as it was before this contact."""
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(
                    select(t.devices).where(
                        t.devices.c.user_id == user_id, t.devices.c.device_id == device_id
                    )
                )
            ).first()
        now = now_ms()
        await asyncio.shield(self.submit(Contact(user_id, device_id)))
        if row is None:
            return DeviceState(0, now, now, None, False)
        return DeviceState(
            row.last_clock,
            row.first_seen_at,
            row.last_contact_at,
            row.revoked_at,
            bool(row.needs_reset),
        )

    async def device_clock(self, user_id: str, device_id: str) -> int:
        async with self.engine.connect() as conn:
            v = await conn.scalar(
                select(t.devices.c.last_clock).where(
                    t.devices.c.user_id == user_id, t.devices.c.device_id == device_id
                )
            )
        return int(v or 0)

    async def refusal(
        self, user_id: str, device_id: str, clock: int, doc_id: str | None = None
    ) -> dict[str, Any] | None:
        """The recorded refusal of the device's update `clock` (of `doc_id`, when given)."""
        query = select(t.refusals.c.detail).where(
            t.refusals.c.user_id == user_id,
            t.refusals.c.device_id == device_id,
            t.refusals.c.clock == clock,
        )
        if doc_id is not None:
            query = query.where(t.refusals.c.doc_id == doc_id)
        async with self.engine.connect() as conn:
            raw = await conn.scalar(query)
        return None if raw is None else dict(json.loads(raw))

    async def clear_reset(self, user_id: str, device_id: str) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(
                update(t.devices)
                .where(t.devices.c.user_id == user_id, t.devices.c.device_id == device_id)
                .values(needs_reset=0)
            )

    # -- reading ----------------------------------------------------------------------------

    @staticmethod
    async def read_head(conn: AsyncConnection) -> int:
        v = await conn.scalar(select(t.counters.c.value).where(t.counters.c.name == SEQ))
        return int(v or 0)

    @staticmethod
    async def doc_metas(conn: AsyncConnection, doc_ids: Sequence[str]) -> dict[str, DocMeta]:
        out: dict[str, DocMeta] = {}
        for part in chunks(doc_ids):
            for r in await conn.execute(select(t.docs).where(t.docs.c.doc_id.in_(part))):
                out[r.doc_id] = DocMeta(
                    r.doc_id,
                    r.kind,
                    r.created_by,
                    r.first_seq,
                    r.last_seq,
                    r.first_received_at,
                    r.contact_floor_at,
                    r.merged_into,
                    clock_offset=r.clock_offset,
                )
            found = [d for d in part if d in out]
            if not found:
                continue  # new ids: no grants to look for
            grant_rows = await conn.execute(
                select(t.grants.c.doc_id, t.grants.c.user_id).where(t.grants.c.doc_id.in_(found))
            )
            granted: dict[str, set[str]] = {}
            for doc_id, user_id in grant_rows:
                granted.setdefault(doc_id, set()).add(user_id)
            for doc_id, users in granted.items():
                if doc_id in out:
                    out[doc_id].grantees = frozenset(users)
        return out

    @staticmethod
    async def grantees_before_redirect(conn: AsyncConnection, doc_id: str) -> frozenset[str]:
        """The users a redirect (a merged card) belonged to right before it became one.

        A redirect has no grants; the commit that made it one recorded the grants it took
        away in `sync_revocations`, the latest there are for the doc. Whoever sees one of
        these users' grants (they themselves, their managers, admins) could see the card
        before the merge."""
        r = t.revocations
        latest = select(func.max(r.c.seq)).where(r.c.doc_id == doc_id).scalar_subquery()
        rows = await conn.execute(
            select(r.c.user_id).where(r.c.doc_id == doc_id, r.c.seq == latest))
        return frozenset(user for (user,) in rows)

    async def load_states(
        self, conn: AsyncConnection, doc_ids: Sequence[str], upto: int | None = None
    ) -> dict[str, tuple[bytes, int]]:
        """Whole state of each doc (snapshot + later log rows), with the seq it reaches."""
        parts: dict[str, list[bytes]] = {}
        reach: dict[str, int] = {}
        for part in chunks(doc_ids):
            snaps = await conn.execute(
                select(t.snapshots.c.doc_id, t.snapshots.c.state, t.snapshots.c.seq).where(
                    t.snapshots.c.doc_id.in_(part)
                )
            )
            snap_seq: dict[str, int] = {}
            for doc_id, state, seq in snaps:
                parts[doc_id] = [state]
                reach[doc_id] = snap_seq[doc_id] = seq
            q = (
                select(t.changes.c.doc_id, t.changes.c.seq, t.changes.c.update)
                .where(t.changes.c.doc_id.in_(part))
                .order_by(t.changes.c.seq)
            )
            if upto is not None:
                q = q.where(t.changes.c.seq <= upto)
            for doc_id, seq, upd in await conn.execute(q):
                if seq <= snap_seq.get(doc_id, 0):
                    continue
                parts.setdefault(doc_id, []).append(upd)
                reach[doc_id] = seq
        return {d: (merge(u), reach[d]) for d, u in parts.items()}

    async def load_deltas(
        self,
        conn: AsyncConnection,
        doc_ids: Sequence[str],
        after: int,
        upto: int,
        *,
        exclude_device: tuple[str, str] | None = None,
    ) -> tuple[dict[str, tuple[bytes, int]], list[str]]:
        """Changes with after < seq <= upto per doc, merged; and the docs whose changes
        since `after` were compacted away (they must be sent whole). Changes written by
        `exclude_device` are left out: that device has them already."""
        out: dict[str, tuple[bytes, int]] = {}
        whole: list[str] = []
        for part in chunks(doc_ids):
            compacted = await conn.execute(
                select(t.snapshots.c.doc_id).where(
                    t.snapshots.c.doc_id.in_(part), t.snapshots.c.seq > after
                )
            )
            gone = {r[0] for r in compacted}
            whole.extend(gone)
            q = (
                select(t.changes.c.doc_id, t.changes.c.seq, t.changes.c.update)
                .where(
                    t.changes.c.doc_id.in_([d for d in part if d not in gone]),
                    t.changes.c.seq > after,
                    t.changes.c.seq <= upto,
                )
                .order_by(t.changes.c.seq)
            )
            if exclude_device is not None:
                q = q.where(
                    ~and_(
                        t.changes.c.user_id == exclude_device[0],
                        t.changes.c.device_id == exclude_device[1],
                    )
                )
            grouped: dict[str, list[bytes]] = {}
            reach: dict[str, int] = {}
            for doc_id, seq, upd in await conn.execute(q):
                grouped.setdefault(doc_id, []).append(upd)
                reach[doc_id] = seq
            out.update({d: (merge(u), reach[d]) for d, u in grouped.items()})
        return out, whole

    async def scope_changes(
        self, conn: AsyncConnection, visible: frozenset[str] | None, after: int, upto: int
    ) -> tuple[list[str], list[str], list[tuple[str, str]]]:
        """What a device with cursor `after` lacks, up to `upto`, for a reader who sees
        the grants of `visible` (None: everything).

        Returns (changed doc ids, doc ids that entered the scope, and (doc id, the doc it
        was merged into or "") for those that left it).
        """
        g, d = t.grants, t.docs
        changed: set[str] = set()
        entered: set[str] = set()
        left: set[str] = set()
        if visible is None:
            q = select(d.c.doc_id).where(d.c.last_seq > after, d.c.first_seq <= upto)
            changed = {r[0] for r in await conn.execute(q)}
            if after > 0:
                q = select(d.c.doc_id).where(d.c.first_seq > after, d.c.first_seq <= upto)
                entered = {r[0] for r in await conn.execute(q)}
            return sorted(changed), sorted(entered), []
        users = sorted(visible)
        for part in chunks(users):
            q = (
                select(d.c.doc_id)
                .select_from(g.join(d, g.c.doc_id == d.c.doc_id))
                .where(g.c.user_id.in_(part), d.c.last_seq > after, g.c.since_seq <= upto)
            )
            changed.update(r[0] for r in await conn.execute(q))
            if after > 0:
                q = select(g.c.doc_id).where(
                    g.c.user_id.in_(part), g.c.since_seq > after, g.c.since_seq <= upto
                )
                entered.update(r[0] for r in await conn.execute(q))
                q = select(t.revocations.c.doc_id).where(
                    t.revocations.c.user_id.in_(part),
                    t.revocations.c.seq > after,
                    t.revocations.c.seq <= upto,
                )
                left.update(r[0] for r in await conn.execute(q))
        if left:
            still: set[str] = set()
            for part in chunks(sorted(left)):
                for upart in chunks(users):
                    q = select(g.c.doc_id).where(g.c.doc_id.in_(part), g.c.user_id.in_(upart))
                    still.update(r[0] for r in await conn.execute(q))
            left -= still
        redirects: dict[str, str] = {}
        for part in chunks(sorted(left)):
            q = select(d.c.doc_id, d.c.merged_into).where(d.c.doc_id.in_(part))
            redirects.update({r[0]: r[1] or "" for r in await conn.execute(q)})
        gone = [(doc_id, redirects.get(doc_id, "")) for doc_id in sorted(left)]
        return sorted(changed | entered), sorted(entered), gone

    # -- compaction -------------------------------------------------------------------------

    async def compact(self, *, older_than_ms: int, max_docs: int = 200) -> int:
        """Fold log rows older than the cut-off into snapshots; returns docs compacted.

        Each doc is folded in its own short transaction, so syncing devices never wait
        long behind it. Rows newer than the cut-off stay, to keep catch-up deltas small.
        """
        cutoff = now_ms() - older_than_ms
        head = self.head
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                select(t.changes.c.doc_id)
                .where(t.changes.c.committed_at <= cutoff, t.changes.c.seq <= head)
                .group_by(t.changes.c.doc_id)
                .limit(max_docs)
            )
            doc_ids = [r[0] for r in rows]
        for doc_id in doc_ids:
            async with self.engine.begin() as conn:
                snap = (
                    await conn.execute(
                        select(t.snapshots.c.state, t.snapshots.c.seq).where(
                            t.snapshots.c.doc_id == doc_id
                        )
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
                    continue
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
                    delete(t.changes).where(
                        and_(t.changes.c.doc_id == doc_id, t.changes.c.seq <= upto)
                    )
                )
        return len(doc_ids)


def _bind(name: str) -> Any:
    from sqlalchemy import bindparam

    return bindparam(name)


class Compactor:
    """Runs `Log.compact` in the background every `interval` seconds."""

    def __init__(self, log_: Log, *, interval: float, retention_ms: int) -> None:
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
