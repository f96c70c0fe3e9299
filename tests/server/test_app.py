"""The real app on a real port: sessions, tokens, the schema, records through /sync and /yjs."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from pycrdt import Doc, Map
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from schema import samples
from schema.ydoc import update_fields, write_record
from sync import protocol as p
from sync.client import SyncClient
from tests.conftest import PASSWORD, LiveServer
from tests.factories import new_customer

pytestmark = pytest.mark.asyncio


async def test_login_me_logout_and_one_error_shape(live_server: LiveServer) -> None:
    async with httpx.AsyncClient(base_url=live_server.url) as http:
        r = await http.post("/api/session", json={"login": "rep1", "password": PASSWORD})
        assert r.status_code == 201
        token = r.json()["token"]
        assert r.json()["user"]["login"] == "rep1"
        auth = {"Authorization": f"Bearer {token}"}
        assert (await http.get("/api/me", headers=auth)).json()["user"]["role"] == "rep"
        bad = [
            await http.post("/api/session", json={"login": "rep1", "password": "nope"}),
            await http.post("/api/session", content=b"not json"),
            await http.post("/api/session", json={"login": "rep1"}),
            await http.get("/api/me"),
            await http.get("/api/nothing-here"),
        ]
        assert [r.status_code for r in bad] == [401, 400, 400, 401, 404]
        for r in bad:
            body = r.json()
            assert set(body) == {"error"}
            assert isinstance(body["error"]["code"], str) and body["error"]["message"]
        assert bad[2].json()["error"]["field"] == "password"
        assert (await http.delete("/api/session", headers=auth)).status_code == 204
        r = await http.get("/api/me", headers=auth)
        assert r.status_code == 401 and r.json()["error"]["code"] == "revoked_token"


async def test_schema_is_published(live_server: LiveServer) -> None:
    async with httpx.AsyncClient(base_url=live_server.url) as http:
        body = (await http.get("/api/schema")).json()
    kinds = {k["name"] for k in body["kinds"]}
    assert kinds == {"customer", "visit", "service", "deal", "progress", "task", "trip_plan",
                     "trip_report", "expense", "work_report"}


async def test_new_customer_gets_code_and_owner_from_the_server(live_server: LiveServer) -> None:
    rep = live_server.team.rep1
    dev = SyncClient("phone-1")
    doc_id = samples.new_id("customer")
    async with dev.connect(f"{live_server.ws}/sync", live_server.tokens["rep1"]):
        await dev.wait_caught_up()
        write_record(dev.doc(doc_id), "customer", new_customer(rep.id))
        await dev.wait_flushed()
        await dev.wait_for(lambda: bool(dev.read(doc_id).get("code")))
        rec = dev.read(doc_id)
        assert rec["owner"] == rep.id
        assert rec["code"].startswith("KH")
    await live_server.services.edits.settle()
    assert not live_server.services.edits.errors


async def test_invalid_change_is_refused_with_field_and_rule(live_server: LiveServer) -> None:
    rep = live_server.team.rep1
    dev = SyncClient("phone-2")
    doc_id = samples.new_id("customer")
    async with dev.connect(f"{live_server.ws}/sync", live_server.tokens["rep1"]):
        await dev.wait_caught_up()
        write_record(dev.doc(doc_id), "customer", new_customer(rep.id))
        await dev.wait_flushed()
        update_fields(dev.doc(doc_id), "customer", {"phone": "12345"})
        await dev.wait_flushed()
        err = dev.errors[-1]
        assert (err.doc, err.code, err.field, err.rule) == (doc_id, "invalid", "phone",
                                                            "format.phone")
        assert "电话" in err.message_zh
        assert dev.outbox[-1].refused is not None
        # the rep fixes it: the fix travels with the refused change and is accepted
        update_fields(dev.doc(doc_id), "customer", {"phone": "021-63539330-1010"})
        await dev.wait_flushed()
        assert dev.outbox == []
    live = await live_server.services.hub.open(doc_id, "customer")
    assert live.record["phone"] == "021-63539330-1010"


async def test_revoking_a_token_closes_its_live_sockets(live_server: LiveServer) -> None:
    dev = SyncClient("phone-3")
    token = live_server.tokens["rep2"]
    async with dev.connect(f"{live_server.ws}/sync", token):
        await dev.wait_caught_up()
        async with httpx.AsyncClient(base_url=live_server.url) as http:
            r = await http.delete("/api/session", headers={"Authorization": f"Bearer {token}"})
            assert r.status_code == 204
        await dev.wait_closed()
    assert dev.close_code == p.CloseCode.BAD_TOKEN
    again = SyncClient("phone-3")
    async with again.connect(f"{live_server.ws}/sync", token):
        await again.wait_closed()
    assert again.close_code == p.CloseCode.BAD_TOKEN
    async with again.connect(f"{live_server.ws}/sync", "made-up-token"):
        await again.wait_closed()
    assert again.close_code == p.CloseCode.BAD_TOKEN


async def test_disabling_a_user_closes_their_sockets(live_server: LiveServer) -> None:
    dev = SyncClient("phone-4")
    async with dev.connect(f"{live_server.ws}/sync", live_server.tokens["rep2"]):
        await dev.wait_caught_up()
        services = live_server.services
        revoked = await services.accounts.disable(live_server.team.rep2.id)
        services.connections.revoke_tokens(revoked, "account disabled")
        await dev.wait_closed()
    assert dev.close_code == p.CloseCode.BAD_TOKEN


async def _yjs_sync(ws: Any, doc: Doc) -> None:
    """The y-websocket handshake as a stock client does it."""
    await ws.send(p.encode_y_sync(p.SyncMessageType.STEP1, doc.get_state()))
    got_step2 = False
    while not got_step2:
        _, kind, payload = p.decode_y_message(await ws.recv())
        if kind == p.SyncMessageType.STEP1:
            await ws.send(p.encode_y_sync(p.SyncMessageType.STEP2, doc.get_update(payload)))
        else:
            doc.apply_update(payload)
            got_step2 = kind == p.SyncMessageType.STEP2


async def test_yjs_endpoint_reads_writes_and_enforces_scope(live_server: LiveServer) -> None:
    rep = live_server.team.rep1
    dev = SyncClient("phone-5")
    doc_id = samples.new_id("customer")
    async with dev.connect(f"{live_server.ws}/sync", live_server.tokens["rep1"]):
        await dev.wait_caught_up()
        write_record(dev.doc(doc_id), "customer", new_customer(rep.id))
        await dev.wait_flushed()
        url = f"{live_server.ws}/yjs/{doc_id}?token={live_server.tokens['rep1']}"
        async with connect(url) as ws:
            doc: Doc = Doc()
            await _yjs_sync(ws, doc)
            assert doc.get("record", type=Map)["name"] == "北京友好创达科技有限公司"
            before = doc.get_state()
            update_fields(doc, "customer", {"short_name": "YHCD"})
            await ws.send(p.encode_y_sync(p.SyncMessageType.UPDATE, doc.get_update(before)))
            await dev.wait_for(lambda: dev.read(doc_id).get("short_name") == "YHCD")
            # a refused change closes the stock client's socket, naming field and rule
            before = doc.get_state()
            update_fields(doc, "customer", {"email": "not-an-email"})
            await ws.send(p.encode_y_sync(p.SyncMessageType.UPDATE, doc.get_update(before)))
            with pytest.raises(ConnectionClosed) as closed:
                async with asyncio.timeout(10):
                    while True:
                        await ws.recv()
            assert closed.value.rcvd is not None
            assert closed.value.rcvd.code == p.CloseCode.INVALID_UPDATE
            assert "email" in closed.value.rcvd.reason
    # another team's rep can neither read nor write it
    url = f"{live_server.ws}/yjs/{doc_id}?token={live_server.tokens['rep3']}"
    async with connect(url) as ws:
        with pytest.raises(ConnectionClosed) as closed:
            await ws.recv()
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == p.CloseCode.NOT_FOUND
    live = await live_server.services.hub.open(doc_id, "customer")
    assert live.record["email"] == "contact@youhao.com.cn"
    async with connect(f"{live_server.ws}/yjs/{doc_id}?token=nope") as ws:
        with pytest.raises(ConnectionClosed) as closed:
            await ws.recv()
        assert closed.value.rcvd is not None and closed.value.rcvd.code == p.CloseCode.BAD_TOKEN
