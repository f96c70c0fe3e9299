"""Reading the log: the head, docs' metadata and grants, whole states and deltas, and what a
device's scope gained or lost since its cursor.

The functions take a connection, for callers inside a transaction of their own; the hub and
the sessions read through `Reader`, which owns the connections (one for a whole catch-up
round) and never hands out the engine.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence

from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from .. import tables as t
from .items import DeviceState, DocMeta
from .sql import SEQ, chunks, merge


async def read_head(conn: AsyncConnection) -> int:
    v = await conn.scalar(select(t.counters.c.value).where(t.counters.c.name == SEQ))
    return int(v or 0)

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
    conn: AsyncConnection, doc_ids: Sequence[str], upto: int | None = None
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
    conn: AsyncConnection, visible: frozenset[str] | None, after: int, upto: int
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


async def device_row(conn: AsyncConnection, user_id: str, device_id: str) -> DeviceState | None:
    row = (
        await conn.execute(
            select(t.devices).where(
                t.devices.c.user_id == user_id, t.devices.c.device_id == device_id
            )
        )
    ).first()
    if row is None:
        return None
    return DeviceState(
        row.last_clock, row.first_seen_at, row.last_contact_at, row.revoked_at,
        bool(row.needs_reset),
    )


class Reads:
    """Several reads on one connection (a catch-up round: its scope query and its chunks)."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def head(self) -> int:
        return await read_head(self._conn)

    async def metas(self, doc_ids: Sequence[str]) -> dict[str, DocMeta]:
        return await doc_metas(self._conn, doc_ids)

    async def states(
        self, doc_ids: Sequence[str], upto: int | None = None
    ) -> dict[str, tuple[bytes, int]]:
        return await load_states(self._conn, doc_ids, upto)

    async def deltas(
        self,
        doc_ids: Sequence[str],
        after: int,
        upto: int,
        *,
        exclude_device: tuple[str, str] | None = None,
    ) -> tuple[dict[str, tuple[bytes, int]], list[str]]:
        return await load_deltas(
            self._conn, doc_ids, after, upto, exclude_device=exclude_device)

    async def scope_changes(
        self, visible: frozenset[str] | None, after: int, upto: int
    ) -> tuple[list[str], list[str], list[tuple[str, str]]]:
        return await scope_changes(self._conn, visible, after, upto)

    async def grantees_before_redirect(self, doc_id: str) -> frozenset[str]:
        return await grantees_before_redirect(self._conn, doc_id)

    async def device(self, user_id: str, device_id: str) -> DeviceState | None:
        return await device_row(self._conn, user_id, device_id)

    async def compactable(self, cutoff: int, head: int, limit: int) -> list[str]:
        """Docs with log rows committed by `cutoff` and dispatched (seq <= `head`)."""
        rows = await self._conn.execute(
            select(t.changes.c.doc_id)
            .where(t.changes.c.committed_at <= cutoff, t.changes.c.seq <= head)
            .group_by(t.changes.c.doc_id)
            .limit(limit)
        )
        return [r[0] for r in rows]

    async def refusal_detail(
        self, user_id: str, device_id: str, clock: int, doc_id: str | None
    ) -> str | None:
        query = select(t.refusals.c.detail).where(
            t.refusals.c.user_id == user_id,
            t.refusals.c.device_id == device_id,
            t.refusals.c.clock == clock,
        )
        if doc_id is not None:
            query = query.where(t.refusals.c.doc_id == doc_id)
        raw = await self._conn.scalar(query)
        return None if raw is None else str(raw)


class Reader:
    """The log's reads for the hub and the sessions: `async with reader.reads() as r:` for
    several on one connection, or one of the shortcuts, each on a connection of its own."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    @contextlib.asynccontextmanager
    async def reads(self) -> AsyncIterator[Reads]:
        async with self._engine.connect() as conn:
            yield Reads(conn)

    async def metas_and_states(
        self, doc_ids: Sequence[str]
    ) -> tuple[dict[str, DocMeta], dict[str, tuple[bytes, int]]]:
        """Metadata of the docs that exist, and their whole states (a hub's doc loads)."""
        async with self.reads() as r:
            metas = await r.metas(doc_ids)
            known = [d for d in doc_ids if d in metas]
            states = await r.states(known) if known else {}
        return metas, states

    async def states(
        self, doc_ids: Sequence[str], upto: int | None = None
    ) -> dict[str, tuple[bytes, int]]:
        async with self.reads() as r:
            return await r.states(doc_ids, upto)

    async def grantees_before_redirect(self, doc_id: str) -> frozenset[str]:
        async with self.reads() as r:
            return await r.grantees_before_redirect(doc_id)

    async def device(self, user_id: str, device_id: str) -> DeviceState | None:
        async with self.reads() as r:
            return await r.device(user_id, device_id)

    async def refusal_detail(
        self, user_id: str, device_id: str, clock: int, doc_id: str | None = None
    ) -> str | None:
        async with self.reads() as r:
            return await r.refusal_detail(user_id, device_id, clock, doc_id)
