"""Duplicate customers end to end: two reps create the same customer offline; whatever order
they reconnect in, and whatever one of them did to the phone's clock, the earliest survives."""

from __future__ import annotations

import asyncio
import base64

import pytest
from sqlalchemy import select

from schema import samples
from schema import tables as st
from schema.names import index_key
from schema.ydoc import update_fields, write_record
from sync.client import SyncClient
from tests.conftest import LiveServer
from tests.server.phones import NAME, customer, http, online, settle

pytestmark = pytest.mark.asyncio

WEEK = 7 * 24 * 3600 * 1000


@pytest.mark.parametrize("later_first", [False, True], ids=["earlier-first", "later-first"])
@pytest.mark.parametrize("skew", [0, -WEEK], ids=["true-clock", "clock-a-week-back"])
async def test_two_reps_offline_one_customer_earliest_wins(
    live_server: LiveServer, later_first: bool, skew: int
) -> None:
    team = live_server.team
    a, b = SyncClient("phone-a"), SyncClient("phone-b")
    b.clock_skew_ms = skew  # the later creator's phone clock
    for dev, login in ((a, "rep1"), (b, "rep2")):  # each logs in online once, then goes offline
        async with online(live_server, dev, login):
            pass

    # offline: rep1 creates the card first, rep2 a moment later, with a differently typed name
    ids = {}
    earlier = a.now_ms()
    for dev, user, name in ((a, team.rep1, NAME), (b, team.rep2, "北京友好创达科技（有限公司）")):
        # rep2 acts 10 ms after rep1 in real time, whatever its clock says
        created = earlier if dev is a else max(dev.now_ms(), earlier + 10 + skew)
        cid, vid, sid = (samples.new_id(k) for k in ("customer", "visit", "service"))
        ids[dev.device_id] = (cid, vid, sid)
        write_record(dev.doc(cid), "customer", customer(user.id, name, created))
        write_record(dev.doc(vid), "visit", samples.visit(
            created_by=user.id, customer_id=cid, created_at=created + 1,
            purpose=f"{user.login} 的拜访"))
        write_record(dev.doc(sid), "service", samples.service(
            created_by=user.id, customer_id=cid, created_at=created + 2))
    (ca, va, sa), (cb, vb, sb) = ids["phone-a"], ids["phone-b"]
    assert b.read(cb)["created_at"] < a.read(ca)["created_at"] or skew == 0

    order = [(b, "rep2"), (a, "rep1")] if later_first else [(a, "rep1"), (b, "rep2")]
    for dev, login in order:
        async with online(live_server, dev, login):
            await dev.wait_flushed()
            assert not dev.errors, dev.errors
        await settle(live_server)

    # afterwards: one customer, owned by the earlier creator, carrying both visits and sheets
    async with online(live_server, a, "rep1"), online(live_server, b, "rep2"):
        for dev in (a, b):
            await dev.wait_for(lambda dev=dev: cb not in dev.docs and ca in dev.docs)
            survivor = dev.read(ca)
            assert survivor["owner"] == team.rep1.id
            assert dev.redirects.get(cb) == ca or cb not in ids[dev.device_id]
        assert b.redirects[cb] == ca
        assert {c["name"] for c in a.read(ca)["contacts"]} == {
            f"联系人{team.rep1.id[:4]}", f"联系人{team.rep2.id[:4]}"}
        for d in (va, vb, sa, sb):
            await a.wait_for(lambda d=d: a.read(d).get("customer_id") == ca)
        assert b.read(vb)["customer_id"] == ca and b.read(sb)["customer_id"] == ca
    async with live_server.services.engine.connect() as conn:
        rows = {r.doc_id: r for r in await conn.execute(select(st.rec_customer))}
        assert rows[ca].merged_into is None and rows[ca].owner == team.rep1.id
        assert rows[cb].merged_into == ca
        visits = {r.doc_id: r.customer_id for r in await conn.execute(select(st.rec_visit))}
        sheets = {r.doc_id: r.customer_id for r in await conn.execute(select(st.rec_service))}
    assert visits == {va: ca, vb: ca} and sheets == {sa: ca, sb: ca}


async def test_a_change_to_a_merged_card_is_carried_into_the_survivor(
    live_server: LiveServer,
) -> None:
    team = live_server.team
    a, b = SyncClient("phone-a"), SyncClient("phone-b")
    ca, cb = samples.new_id("customer"), samples.new_id("customer")
    async with online(live_server, a, "rep1"):
        write_record(a.doc(ca), "customer", customer(team.rep1.id, NAME, a.now_ms()))
        await a.wait_flushed()
    await settle(live_server)
    async with online(live_server, b, "rep2"):
        pass
    write_record(b.doc(cb), "customer", customer(team.rep2.id, NAME, b.now_ms()))
    async with online(live_server, b, "rep2"):
        await b.wait_flushed()
    await settle(live_server)
    # rep2's phone still had the merged card's update queued, and is still offline
    b.doc(cb)  # it was dropped on merge; the rep had it open and keeps typing
    update_fields(b.doc(cb), "customer", {"website": "www.youhao-new.com.cn"})
    async with online(live_server, b, "rep2"):
        await b.wait_flushed()
        assert not b.errors, b.errors
    await settle(live_server)
    survivor = await live_server.services.hub.open(ca, "customer")
    assert survivor.record["website"] == "www.youhao-new.com.cn"


