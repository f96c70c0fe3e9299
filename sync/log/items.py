"""What travels through the log: updates and refusals on their way to a commit, the
server's own writes, device contacts, and the rows read back about docs and devices."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection


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
class Queued:
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
