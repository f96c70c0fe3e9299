"""Field history: which fields each committed change touched, kept beside the log.

A change to an existing record is one row per field it changed (old and new value as JSON).
A new record's history is its first state: one row, field `FIRST_STATE`, whose `new` is the
whole record as one JSON object (a new customer is ~25 fields: one row and one encoding
instead of 25). `history_of` reads it back as the fields it set, the same answer as one row
per field would give.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from sync.log import Append

from . import tables as t

FIRST_STATE = "*"
"""The `field` of a new record's one history row (no field is named so)."""

_INSERT = insert(t.field_history)  # compiled once, then cached: executemany per commit
_dumps = json.JSONEncoder(ensure_ascii=False, sort_keys=True).encode


def _json(v: Any) -> str | None:
    return None if v is None else _dumps(v)


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


def history_rows(appends: Iterable[Append]) -> list[dict[str, Any]]:
    """The `field_history` rows of a commit's appends."""
    rows = []
    for a in appends:
        if a.record is None:
            continue
        if a.record_before is None:
            first = {k: v for k, v in a.record.items() if v is not None}
            if first:
                rows.append({
                    "seq": a.seq, "doc_id": a.doc_id, "user_id": a.user_id,
                    "device_id": a.device_id, "received_at": a.received_at,
                    "committed_at": a.committed_at, "field": FIRST_STATE, "old": None,
                    "new": _dumps(first),
                })
            continue
        for field, old, new in changed_fields(a.record_before, a.record):
            rows.append({
                "seq": a.seq, "doc_id": a.doc_id, "user_id": a.user_id,
                "device_id": a.device_id, "received_at": a.received_at,
                "committed_at": a.committed_at, "field": field, "old": _json(old),
                "new": _json(new),
            })
    return rows


async def record_history(conn: AsyncConnection, appends: Iterable[Append]) -> None:
    rows = history_rows(appends)
    if rows:
        await conn.execute(_INSERT, rows)


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
        if r.field == FIRST_STATE:
            first = json.loads(r.new) if r.new is not None else {}
            c["fields"].extend(
                {"field": k, "old": None, "new": v} for k, v in sorted(first.items()))
            continue
        c["fields"].append(
            {
                "field": r.field,
                "old": None if r.old is None else json.loads(r.old),
                "new": None if r.new is None else json.loads(r.new),
            }
        )
    return list(changes.values())