async def test_lookup_tells_name_code_and_owner_and_nothing_else(live_server: LiveServer) -> None:
    team = live_server.team
    a = SyncClient("phone-a")
    ca = samples.new_id("customer")
    async with online(live_server, a, "rep1"):
        write_record(a.doc(ca), "customer", customer(team.rep1.id, NAME, a.now_ms(),
                                                     phone="021-63539330-1010"))
        await a.wait_flushed()
        await a.wait_for(lambda: bool(a.read(ca).get("code")))
        code = a.read(ca)["code"]
    await settle(live_server)
    async with http(live_server, "rep3") as api:  # another team: cannot see the card
        spaced = "北京 友好创达科技 有限责任公司"
        r = await api.get("/api/customers/lookup", params={"name": spaced})
        assert r.status_code == 200
        [m] = r.json()["matches"]
        assert m == {"name": NAME, "code": code, "owner_name": team.rep1.name,
                     "match": "same_name", "score": 1.0}
        r = await api.get("/api/customers/lookup", params={"phone": "+86 21 6353 9330"})
        assert [x["match"] for x in r.json()["matches"]] == ["same_phone"]
        r = await api.get("/api/customers/lookup", params={"name": "北京友好创达科技发展有限公司"})
        assert [x["match"] for x in r.json()["matches"]] == ["similar_name"]
        for params, field in (({}, "name"), ({"name": "x" * 201}, "name"),
                              ({"credit_code": "123"}, "credit_code")):
            r = await api.get("/api/customers/lookup", params=params)
            assert r.status_code == 400 and r.json()["error"]["field"] == field


async def test_offline_index_warns_about_a_customer_never_seen(live_server: LiveServer) -> None:
    team = live_server.team
    a = SyncClient("phone-a")
    ca = samples.new_id("customer")
    async with online(live_server, a, "rep1"):
        write_record(a.doc(ca), "customer", customer(team.rep1.id, NAME, a.now_ms()))
        await a.wait_flushed()
    await settle(live_server)
    # rep3's phone fetches the index while it has signal...
    async with http(live_server, "rep3") as api:
        page = (await api.get("/api/customers/index", params={"cursor": 0})).json()
        bad = await api.get("/api/customers/index", params={"cursor": "x"})
        assert bad.status_code == 400
    assert NAME not in str(page)  # no plain-text names in the index
    secret = base64.urlsafe_b64decode(page["secret"] + "==")
    # ...and later, with no connection at all, the rep types the name
    typed = "北京友好创达科技有限公司"
    hits = [row for row in page["customers"] if row[2] == index_key(secret, typed)]
    assert len(hits) == 1
    code, owner_idx = hits[0][0], hits[0][1]
    assert code.startswith("KH") and page["owners"][owner_idx] == team.rep1.name
    # incremental: nothing new after the cursor
    async with http(live_server, "rep3") as api:
        again = (await api.get("/api/customers/index",
                                params={"cursor": page["cursor"]})).json()
    assert again["customers"] == [] and again["more"] is False


async def test_candidates_merge_by_hand_and_undo(live_server: LiveServer) -> None:
    team = live_server.team
    a, b = SyncClient("phone-a"), SyncClient("phone-b")
    ca, cb, vb = samples.new_id("customer"), samples.new_id("customer"), samples.new_id("visit")
    async with online(live_server, a, "rep1"):
        write_record(a.doc(ca), "customer", customer(team.rep1.id, NAME, a.now_ms()))
        await a.wait_flushed()
    await settle(live_server)
    async with online(live_server, b, "rep2"):
        write_record(b.doc(cb), "customer",
                     customer(team.rep2.id, "北京友好创达科技发展有限公司", b.now_ms(),
                              phone="010-88886666", address="北京市朝阳区建国路88号"))
        write_record(b.doc(vb), "visit", samples.visit(created_by=team.rep2.id, customer_id=cb))
        await b.wait_flushed()
    await settle(live_server)
    async with http(live_server, "rep1") as rep, http(
        live_server, "manager"
    ) as boss, http(live_server, "admin") as admin:
        assert (await rep.get("/api/duplicates")).status_code == 403
        [cand] = (await boss.get("/api/duplicates")).json()["candidates"]
        assert {cand["doc_a"], cand["doc_b"]} == {ca, cb} and cand["reason"] == "similar_name"
        r = await boss.post(f"/api/duplicates/{cand['id']}/merge")
        assert r.status_code == 201
        merge_id = r.json()["merge"]
        await settle(live_server)
        again = await boss.post(f"/api/duplicates/{cand['id']}/merge")
        assert again.status_code == 409
        hub = live_server.services.hub
        assert (await hub.open(cb, "customer")).record["merged_into"] == ca
        assert (await hub.open(vb, "visit")).record["customer_id"] == ca
        [m] = (await boss.get("/api/merges")).json()["merges"]
        assert m["survivor"] == ca and m["rule"] == "manual" and m["detail"]["moved"]
        assert (await boss.post(f"/api/merges/{merge_id}/undo")).status_code == 403
        assert (await admin.post(f"/api/merges/{merge_id}/undo")).status_code == 204
        await settle(live_server)
        assert (await admin.post(f"/api/merges/{merge_id}/undo")).status_code == 409
        assert not (await hub.open(cb, "customer")).record.get("merged_into")
        assert (await hub.open(vb, "visit")).record["customer_id"] == cb
        assert team.rep2.id not in ((await hub.open(ca, "customer")).record.get("shared_with")
                                    or [])
        # bad requests are named
        dup = live_server.services.duplicates
        with pytest.raises(Exception, match="into itself"):
            await dup.merge(ca, ca, team.admin.id)
        with pytest.raises(Exception, match="not a customer"):
            await dup.merge(ca, vb, team.admin.id)
        assert (await admin.post("/api/duplicates/999999/merge")).status_code == 404
        assert (await admin.post(f"/api/merges/{merge_id}/bogus")).status_code in (404, 405)


