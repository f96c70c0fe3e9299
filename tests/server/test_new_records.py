"""A new customer gets its code and owner from the server (one edit after the card's commit),
its history is its first state then that edit, and codes stay unique across code blocks,
which are reserved ahead."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from schema.ydoc import new_doc
from server import tables as tt
from server.accounts import Accounts
from server.app import commit_hooks
from server.history import FIRST_STATE
from server.records import CODE_BLOCK, SERVER_DEVICE, RecordPolicy, SchemaRules, ServerEdits
from sync import tables as t
from sync.hub import Hub
from sync.log import Append, Log
from sync.scope import Principal
from tests.conftest import PASSWORD
from tests.factories import new_customer

pytestmark = pytest.mark.asyncio


async def test_a_new_customer_is_completed_once_and_its_history_is_two_changes(
    engine: AsyncEngine,
) -> None:
    user = await Accounts(engine).add_user("rep1", PASSWORD, role="rep")
    rep = Principal(user.id, user.role, frozenset({user.id}))
    doc_id = f"customer:{uuid.uuid4()}"
    async with Log(engine, on_commit=commit_hooks) as log_:
        hub = Hub(log_, policy=RecordPolicy(), rules=SchemaRules())
        edits = ServerEdits(hub)
        hub.listeners.append(edits.after_commit)
        card = new_customer(user.id, name="北京第一新创科技有限公司", credit_code=None)
        item = await (await hub.apply(rep, "phone", doc_id,
                                      new_doc("customer", card).get_update(), 1))
        assert isinstance(item, Append)
        await edits.settle()
        assert not edits.errors
        record = (await hub.open(doc_id, "customer")).record
        assert record["code"].startswith("KH") and record["owner"] == user.id
    async with engine.connect() as conn:
        rows = list(await conn.execute(
            select(t.changes.c.seq, t.changes.c.device_id)
            .where(t.changes.c.doc_id == doc_id).order_by(t.changes.c.seq)))
        history = list(await conn.execute(
            select(tt.field_history.c.seq, tt.field_history.c.field)
            .where(tt.field_history.c.doc_id == doc_id)
            .order_by(tt.field_history.c.seq, tt.field_history.c.field)))
    (s1, dev1), (s2, dev2) = rows
    assert (dev1, dev2) == ("phone", SERVER_DEVICE) and s2 > s1
    assert history == [(s1, FIRST_STATE), (s2, "code"), (s2, "owner")]


async def test_a_stream_of_new_customers_gets_unique_codes_across_blocks(
    engine: AsyncEngine,
) -> None:
    user = await Accounts(engine).add_user("rep1", PASSWORD, role="rep")
    rep = Principal(user.id, user.role, frozenset({user.id}))
    n = 2 * CODE_BLOCK + 10  # blocks are reserved ahead, midway through the one in use
    ids = [f"customer:{uuid.uuid4()}" for _ in range(n)]
    named = ids[0]  # a card that names its owner keeps it
    async with Log(engine, on_commit=commit_hooks) as log_:
        hub = Hub(log_, policy=RecordPolicy(), rules=SchemaRules())
        edits = ServerEdits(hub)
        hub.listeners.append(edits.after_commit)
        futs = []
        for i, doc_id in enumerate(ids):
            card = new_customer(user.id, name=f"上海第{i}号新创科技有限公司", credit_code=None)
            if doc_id == named:
                card["owner"] = user.id
            futs.append(await hub.apply(rep, "phone", doc_id,
                                        new_doc("customer", card).get_update(), i + 1))
        assert all(isinstance(x, Append) for x in await asyncio.gather(*futs))
        await edits.settle()
        assert not edits.errors
        records = [(await hub.open(d, "customer")).record for d in ids]
    codes = [r["code"] for r in records]
    assert len(set(codes)) == n and all(c.startswith("KH") for c in codes)
    assert all(r["owner"] == user.id for r in records)
    async with engine.connect() as conn:
        server_rows = list(await conn.execute(
            select(t.changes.c.doc_id).where(t.changes.c.device_id == SERVER_DEVICE)))
    assert sorted(d for (d,) in server_rows) == sorted(ids)  # one completion each, no more
