"""Scopes: who may read and write which doc, asked of one interface.

A doc has direct *grantees* (the record rules' `ScopePolicy` works them out; they are stored
in `sync_grants`); a `Principal` sees the docs granted to anyone in their *visible* set
(themselves and their reports, transitively), or everything. `Principal` answers both "may
they see this doc" (in memory, from its grantees, or by doc id in SQL) and "the SQL clause
for the docs they see": every door (sync, `/yjs`, the read API, the back office, exports,
blobs) asks it, none works it out alone.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import BindParameter, ColumnElement, Select, bindparam, select
from sqlalchemy.ext.asyncio import AsyncConnection

from . import tables as t
from .log import chunks


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated user as the sync layer sees them."""

    user_id: str
    role: str
    visible: frozenset[str] | None  # users whose grants this principal reads; None: all

    def sees(self, grantees: Iterable[str]) -> bool:
        if self.visible is None:
            return True
        return not self.visible.isdisjoint(grantees)

    @property
    def is_system(self) -> bool:
        return self.role == "system"

    def clause(self, doc_id: ColumnElement[Any]) -> ColumnElement[bool] | None:
        """The SQL condition "this principal sees the doc whose id is in `doc_id`"; None when
        they see everything."""
        if self.visible is None:
            return None
        g = t.grants
        # Rendered into the statement, not bound: a large tree would pass the drivers' limit
        # on bound parameters (user ids are the server's own, never a user's text).
        users: BindParameter[list[str]] = bindparam(
            "visible_users", sorted(self.visible), expanding=True, literal_execute=True,
            unique=True)
        return doc_id.in_(select(g.c.doc_id).where(g.c.user_id.in_(users)))

    def only_seen(self, stmt: Select[Any], doc_id: ColumnElement[Any]) -> Select[Any]:
        """`stmt` limited to the rows whose doc (id in `doc_id`) this principal sees."""
        cond = self.clause(doc_id)
        return stmt if cond is None else stmt.where(cond)

    async def can_see(self, conn: AsyncConnection, doc_id: str) -> bool:
        return bool(await self.seen_of(conn, [doc_id]))

    async def seen_of(self, conn: AsyncConnection, doc_ids: Iterable[str]) -> set[str]:
        """Those of `doc_ids` this principal sees (chunked: any number of ids)."""
        ids = sorted(set(doc_ids))
        if self.visible is None or not ids:
            return set(ids)
        g, seen, users = t.grants, set[str](), sorted(self.visible)
        for part in chunks(ids):
            for upart in chunks(users):
                q = select(g.c.doc_id).where(g.c.doc_id.in_(part), g.c.user_id.in_(upart))
                seen.update(r[0] for r in await conn.execute(q.distinct()))
        return seen


SYSTEM = Principal("system", "system", None)


def subtree(manager_of: Mapping[str, str | None], root: str) -> frozenset[str]:
    """`root` and everyone who reports to them, directly or indirectly."""
    reports: dict[str, list[str]] = {}
    for user, manager in manager_of.items():
        if manager is not None:
            reports.setdefault(manager, []).append(user)
    seen = {root}
    stack = [root]
    while stack:
        for r in reports.get(stack.pop(), ()):
            if r not in seen:  # a cycle in bad data must not loop forever
                seen.add(r)
                stack.append(r)
    return frozenset(seen)


def ancestors(manager_of: Mapping[str, str | None], user: str) -> list[str]:
    """Everyone `user` reports to, directly or indirectly, nearest first."""
    out: list[str] = []
    manager = manager_of.get(user)
    while manager is not None and manager not in out and manager != user:
        out.append(manager)
        manager = manager_of.get(manager)
    return out


@dataclass(frozen=True, slots=True)
class DocFacts:
    """What a policy may know about a doc when deciding its grantees."""

    doc_id: str
    kind: str
    created_by: str
    record: Mapping[str, Any]
    related: Mapping[str, Mapping[str, Any]]


class ScopePolicy(Protocol):
    def grantees(self, facts: DocFacts) -> frozenset[str]:
        """The users a doc belongs to directly (their managers see it through the tree)."""
        ...

    def may_create(self, principal: Principal, kind: str) -> bool: ...

    def may_write(self, principal: Principal, grantees: frozenset[str]) -> bool: ...
