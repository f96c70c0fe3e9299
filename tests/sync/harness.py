"""Drives the real log, hub and sessions over in-memory transports (no sockets)."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pycrdt import Doc, Map
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from server.accounts import Accounts, User
from sync import tables as t
from sync.client import SyncClient
from sync.hub import Hub, Rules
from sync.log import CommitHook, Log
from sync.scope import DocFacts, Principal, ScopePolicy
from sync.session import SessionLimits, SyncSession
from sync.transport import MemoryTransport, memory_pair

KINDS = ("customer", "visit", "service", "deal", "progress")


def new_id(kind: str = "visit") -> str:
    return f"{kind}:{uuid.uuid4()}"


@dataclass(frozen=True, slots=True)
class RuleBroken:
    """Why an update was refused: the field and rule it broke, in English and zh-CN."""

    field: str
    rule: str
    message: str
    message_zh: str


class LayoutRules:
    """The layout rule alone: one root map named `record`, so the sync layer is tested apart
    from the schema's rules."""

    def __init__(self, kinds: Iterable[str]) -> None:
        self.kinds = frozenset(kinds)

    def read(
        self, kind: str, doc: Doc[Any], *, whole: bool = False
    ) -> tuple[dict[str, Any], list[RuleBroken]]:
        extra = sorted(k for k in doc.keys() if k != "record")
        if extra:
            return {}, [
                RuleBroken(
                    extra[0],
                    "layout.root",
                    f"a record doc has one root map named 'record', not {extra[0]!r}",
                    f"记录文档只能有一个名为 'record' 的根映射，不能有 {extra[0]!r}",
                )
            ]
        return dict(doc.get("record", type=Map).to_py() or {}), []

    def related_ids(self, kind: str, record: Mapping[str, Any]) -> set[str]:
        return set()

    def redirect(self, kind: str, record: Mapping[str, Any]) -> str | None:
        return None

    def validate(
        self,
        kind: str,
        before: Mapping[str, Any] | None,
        after: Mapping[str, Any],
        principal: Principal,
        related: Mapping[str, Mapping[str, Any]],
    ) -> list[RuleBroken]:
        return []


class CreatorPolicy:
    """A doc belongs to its creator; managers up the tree and admins see it too."""

    def grantees(self, facts: DocFacts) -> frozenset[str]:
        return frozenset({facts.created_by})

    def may_create(self, principal: Principal, kind: str) -> bool:
        return True

    def may_write(self, principal: Principal, grantees: frozenset[str]) -> bool:
        return principal.sees(grantees)


class OwnerPolicy(CreatorPolicy):
    """A doc belongs to its `owner` field when set, else to its creator.

    The shape the record rules take (a reassignment moves a doc between briefcases).
    """

    def grantees(self, facts: DocFacts) -> frozenset[str]:
        owner = facts.record.get("owner")
        return frozenset({owner if isinstance(owner, str) and owner else facts.created_by})


@dataclass
class Harness:
    engine: AsyncEngine
    log: Log
    hub: Hub
    accounts: Accounts
    sessions: list[tuple[SyncSession, asyncio.Task[None]]] = field(default_factory=list)

    async def principal(self, user: User) -> Principal:
        return await self.accounts.principal(user)

    async def transport_for(
        self, user: User, limits: SessionLimits | None = None, buffer: int = 10_000
    ) -> tuple[MemoryTransport, SyncSession]:
        device_end, server_end = memory_pair(buffer)
        session = SyncSession(
            self.hub, server_end, await self.principal(user), limits=limits or SessionLimits()
        )
        task = asyncio.create_task(session.run())
        self.sessions.append((session, task))
        return device_end, session

    @contextlib.asynccontextmanager
    async def online(
        self, client: SyncClient, user: User, limits: SessionLimits | None = None
    ) -> AsyncIterator[SyncClient]:
        transport, _ = await self.transport_for(user, limits)
        async with client.attach(transport):
            await client.wait_caught_up()
            yield client

    async def log_rows(self, doc_id: str | None = None) -> int:
        async with self.engine.connect() as conn:
            q = select(func.count()).select_from(t.changes)
            if doc_id is not None:
                q = q.where(t.changes.c.doc_id == doc_id)
            return int(await conn.scalar(q) or 0)

    async def server_state(self, doc_id: str) -> bytes:
        states = await self.log.reader.states([doc_id])
        return states[doc_id][0]

    async def server_record(self, doc_id: str) -> dict[str, Any]:
        """The record as stored: loaded fresh from the database, not from memory."""
        from pycrdt import Doc, Map

        states = await self.log.reader.states([doc_id])
        if doc_id not in states:
            return {}
        doc: Doc = Doc()
        doc.apply_update(states[doc_id][0])
        return dict(doc.get("record", type=Map).to_py() or {})


@contextlib.asynccontextmanager
async def harness(
    engine: AsyncEngine,
    *,
    policy: ScopePolicy | None = None,
    rules: Rules | None = None,
    on_commit: CommitHook | None = None,
) -> AsyncIterator[Harness]:
    async with Log(engine, on_commit=on_commit) as log:
        hub = Hub(log, policy=policy or CreatorPolicy(), rules=rules or LayoutRules(KINDS))
        h = Harness(engine, log, hub, Accounts(engine))
        try:
            yield h
        finally:
            for session, _task in h.sessions:
                session.close_soon(1001, "test over")
            for _, task in h.sessions:
                with contextlib.suppress(Exception, asyncio.CancelledError):
                    async with asyncio.timeout(5):
                        await task
