"""Rebuild every projection from the docs: `waiqin reproject`.

The projection is a pure function of a doc's record and its metadata (last sequence, last
commit time, first receipt), all of which outlive log compaction, so a rebuild yields the
same tables as the live path wrote.
"""

from __future__ import annotations

from typing import Any

from pycrdt import Doc
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncEngine

from schema import tables as st
from sync import tables as t
from sync.log import load_states

from .records import SchemaRules

BATCH = 200


async def reproject(engine: AsyncEngine) -> int:
    """Drop and rebuild all projection rows; returns the number of records projected."""
    rules = SchemaRules()
    async with engine.connect() as conn:
        docs = [
            (r.doc_id, r.kind, r.last_seq, r.last_committed_at, r.first_received_at)
            for r in await conn.execute(
                select(t.docs.c.doc_id, t.docs.c.kind, t.docs.c.last_seq,
                       t.docs.c.last_committed_at, t.docs.c.first_received_at)
                .order_by(t.docs.c.doc_id)
            )
        ]
    async with engine.begin() as conn:
        for table in reversed(st.metadata.sorted_tables):
            await conn.execute(delete(table))
    count = 0
    for i in range(0, len(docs), BATCH):
        part = docs[i : i + BATCH]
        async with engine.begin() as conn:
            states = await load_states(conn, [d[0] for d in part])
            for doc_id, kind, last_seq, committed_at, received_at in part:
                if doc_id not in states or kind not in rules.kinds:
                    continue
                doc: Doc[Any] = Doc()
                doc.apply_update(states[doc_id][0])
                record, _ = rules.read(kind, doc)
                meta = st.ProjectionMeta(last_seq, committed_at, received_at)
                await st.project(conn, doc_id, kind, record, meta)
                count += 1
    return count
