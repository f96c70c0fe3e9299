"""Field history: which fields each committed change touched, kept beside the log."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from sync.log import Append

from . import tables as t


def _json(v: Any) -> str | None:
    return None if v is None else json.dumps(v, ensure_ascii=False, sort_keys=True)


def changed_fields(
    before: Mapping[str, Any] | None, after: Mapping[str, Any]
) -> list[tuple[str, Any, Any]]:
    """(field, old, new) for every top-level field that differs; lists compare whole."""
    before = before or {}
    out = []
    for key in sorted(set(before) | set(after)):
        old, new = before.get(key), after.get(key)
        if old != new:
            out.append((key, old, new))
    return out


async def record_history(conn: AsyncConnection, appends: Iterable[Append]) -> None:
    rows = []
    for a in appends:
        if a.record is None:
            continue
        for field, old, new in changed_fields(a.record_before, a.record):
            rows.append(
                {
                    "seq": a.seq,
                    "doc_id": a.doc_id,
                    "user_id": a.user_id,
                    "device_id": a.device_id,
                    "received_at": a.received_at,
                    "committed_at": a.committed_at,
                    "field": field,
                    "old": _json(old),
                    "new": _json(new),
                }
            )
    if rows:
        await conn.execute(insert(t.field_history), rows)


async def history_of(conn: AsyncConnection, doc_id: str) -> list[dict[str, Any]]:
    """Every change of a record, oldest first: seq, who, device, when, and the fields."""
    rows = await conn.execute(
        select(t.field_history).where(t.field_history.c.doc_id == doc_id)
        .order_by(t.field_history.c.seq, t.field_history.c.field)
    )
    changes: dict[int, dict[str, Any]] = {}
    for r in rows:
        c = changes.setdefault(
            r.seq,
            {
                "seq": r.seq,
                "user_id": r.user_id,
                "device_id": r.device_id,
                "received_at": r.received_at,
                "committed_at": r.committed_at,
                "fields": [],
            },
        )
        c["fields"].append(
            {
                "field": r.field,
                "old": None if r.old is None else json.loads(r.old),
                "new": None if r.new is None else json.loads(r.new),
            }
        )
    return list(changes.values())
