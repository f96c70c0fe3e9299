"""Field records end to end: who sees what, reassignment live, the read API, reproject."""

from __future__ import annotations

import pytest

from schema import samples
from schema import tables as st
from schema.ydoc import update_fields, write_record
from server.reproject import reproject
from sync.client import SyncClient
from tests.conftest import LiveServer
from tests.factories import new_customer
from tests.server.phones import http, online, settle

pytestmark = pytest.mark.asyncio


async def test_visibility_and_a_live_reassignment(live_server: LiveServer) -> None:
    team = live_server.team
    r1, r2, eng, boss, r3 = (SyncClient(n) for n in ("r1", "r2", "eng", "boss", "r3"))
    c, v1, v2 = samples.new_id("customer"), samples.new_id("visit"), samples.new_id("visit")
    async with online(live_server, r1, "rep1"), online(live_server, r2, "rep2"), online(
        live_server, eng, "engineer"
    ), online(live_server, boss, "manager"), online(live_server, r3, "rep3"):
        write_record(r1.doc(c), "customer", new_customer(team.rep1.id))
        write_record(r1.doc(v1), "visit", samples.visit(created_by=team.rep1.id, customer_id=c))
        await r1.wait_flushed()
        # rep2 records a visit at rep1's customer: rep2 sees it (wrote it), rep1 too (owns it)
        write_record(r2.doc(v2), "visit", samples.visit(created_by=team.rep2.id, customer_id=c))
        await r2.wait_flushed()
        assert not r2.errors, r2.errors
        await r1.wait_for(lambda: v2 in r1.docs)
        await boss.wait_for(lambda: {c, v1, v2} <= set(boss.docs))
        assert c not in r2.docs and v1 not in r2.docs
        assert not set(r3.docs) & {c, v1, v2} and not set(eng.docs) & {c, v1, v2}
        await settle(live_server)

        # shared with the engineer: the card and its visits enter the engineer's briefcase
        update_fields(r1.doc(c), "customer", {"shared_with": [team.engineer.id]})
        await r1.wait_flushed()
        await settle(live_server)
        await eng.wait_for(lambda: {c, v1, v2} <= set(eng.docs))
        # a security level above 0 cancels sharing; only a manager may set it
        update_fields(boss.doc(c), "customer", {"security_level": 1})
        await boss.wait_flushed()
        assert not boss.errors, boss.errors
        await settle(live_server)
        await eng.wait_for(lambda: not set(eng.docs) & {c, v1, v2})

        # the manager reassigns the customer to rep2: it moves, live, with its records;
        # rep1 keeps the visit they wrote
        update_fields(boss.doc(c), "customer", {"owner": team.rep2.id})
        await boss.wait_flushed()
        await settle(live_server)
        await r2.wait_for(lambda: {c, v1, v2} <= set(r2.docs))
        await r1.wait_for(lambda: c not in r1.docs and v2 not in r1.docs)
        assert v1 in r1.docs
        # a rep may not reassign
        update_fields(r2.doc(c), "customer", {"owner": team.rep1.id})
        await r2.wait_flushed()
        assert r2.errors[-1].field == "owner"
    # the same by catch-up, for devices that were away
    late1, late2 = SyncClient("r1-tablet"), SyncClient("r2-tablet")
    async with online(live_server, late1, "rep1"), online(live_server, late2, "rep2"):
        assert v1 in late1.docs and c not in late1.docs and v2 not in late1.docs
        assert {c, v1, v2} <= set(late2.docs)


