"""Attachments seen from the records: who may read a blob, and which blobs records name.

A blob may be read by anyone who can see a record whose attachments name its hash (and,
before any record names it, by its uploader: the blob router checks that itself).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from schema import tables as st
from sync.log import Append, chunks

from .accounts import Accounts
from .blobs import mark_referenced


def attachment_hashes(record: Mapping[str, Any]) -> set[str]:
    items = record.get("attachments") or ()
    return {
        a["sha256"] for a in items if isinstance(a, Mapping) and isinstance(a.get("sha256"), str)
    }


async def reference_blobs(conn: AsyncConnection, appends: Iterable[Append]) -> None:
    """Inside the commit transaction: blobs named by committed records are in use."""
    hashes: set[str] = set()
    for a in appends:
        if a.record is not None:
            hashes |= attachment_hashes(a.record)
    if hashes:
        await mark_referenced(conn, sorted(hashes))


class BlobRights:
    """`can_read` for the blob router: does the user see a record naming this blob?"""

    def __init__(self, engine: AsyncEngine, accounts: Accounts) -> None:
        self.engine = engine
        self.accounts = accounts

    async def __call__(self, user_id: str, sha256: str) -> bool:
        user = await self.accounts.get(user_id)
        if user is None or user.disabled_at is not None:
            return False
        principal = await self.accounts.principal(user)
        table = st.rec_attachment
        async with self.engine.connect() as conn:
            doc_ids = (await conn.execute(
                select(table.c.doc_id).where(table.c.sha256 == sha256).distinct())).scalars()
            return bool(await principal.seen_of(conn, doc_ids))


def named_blobs(engine: AsyncEngine) -> Callable[[set[str]], Awaitable[set[str]]]:
    """For the blob sweep: of these hashes, those some record's attachment still names (after
    a database restored to an earlier time than the store, the photo must stay)."""

    async def named(hashes: set[str]) -> set[str]:
        found: set[str] = set()
        table = st.rec_attachment
        async with engine.connect() as conn:
            for part in chunks(sorted(hashes)):
                found.update(
                    r[0]
                    for r in await conn.execute(
                        select(table.c.sha256).where(table.c.sha256.in_(part)).distinct()
                    )
                )
        return found

    return named