async def test_forged_creation_times_are_clamped(live_server: LiveServer) -> None:
    """A claim far in the past counts from the device's last contact; far in the future,
    from the server's receipt. So a forged claim does not beat an honest earlier card."""
    team = live_server.team
    a, b = SyncClient("phone-a"), SyncClient("phone-b")
    for dev, login in ((a, "rep1"), (b, "rep2")):
        async with online(live_server, dev, login):
            pass
    ca, cb = samples.new_id("customer"), samples.new_id("customer")
    write_record(a.doc(ca), "customer", customer(team.rep1.id, NAME, a.now_ms()))
    # rep2 creates later but writes a creation time from 2001, with a correct phone clock
    write_record(b.doc(cb), "customer", customer(team.rep2.id, NAME, 1_000_000_000_000))
    async with online(live_server, b, "rep2"):
        await b.wait_flushed()
    await settle(live_server)
    async with online(live_server, a, "rep1"):
        await a.wait_flushed()
    await settle(live_server)
    times = await live_server.services.duplicates.created([ca, cb])
    assert times[cb].effective == times[cb].floor  # clamped up to its last contact
    hub = live_server.services.hub
    survivor = ca if (await hub.open(cb, "customer")).record.get("merged_into") else cb
    expected = min((ca, cb), key=lambda d: (times[d].effective, d))
    assert survivor == expected


async def test_a_rename_that_collides_merges_into_the_earlier_card(
    live_server: LiveServer,
) -> None:
    team = live_server.team
    a, b = SyncClient("phone-a"), SyncClient("phone-b")
    ca, cb = samples.new_id("customer"), samples.new_id("customer")
    async with online(live_server, a, "rep1"):
        write_record(a.doc(ca), "customer", customer(team.rep1.id, NAME, a.now_ms()))
        await a.wait_flushed()
    await settle(live_server)
    async with online(live_server, b, "rep2"):
        write_record(b.doc(cb), "customer", customer(
            team.rep2.id, "上海明远精密机械有限公司", b.now_ms(), phone="021-55556666",
            address="上海市浦东新区张江路1号"))
        await b.wait_flushed()
        await settle(live_server)
        hub = live_server.services.hub
        assert not (await hub.open(cb, "customer")).record.get("merged_into")
        update_fields(b.doc(cb), "customer", {"name": "北京友好创达科技（有限公司）"})
        await b.wait_flushed()
        await settle(live_server)
        assert (await hub.open(cb, "customer")).record["merged_into"] == ca
        await b.wait_for(lambda: b.redirects.get(cb) == ca)


async def test_concurrent_merges_of_the_same_cards_merge_once(live_server: LiveServer) -> None:
    team = live_server.team
    a, b = SyncClient("phone-a"), SyncClient("phone-b")
    ca, cb = samples.new_id("customer"), samples.new_id("customer")
    async with online(live_server, a, "rep1"):
        write_record(a.doc(ca), "customer", customer(team.rep1.id, NAME, a.now_ms()))
        await a.wait_flushed()
    async with online(live_server, b, "rep2"):
        write_record(b.doc(cb), "customer", customer(
            team.rep2.id, "北京友好创达科技发展有限公司", b.now_ms(), phone="010-88886666",
            address="北京市朝阳区建国路88号"))
        await b.wait_flushed()
    await settle(live_server)
    dup = live_server.services.duplicates
    results = await asyncio.gather(
        dup.merge(ca, cb, team.admin.id), dup.merge(cb, ca, team.manager.id),
        return_exceptions=True,
    )
    merged = [r for r in results if isinstance(r, int)]
    refused = [r for r in results if isinstance(r, Exception)]
    assert len(merged) == 1 and len(refused) == 1
    assert "already merged" in str(refused[0])
    assert len(await dup.merges()) == 1