async def test_read_api_filters_pages_history_and_rights(live_server: LiveServer) -> None:
    team = live_server.team
    dev = SyncClient("r1")
    ids = [samples.new_id("visit") for _ in range(7)]
    c = samples.new_id("customer")
    async with online(live_server, dev, "rep1"):
        write_record(dev.doc(c), "customer", new_customer(team.rep1.id))
        for i, v in enumerate(ids):
            write_record(dev.doc(v), "visit", samples.visit(
                created_by=team.rep1.id, customer_id=c, created_at=samples.T0 + i,
                purpose=f"第{i}次"))
        await dev.wait_flushed()
        update_fields(dev.doc(ids[0]), "visit", {"result": "签约"})
        await dev.wait_flushed()
    await settle(live_server)
    async with http(live_server, "rep1") as rep, http(live_server, "rep3") as other, http(
        live_server, "manager"
    ) as boss:
        seen: list[str] = []
        cursor = None
        while True:
            params = {"customer": c, "sort": "created_at", "limit": "3"}
            if cursor:
                params["cursor"] = cursor
            body = (await rep.get("/api/records/visit", params=params)).json()
            seen += [r["doc_id"] for r in body["items"]]
            cursor = body["next"]
            if not cursor:
                break
        assert seen == ids  # stable order across pages, nothing twice, nothing missed
        body = (await rep.get("/api/records/visit", params={"q": "第3次"})).json()
        assert [r["doc_id"] for r in body["items"]] == [ids[3]]
        body = (await boss.get("/api/records/customer", params={"owner": team.rep1.id})).json()
        assert [r["doc_id"] for r in body["items"]] == [c]
        detail = (await rep.get(f"/api/records/visit/{ids[0]}")).json()
        assert detail["record"]["result"] == "签约"
        assert detail["record"]["attachments"][0]["sha256"] == samples.SHA
        changes = detail["history"]
        assert len(changes) == 2 and changes[1]["fields"] == [
            {"field": "result", "old": samples.visit()["result"], "new": "签约"}]
        assert changes[1]["user_id"] == team.rep1.id and changes[1]["device_id"] == "r1"
        # another team's rep: the list is empty and the record is not there at all
        assert (await other.get("/api/records/visit")).json()["items"] == []
        r = await other.get(f"/api/records/visit/{ids[0]}")
        assert r.status_code == 404
        missing = await other.get(f"/api/records/visit/{samples.new_id('visit')}")
        assert missing.json()["error"]["message"].startswith("no visit")
        for params, field in (({"sort": "name"}, "sort"), ({"limit": "0"}, "limit"),
                              ({"since": "yesterday"}, "since"), ({"cursor": "zzz"}, "cursor"),
                              ({"status": "x"}, "status")):
            r = await rep.get("/api/records/visit", params=params)
            assert r.status_code == 400 and r.json()["error"]["field"] == field, params
        assert (await rep.get("/api/records/invoice")).status_code == 404
        spec = (await rep.get("/api/openapi.json")).json()
        assert spec["openapi"].startswith("3.") and "/api/records/visit/{doc_id}" in spec["paths"]
        assert "purpose" in spec["components"]["schemas"]["Visit"]["properties"]


async def test_reproject_rebuilds_identical_tables(live_server: LiveServer) -> None:
    team = live_server.team
    dev = SyncClient("r1")
    c = samples.new_id("customer")
    async with online(live_server, dev, "rep1"):
        write_record(dev.doc(c), "customer", new_customer(team.rep1.id))
        for make in (samples.visit, samples.service):
            d = samples.new_id(make.__name__)
            write_record(dev.doc(d), make.__name__, make(created_by=team.rep1.id,
                                                         customer_id=c))
        deal = samples.new_id("deal")
        write_record(dev.doc(deal), "deal", samples.deal(created_by=team.rep1.id, customer_id=c))
        write_record(dev.doc(samples.new_id("progress")), "progress", samples.progress(
            created_by=team.rep1.id, customer_id=c, deal_id=deal))
        await dev.wait_flushed()
        update_fields(dev.doc(c), "customer", {"profile": "改过的简介"})
        await dev.wait_flushed()
        assert not dev.errors, dev.errors
    await settle(live_server)
    engine = live_server.services.engine
    async with engine.connect() as conn:
        before = await st.dump_projections(conn)
    assert sum(len(rows) for rows in before.values()) > 6
    assert await reproject(engine) == 5
    async with engine.connect() as conn:
        after = await st.dump_projections(conn)
    assert after == before


async def test_a_manager_reassigns_only_within_their_team(live_server: LiveServer) -> None:
    team = live_server.team
    rep, boss = SyncClient("r1"), SyncClient("boss")
    c = samples.new_id("customer")
    async with online(live_server, rep, "rep1"):
        write_record(rep.doc(c), "customer", new_customer(team.rep1.id))
        await rep.wait_flushed()
    await settle(live_server)
    async with online(live_server, boss, "manager"):
        update_fields(boss.doc(c), "customer", {"owner": team.rep3.id})  # another team
        await boss.wait_flushed()
        err = boss.errors[-1]
        assert (err.field, err.rule) == ("owner", "owner.outside_team")
        assert "团队" in err.message_zh
        update_fields(boss.doc(c), "customer", {"owner": team.rep2.id})  # the fix: own team
        await boss.wait_flushed()
        assert boss.outbox == []
    await settle(live_server)
    assert (await live_server.services.hub.open(c, "customer")).record["owner"] == team.rep2.id
