"""Every record rule, broken through /sync and through /yjs: the error names doc, field and
rule; the server's copy and projection are unchanged; the device keeps the change; others
are unaffected."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from pycrdt import Doc
from sqlalchemy import select
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from schema import samples
from schema import tables as st
from schema.ydoc import update_fields, write_record
from sync import protocol as p
from sync.client import SyncClient
from tests.conftest import LiveServer
from tests.factories import new_customer

pytestmark = pytest.mark.asyncio

T0 = samples.T0
CASES: list[tuple[str, str, dict[str, Any], str, str]] = [
    # id, kind, change, field, rule
    ("phone", "customer", {"phone": "12345"}, "phone", "format.phone"),
    ("email", "customer", {"email": "not-an-email"}, "email", "format.email"),
    ("website", "customer", {"website": "https://www.x.com"}, "website", "format.website"),
    ("profile", "customer", {"profile": "简" * 51}, "profile", "max_length"),
    ("credit", "customer", {"credit_code": "91350100M000100Y44"}, "credit_code",
     "format.credit_code"),
    ("category", "customer", {"category": "retail"}, "category", "enum"),
    ("level", "customer", {"level": 9}, "level", "range"),
    ("owner", "customer", {"owner": "someone-else"}, "owner", "permission"),
    ("code", "customer", {"code": "KH9999"}, "code", "server_only"),
    ("created_by", "customer", {"created_by": "someone-else"}, "created_by", "immutable"),
    ("mobile", "customer", {"contacts": [{"id": "c-9", "name": "张宏", "mobile": "2345"}]},
     "contacts[0].mobile", "format.mobile"),
    ("required", "customer", {"name": None}, "name", "required"),
    ("time_order", "visit", {"ended_at": T0 - 1}, "ended_at", "time_order"),
    ("no_answer", "visit", {"result": "未接通"}, "result", "no_answer"),
    ("visit_type", "visit", {"visit_type": "teleport"}, "visit_type", "enum"),
    ("subject", "service", {"subject": "随便写的主题"}, "subject", "service.subject"),
    ("completed", "service", {"status": "completed", "completed_at": None}, "completed_at",
     "service.completed_needs_time"),
    ("probability", "deal", {"probability": 55}, "probability", "deal.probability"),
    ("lost", "deal", {"deal_class": "lost", "stage": 0, "probability": 0, "lost_reason": None},
     "lost_reason", "deal.lost_reason"),
    ("progress", "progress", {"detail": "无人接听"}, "detail", "no_answer"),
]


def base_record(kind: str, user_id: str, customer_id: str, deal_id: str) -> dict[str, Any]:
    if kind == "customer":
        return new_customer(user_id)
    extra = {"deal_id": deal_id} if kind == "progress" else {}
    rec: dict[str, Any] = getattr(samples, kind)(created_by=user_id, customer_id=customer_id,
                                                 **extra)
    return rec


async def projection(server: LiveServer, kind: str, doc_id: str) -> dict[str, Any]:
    table = st.KIND_TABLES[kind]
    async with server.services.engine.connect() as conn:
        row = (await conn.execute(select(table).where(table.c.doc_id == doc_id))).one()
    return dict(row._mapping)


async def _yjs_session(server: LiveServer, doc_id: str) -> tuple[Any, Doc[Any]]:
    ws = await connect(f"{server.ws}/yjs/{doc_id}?token={server.tokens['rep1']}")
    doc: Doc[Any] = Doc()
    await ws.send(p.encode_y_sync(p.SyncMessageType.STEP1, doc.get_state()))
    while True:
        _, kind, payload = p.decode_y_message(await ws.recv())
        if kind == p.SyncMessageType.STEP1:
            await ws.send(p.encode_y_sync(p.SyncMessageType.STEP2, doc.get_update(payload)))
        else:
            doc.apply_update(payload)
            if kind == p.SyncMessageType.STEP2:
                return ws, doc


@pytest.mark.parametrize(("kind", "change", "field", "rule"),
                         [c[1:] for c in CASES], ids=[c[0] for c in CASES])
async def test_a_broken_rule_is_refused_on_both_endpoints(
    live_server: LiveServer, kind: str, change: dict[str, Any], field: str, rule: str
) -> None:
    team = live_server.team
    dev, bystander = SyncClient("phone"), SyncClient("other-phone")
    cid, did = samples.new_id("customer"), samples.new_id("deal")
    doc_id = cid if kind == "customer" else samples.new_id(kind)
    async with dev.connect(f"{live_server.ws}/sync", live_server.tokens["rep1"]):
        await dev.wait_caught_up()
        write_record(dev.doc(cid), "customer", base_record("customer", team.rep1.id, cid, did))
        write_record(dev.doc(did), "deal", base_record("deal", team.rep1.id, cid, did))
        if doc_id not in (cid, did):
            write_record(dev.doc(doc_id), kind, base_record(kind, team.rep1.id, cid, did))
        await dev.wait_flushed()
        assert not dev.errors, dev.errors
        await live_server.services.edits.settle()
        live = await live_server.services.hub.open(doc_id, kind)
        before, row_before = dict(live.record), await projection(live_server, kind, doc_id)

        # through /sync
        update_fields(dev.doc(doc_id), kind, change)
        await dev.wait_flushed()
        err = dev.errors[-1]
        assert (err.doc, err.code, err.field, err.rule) == (doc_id, "invalid", field, rule)
        assert err.message and err.message_zh
        assert dev.outbox and dev.outbox[-1].refused is not None  # kept, marked
        assert dev.connected
        async with bystander.connect(f"{live_server.ws}/sync", live_server.tokens["rep2"]):
            await bystander.wait_caught_up()
            other = samples.new_id("customer")
            rec = base_record("customer", team.rep2.id, other, did)
            rec.update(name="上海明远精密机械有限公司", credit_code=None, phone="021-55556666",
                       address="上海市浦东新区张江路1号")
            write_record(bystander.doc(other), "customer",
                         {k: v for k, v in rec.items() if v is not None})
            await bystander.wait_flushed()
            assert not bystander.errors

    # through /yjs, with a stock client's messages
    ws, doc = await _yjs_session(live_server, doc_id)
    try:
        state = doc.get_state()
        update_fields(doc, kind, change)
        await ws.send(p.encode_y_sync(p.SyncMessageType.UPDATE, doc.get_update(state)))
        with pytest.raises(ConnectionClosed) as closed:
            async with asyncio.timeout(10):
                while True:
                    await ws.recv()
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == p.CloseCode.INVALID_UPDATE
        assert field in closed.value.rcvd.reason and rule in closed.value.rcvd.reason
    finally:
        await ws.close()

    live = await live_server.services.hub.open(doc_id, kind)
    assert live.record == before
    assert await projection(live_server, kind, doc_id) == row_before


async def test_a_deal_only_on_a_direct_customer(live_server: LiveServer) -> None:
    team = live_server.team
    dev = SyncClient("phone")
    cid, did = samples.new_id("customer"), samples.new_id("deal")
    async with dev.connect(f"{live_server.ws}/sync", live_server.tokens["rep1"]):
        await dev.wait_caught_up()
        cust = base_record("customer", team.rep1.id, cid, did)
        cust["category"] = "distributor"
        write_record(dev.doc(cid), "customer", cust)
        await dev.wait_flushed()
        write_record(dev.doc(did), "deal", base_record("deal", team.rep1.id, cid, did))
        await dev.wait_flushed()
        err = dev.errors[-1]
        assert (err.doc, err.field, err.rule) == (did, "customer_id",
                                                  "deal.direct_customer_only")
    live = await live_server.services.hub.open(did, "deal")
    assert not live.exists
