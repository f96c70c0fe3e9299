"""The blob tables: what each stored blob is, who uploaded it, and uploads in progress.

A row in ``blobs`` exists only once the bytes are whole in the store, so a row is the
definition of "this blob exists". ``referenced_at`` is set by the records layer through
``mark_referenced``; a blob with none is collected ``grace`` after ``touched_at``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    exists,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection

metadata = MetaData()

blobs = Table(
    "blobs",
    metadata,
    Column("sha256", String(64), primary_key=True),
    Column("media_type", String(64), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("width", Integer),
    Column("height", Integer),
    Column("uploaded_by", String(128), nullable=False),
    Column("uploaded_at", DateTime(timezone=True), nullable=False),
    # Last upload, dedup hit or release: the grace period before collection runs from here.
    Column("touched_at", DateTime(timezone=True), nullable=False),
    # None while no record refers to the blob.
    Column("referenced_at", DateTime(timezone=True)),
    Index("ix_blobs_unreferenced", "referenced_at", "touched_at"),
)

# Everyone who has sent the whole bytes of a blob: they may read it while it is unreferenced,
# and may skip re-sending it. Knowing a hash alone grants nothing.
blob_uploaders = Table(
    "blob_uploaders",
    metadata,
    Column("sha256", String(64), primary_key=True),
    Column("user_id", String(128), primary_key=True),
    Column("uploaded_at", DateTime(timezone=True), nullable=False),
)

blob_uploads = Table(
    "blob_uploads",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("owner", String(128), nullable=False, index=True),
    Column("sha256", String(64), nullable=False),
    Column("media_type", String(64), nullable=False),
    Column("length", BigInteger, nullable=False),
    # Bytes known durable in the part file; only ever set to ``length`` once the blob exists.
    Column("offset", BigInteger, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("completed_at", DateTime(timezone=True)),
)


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """SQLite hands timestamps back naive; they were written in UTC."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


async def mark_referenced(
    conn: AsyncConnection, sha256s: Iterable[str], *, now: datetime | None = None
) -> set[str]:
    """Record that a record now refers to these blobs, in the caller's transaction.
    Returns the hashes that name no stored blob (not uploaded yet, or collected)."""
    wanted = set(sha256s)
    if not wanted:
        return set()
    now = now or utcnow()
    await conn.execute(update(blobs).where(blobs.c.sha256.in_(wanted)).values(referenced_at=now))
    found = await conn.execute(select(blobs.c.sha256).where(blobs.c.sha256.in_(wanted)))
    return wanted - {row.sha256 for row in found}


async def mark_unreferenced(
    conn: AsyncConnection, sha256s: Iterable[str], *, now: datetime | None = None
) -> None:
    """Record that no record refers to these blobs any more; collection is due ``grace``
    from now. Only the caller knows that *no* record refers to them."""
    wanted = set(sha256s)
    if wanted:
        now = now or utcnow()
        await conn.execute(
            update(blobs)
            .where(blobs.c.sha256.in_(wanted))
            .values(referenced_at=None, touched_at=now)
        )


async def has_uploaded(conn: AsyncConnection, user_id: str, sha256: str) -> bool:
    """Whether ``user_id`` has sent the bytes of this blob. The records layer should accept
    an attachment naming a blob only from a user who uploaded it or can already read it:
    otherwise knowing a hash would be enough to read a photo."""
    query = select(
        exists().where(blob_uploaders.c.sha256 == sha256, blob_uploaders.c.user_id == user_id)
    )
    return bool(await conn.scalar(query))
