"""SQL helpers shared by the log and the server's own modules: times, chunked IN lists,
upserts in either dialect, and the reset mark a moved reporting tree needs."""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from typing import Any

from pycrdt import merge_updates
from sqlalchemy import Table, bindparam, update
from sqlalchemy.ext.asyncio import AsyncConnection

from .. import tables as t

SEQ = "seq"  # the counter row that hands out sequence numbers
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


def bind(name: str) -> Any:
    """A named parameter, for one statement run with many rows (executemany)."""
    return bindparam(name)


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
