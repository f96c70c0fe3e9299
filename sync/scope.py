"""Scopes: who may read and write which doc, asked of one policy interface.

A doc has direct *grantees* (stored in `sync_grants`); a reader sees the docs granted to
anyone in their *visible* set (themselves and their reports, transitively), or everything.
The record rules plug in their own `ScopePolicy`; `CreatorPolicy` is the interim one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol


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


class CreatorPolicy:
    """A doc belongs to its creator; managers up the tree and admins see it too."""

    def grantees(self, facts: DocFacts) -> frozenset[str]:
        return frozenset({facts.created_by})

    def may_create(self, principal: Principal, kind: str) -> bool:
        return True

    def may_write(self, principal: Principal, grantees: frozenset[str]) -> bool:
        return principal.sees(grantees)
