"""Field history: a new record is one row (its first state), an edit one row per field,
and `history_of` reads both back as fields."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from schema import samples
from server import tables as t
from server.history import FIRST_STATE, changed_fields, history_of, record_history
from sync.log import Append

pytestmark = pytest.mark.asyncio


def _append(doc_id: str, seq: int, before: dict[str, object] | None,
            after: dict[str, object]) -> Append:
    return Append(doc_id, "customer", b"", "u1", "d1", seq, 1000 + seq, record=after,
                  record_before=before, seq=seq, committed_at=2000 + seq)


async def test_a_new_record_is_one_row_and_reads_back_as_its_fields(engine: AsyncEngine) -> None:
    doc_id = samples.new_id("customer")
    card = samples.customer(credit_code=None, attachments=[])
    edited = {**card, "name": card["name"] + "二部", "credit_code": "91110000X"}
    async with engine.begin() as conn:
        await record_history(conn, [_append(doc_id, 1, None, card)])
        await record_history(conn, [_append(doc_id, 2, card, edited)])
    async with engine.connect() as conn:
        rows = list(await conn.execute(
            select(t.field_history.c.seq, t.field_history.c.field)
            .where(t.field_history.c.doc_id == doc_id).order_by(t.field_history.c.seq,
                                                                t.field_history.c.field)))
        history = await history_of(conn, doc_id)
        total = await conn.scalar(select(func.count()).select_from(t.field_history))
    # one row for the card however many fields it has; the edit one per field it changed
    assert rows == [(1, FIRST_STATE), (2, "credit_code"), (2, "name")]
    assert total == 3
    first, second = history
    # the same fields, values and order as one row per field (the old layout) would read
    assert first["fields"] == [
        {"field": f, "old": old, "new": new} for f, old, new in changed_fields(None, card)]
    assert all(f["new"] is not None for f in first["fields"]) and len(first["fields"]) > 10
    assert (first["seq"], first["user_id"], first["device_id"], first["received_at"],
            first["committed_at"]) == (1, "u1", "d1", 1001, 2001)
    assert second["fields"] == [
        {"field": "credit_code", "old": None, "new": "91110000X"},
        {"field": "name", "old": card["name"], "new": edited["name"]},
    ]


async def test_rows_of_the_old_layout_still_read(engine: AsyncEngine) -> None:
    """Histories written before the first-state row (one row per field of a new record)."""
    doc_id = samples.new_id("customer")
    async with engine.begin() as conn:
        await conn.execute(t.field_history.insert(), [
            {"seq": 7, "doc_id": doc_id, "user_id": "u", "device_id": "d", "received_at": 1,
             "committed_at": 2, "field": f, "old": None, "new": v}
            for f, v in (("name", '"甲公司"'), ("phone", '"010-1"'))])
        history = await history_of(conn, doc_id)
    assert history[0]["fields"] == [{"field": "name", "old": None, "new": "甲公司"},
                                    {"field": "phone", "old": None, "new": "010-1"}]
