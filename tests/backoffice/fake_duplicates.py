"""A stand-in for `services.duplicates` with the interface the back office is built
against, used while the real one (`server/duplicates.py`) has not landed."""

from __future__ import annotations

from dataclasses import dataclass, replace

from sync.log import now_ms


@dataclass(frozen=True)
class Candidate:
    id: int
    doc_a: str
    doc_b: str
    reason: str
    score: float
    created_at: int
    status: str = "open"


@dataclass(frozen=True)
class MergeRecord:
    id: int
    survivor: str
    duplicate: str
    rule: str
    at: int
    actor: str | None
    undone_at: int | None = None


class FakeDuplicates:
    def __init__(self) -> None:
        self._candidates: dict[int, Candidate] = {}
        self._merges: dict[int, MergeRecord] = {}
        self.calls: list[tuple[str, object, object, str]] = []

    def add(self, doc_a: str, doc_b: str, reason: str = "similar_name", score: float = 0.9
            ) -> Candidate:
        c = Candidate(len(self._candidates) + 1, doc_a, doc_b, reason, score, now_ms())
        self._candidates[c.id] = c
        return c

    async def candidates(self, status: str = "open") -> list[Candidate]:
        return [c for c in self._candidates.values() if c.status == status]

    async def merge(self, survivor_id: str, duplicate_id: str, actor_user_id: str) -> int:
        self.calls.append(("merge", survivor_id, duplicate_id, actor_user_id))
        for c in list(self._candidates.values()):
            if {c.doc_a, c.doc_b} == {survivor_id, duplicate_id}:
                self._candidates[c.id] = replace(c, status="merged")
        m = MergeRecord(len(self._merges) + 1, survivor_id, duplicate_id, "similar_name",
                        now_ms(), actor_user_id)
        self._merges[m.id] = m
        return m.id

    async def dismiss(self, candidate_id: int, actor_user_id: str) -> None:
        self.calls.append(("dismiss", candidate_id, None, actor_user_id))
        c = self._candidates[candidate_id]
        self._candidates[candidate_id] = replace(c, status="dismissed")

    async def merges(self) -> list[MergeRecord]:
        return sorted(self._merges.values(), key=lambda m: -m.at)

    async def undo(self, merge_id: int, actor_user_id: str) -> None:
        self.calls.append(("undo", merge_id, None, actor_user_id))
        self._merges[merge_id] = replace(self._merges[merge_id], undone_at=now_ms())
