"""Who a record belongs to, from its kind's `Whose` declaration: the one rule behind every
door (sync, `/yjs`, the read API, the back office, exports, blobs)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from schema.kinds import get_kind


def grantees(
    kind: str,
    record: Mapping[str, Any],
    created_by: str,
    related: Mapping[str, Mapping[str, Any]] | None = None,
) -> frozenset[str]:
    """The users `record` belongs to directly. `related` holds the records its `via` fields
    name (a visit's customer), by doc id; one missing adds nobody."""
    whose = get_kind(kind).whose
    if whose.gone and record.get(whose.gone) or any(record.get(f) for f in whose.away):
        return frozenset()
    users: set[str] = set()
    owner = record.get(whose.owner) if whose.owner else None
    if isinstance(owner, str) and owner:
        users.add(owner)
    if whose.author or not (isinstance(owner, str) and owner):
        users.add(created_by)
    if whose.shared and not (whose.private and record.get(whose.private)):
        users.update(u for u in record.get(whose.shared) or () if isinstance(u, str))
    for name in whose.via:
        ref = record.get(name)
        if not isinstance(ref, str) or related is None or (other := related.get(ref)) is None:
            continue
        ref_kind = get_kind(kind).field(name).ref_kind or ref.split(":", 1)[0]
        users |= grantees(ref_kind, other, str(other.get("created_by") or ""))
    users.discard("")
    return frozenset(users)


def grantees_before_gone(kind: str, record: Mapping[str, Any], created_by: str) -> frozenset[str]:
    """Whom a gone record (a merged card) belonged to just before: a merge sets only the
    `gone` field, so the others still say whose it was."""
    gone = get_kind(kind).whose.gone
    return grantees(kind, {**record, gone: None} if gone else record, created_by)
