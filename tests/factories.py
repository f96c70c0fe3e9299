"""Records as a rep's phone would write them: the schema's samples without server-owned fields."""

from __future__ import annotations

from typing import Any

from schema import samples

SERVER_OWNED = ("owner", "code", "security_level", "merged_into", "shared_with")


def new_customer(user_id: str, **over: Any) -> dict[str, Any]:
    """A valid customer card created by `user_id`. An override of None leaves a field out
    (e.g. credit_code=None, so that two test cards do not share the one hard identity key)."""
    rec = samples.customer(created_by=user_id)
    for k in SERVER_OWNED:
        rec.pop(k, None)
    rec.update(over)
    return {k: v for k, v in rec.items() if v is not None}
