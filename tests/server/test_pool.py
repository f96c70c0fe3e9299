"""The customer pool, extensions, the recycle bin and sharing through the real server, on
SQLite and PostgreSQL: release, list (no contacts), claim (first wins, the limit), the card
entering the claimer's phone live, the automatic release, the bin leaving briefcases and the
duplicate index, and every refusal named."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from sqlalchemy import select

from schema import samples
from schema.duties import DAY_MS
from schema.ydoc import write_record
from server.config import Config
from server.errors import ConfigError
from server.tables import audit
from sync.client import SyncClient
from tests.conftest import LiveServer
from tests.factories import new_customer
from tests.server.test_records import http, online, settle

pytestmark = pytest.mark.asyncio
LIMIT = 2


@pytest.fixture
def config(config: Config) -> Config:
    return config.with_(pool_claim_limit=LIMIT)


async def make_customer(server: LiveServer, login: str, **over: Any) -> str:
    user = {"rep1": server.team.rep1, "rep2": server.team.rep2}[login]
    dev = SyncClient(f"{login}-maker-{samples.new_id('x')[-6:]}")
    c = samples.new_id("customer")
    async with online(server, dev, login):
        write_record(dev.doc(c), "customer", new_customer(
            user.id, credit_code=None, name=over.pop("name", f"测试客户{c[-8:]}有限公司"),
            **over))
        await dev.wait_flushed()
        assert not dev.errors, dev.errors
    await settle(server)
    return c


async def record(server: LiveServer, doc_id: str) -> dict[str, Any]:
    await settle(server)
    return dict((await server.services.hub.open(doc_id, "customer")).record)


async def post(server: LiveServer, login: str, path: str, body: Any = None) -> Any:
    async with http(server, login) as api:
        return await api.post(path, json=body) if body is not None else await api.post(path)


def error(r: Any) -> tuple[int, str]:
    return r.status_code, r.json()["error"]["code"]


async def actions(server: LiveServer, doc_id: str) -> list[tuple[str, dict[str, Any]]]:
    async with server.services.engine.connect() as conn:
        rows = await conn.execute(select(audit.c.action, audit.c.detail)
                                  .where(audit.c.doc_id == doc_id).order_by(audit.c.id))
        return [(r.action, json.loads(r.detail)) for r in rows]


async def test_release_list_claim_and_the_card_enters_the_claimers_phone(
        live_server: LiveServer) -> None:
    team = live_server.team
    c = await make_customer(live_server, "rep1")
    r1, r2 = SyncClient("r1-phone"), SyncClient("r2-phone")
    async with online(live_server, r1, "rep1"), online(live_server, r2, "rep2"):
        assert c in r1.docs and c not in r2.docs
        r = await post(live_server, "rep1", f"/api/pool/{c}/release")
        assert r.status_code == 200, r.text
        await settle(live_server)
        await r1.wait_for(lambda: c not in r1.docs)  # in nobody's briefcase now
        rec = await record(live_server, c)
        assert rec.get("owner") is None and rec["pool"] == "released"

        async with http(live_server, "rep2") as api:
            body = (await api.get("/api/pool")).json()
        item = next(i for i in body["items"] if i["doc_id"] == c)
        assert item["name"] == rec["name"] and item["code"] == rec["code"]
        assert item["city"] == "北京" and item["reason"] == "released"
        assert "contacts" not in item and "phone" not in item
        assert body["limit"] == LIMIT and body["claimed"] == 0

        r = await post(live_server, "rep2", f"/api/pool/{c}/claim")
        assert r.status_code == 200, r.text
        assert r.json()["owner"] == team.rep2.id
        await settle(live_server)
        await r2.wait_for(lambda: c in r2.docs)  # live, without reconnecting
        assert r2.read(c)["owner"] == team.rep2.id
        assert "pool" not in r2.read(c)
    async with http(live_server, "rep2") as api:
        body = (await api.get("/api/pool")).json()
    assert c not in [i["doc_id"] for i in body["items"]] and body["claimed"] == 1
    moves = [a for a, _ in await actions(live_server, c)]
    assert moves[-2:] == ["pool.release", "pool.claim"]
    # claiming it again: it has an owner now
    assert error(await post(live_server, "rep1", f"/api/pool/{c}/claim")) == (409,
                                                                               "pool.owned")


async def test_two_claims_at_once_exactly_one_wins(live_server: LiveServer) -> None:
    c = await make_customer(live_server, "rep1")
    assert (await post(live_server, "manager", f"/api/pool/{c}/release")).status_code == 200
    await settle(live_server)
    for _ in range(3):  # and again, so that both orders of arrival are likely exercised
        answers = await asyncio.gather(post(live_server, "rep1", f"/api/pool/{c}/claim"),
                                       post(live_server, "rep2", f"/api/pool/{c}/claim"))
        codes = sorted(a.status_code for a in answers)
        assert codes == [200, 409], [a.text for a in answers]
        loser = next(a for a in answers if a.status_code == 409)
        assert loser.json()["error"]["code"] in ("pool.already_claimed", "pool.owned")
        winner = next(a for a in answers if a.status_code == 200).json()["owner"]
        assert (await record(live_server, c))["owner"] == winner
        login = "rep1" if winner == live_server.team.rep1.id else "rep2"
        assert (await post(live_server, login, f"/api/pool/{c}/release")).status_code == 200
        await settle(live_server)
    claims = [a for a, _ in await actions(live_server, c) if a == "pool.claim"]
    assert len(claims) == 3


async def test_the_claim_limit_holds_under_concurrent_claims(live_server: LiveServer) -> None:
    ids = [await make_customer(live_server, "rep1") for _ in range(LIMIT + 2)]
    for c in ids:
        assert (await post(live_server, "rep1", f"/api/pool/{c}/release")).status_code == 200
    await settle(live_server)
    answers = await asyncio.gather(*(post(live_server, "rep2", f"/api/pool/{c}/claim")
                                     for c in ids))
    assert sorted(a.status_code for a in answers) == [200] * LIMIT + [409] * 2
    over = [a.json()["error"] for a in answers if a.status_code == 409]
    assert {e["code"] for e in over} == {"pool.limit"} and over[0]["limit"] == LIMIT
    await settle(live_server)
    async with http(live_server, "rep2") as api:
        body = (await api.get("/api/pool")).json()
    assert body["claimed"] == LIMIT and len(body["items"]) == 2
    # releasing one makes room for one more
    won = next(c for c, a in zip(ids, answers, strict=True) if a.status_code == 200)
    assert (await post(live_server, "rep2", f"/api/pool/{won}/release")).status_code == 200
    await settle(live_server)
    left = next(c for c, a in zip(ids, answers, strict=True) if a.status_code == 409)
    assert (await post(live_server, "rep2", f"/api/pool/{left}/claim")).status_code == 200


async def test_refusals_are_named(live_server: LiveServer) -> None:
    c = await make_customer(live_server, "rep1")
    # someone else's customer: rep2 cannot see it; shared with rep2, still not theirs
    assert error(await post(live_server, "rep2", f"/api/pool/{c}/release")) == (
        404, "pool.no_customer")
    r = await post(live_server, "rep1", f"/api/customers/{c}/sharing",
                   {"add": live_server.team.rep2.id})
    assert r.status_code == 200, r.text
    await settle(live_server)
    assert error(await post(live_server, "rep2", f"/api/pool/{c}/release")) == (
        403, "pool.not_yours")
    assert error(await post(live_server, "rep2", f"/api/customers/{c}/sharing",
                            {"add": live_server.team.engineer.id})) == (403, "share.not_yours")
    assert error(await post(live_server, "rep2", f"/api/pool/{c}/claim")) == (409, "pool.owned")
    # a binned customer is neither claimed nor released
    assert error(await post(live_server, "rep1", f"/api/bin/{c}")) == (409, "bin.not_invalid")
    d = await make_customer(live_server, "rep1", status="invalid")
    assert (await post(live_server, "rep1", f"/api/bin/{d}")).status_code == 200
    await settle(live_server)
    assert error(await post(live_server, "rep1", f"/api/pool/{d}/release")) == (409,
                                                                                 "pool.binned")
    assert error(await post(live_server, "rep2", f"/api/pool/{d}/claim")) == (409,
                                                                               "pool.binned")
    assert error(await post(live_server, "rep1", "/api/pool/customer:nope/claim"))[0] == 404
    assert error(await post(live_server, "rep1", f"/api/pool/{samples.new_id('customer')}"
                                                 "/claim")) == (404, "pool.no_customer")
    r = await post(live_server, "rep1", f"/api/pool/{c}/extension", {"days": 0, "reason": "x"})
    assert error(r) == (400, "pool.extension_days") and r.json()["error"]["field"] == "days"
    r = await post(live_server, "rep2", f"/api/pool/{c}/extension", {"days": 5, "reason": "x"})
    assert error(r) == (403, "pool.not_yours")


async def test_automatic_release_and_extension(live_server: LiveServer) -> None:
    team, pool = live_server.team, live_server.services.pool
    quiet = await make_customer(live_server, "rep1")
    kept = await make_customer(live_server, "rep1")
    left = await make_customer(live_server, "rep2")
    days = live_server.services.config.pool_release_days
    created = (await record(live_server, quiet))["created_at"]
    assert await pool.sweep(now=created + DAY_MS) == {"departed": 0, "uncontacted": 0}
    # rep1 asks to keep `kept` 10 days longer; the manager grants it
    r = await post(live_server, "rep1", f"/api/pool/{kept}/extension",
                   {"days": 10, "reason": "下周签约"})
    assert r.status_code == 201, r.text
    ext = r.json()["id"]
    assert error(await post(live_server, "rep1", f"/api/pool/{kept}/extension",
                            {"days": 3, "reason": "再等等"})) == (409, "pool.extension_pending")
    async with http(live_server, "manager") as api:
        waiting = (await api.get("/api/pool/extensions")).json()["items"]
    assert [w["id"] for w in waiting] == [ext] and waiting[0]["may_decide"]
    assert error(await post(live_server, "rep1", f"/api/pool/extensions/{ext}/decide",
                            {"grant": True})) == (403, "pool.not_the_manager")
    r = await post(live_server, "manager", f"/api/pool/extensions/{ext}/decide", {"grant": True})
    assert r.status_code == 200 and r.json()["status"] == "granted", r.text
    until = r.json()["until"]  # 10 days after the later of now and when it was due
    assert until >= created + (days + 10) * DAY_MS
    # rep2 leaves the company
    await live_server.services.accounts.disable(team.rep2.id)
    counts = await pool.sweep(now=created + (days + 1) * DAY_MS)
    assert counts == {"departed": 1, "uncontacted": 1}
    await settle(live_server)
    assert (await record(live_server, quiet))["pool"] == "uncontacted"
    assert (await record(live_server, left))["pool"] == "departed"
    assert (await record(live_server, kept))["owner"] == team.rep1.id
    assert (await pool.sweep(now=until - 1))["uncontacted"] == 0
    assert (await pool.sweep(now=until + 1))["uncontacted"] == 1
    assert (await record(live_server, kept))["pool"] == "uncontacted"
    trail = [a for a, _ in await actions(live_server, kept)]
    assert trail[-3:] == ["pool.extension.request", "pool.extension.grant", "pool.release"]


async def test_a_recent_visit_keeps_the_customer(live_server: LiveServer) -> None:
    pool = live_server.services.pool
    c = await make_customer(live_server, "rep1")
    created = (await record(live_server, c))["created_at"]
    days = live_server.services.config.pool_release_days
    dev = SyncClient("r1-visit")
    v = samples.new_id("visit")
    async with online(live_server, dev, "rep1"):
        write_record(dev.doc(v), "visit", samples.visit(
            created_by=live_server.team.rep1.id, customer_id=c,
            started_at=created + (days - 1) * DAY_MS, ended_at=created + days * DAY_MS))
        await dev.wait_flushed()
        assert not dev.errors, dev.errors
    await settle(live_server)
    assert (await pool.sweep(now=created + (days + 1) * DAY_MS))["uncontacted"] == 0
    assert (await pool.sweep(now=created + (2 * days) * DAY_MS))["uncontacted"] == 1


async def test_recycle_bin_leaves_briefcases_and_the_duplicate_index(
        live_server: LiveServer) -> None:
    c = await make_customer(live_server, "rep1", status="invalid", name="回收站测试有限公司")
    dup = live_server.services.duplicates
    code = (await record(live_server, c))["code"]
    r1 = SyncClient("r1-bin")
    async with online(live_server, r1, "rep1"):
        assert c in r1.docs
        assert (await post(live_server, "rep1", f"/api/bin/{c}")).status_code == 200
        await settle(live_server)
        await r1.wait_for(lambda: c not in r1.docs)
        page = await dup.index_page(0)
        assert code in page["removed"]
        assert code not in [row[0] for row in page["customers"]]
        async with http(live_server, "manager") as api:
            binned = (await api.get("/api/bin")).json()["items"]
        assert [b["doc_id"] for b in binned] == [c]
        async with http(live_server, "rep3") as api:
            assert (await api.get("/api/bin")).json()["items"] == []
        assert error(await post(live_server, "rep3", f"/api/bin/{c}/restore")) == (
            404, "pool.no_customer")
        assert (await post(live_server, "manager", f"/api/bin/{c}/restore")).status_code == 200
        await settle(live_server)
        await r1.wait_for(lambda: c in r1.docs)
    page = await dup.index_page(0)
    assert code in [row[0] for row in page["customers"]]
    trail = [a for a, _ in await actions(live_server, c)]
    assert trail[-2:] == ["customer.bin", "customer.restore"]


async def test_sharing_from_the_phone_reaches_the_other_phone(live_server: LiveServer) -> None:
    team = live_server.team
    c = await make_customer(live_server, "rep1")
    r2 = SyncClient("r2-share")
    async with online(live_server, r2, "rep2"):
        assert c not in r2.docs
        async with http(live_server, "rep1") as api:
            before = (await api.get(f"/api/customers/{c}/sharing")).json()
            assert before["owner"]["id"] == team.rep1.id and before["may_change"]
            assert [m["id"] for m in before["managers"]] == [team.manager.id]
            assert team.rep2.id in [u["id"] for u in before["candidates"]]
            r = await api.post(f"/api/customers/{c}/sharing", json={"add": team.rep2.id})
            assert r.status_code == 200, r.text
            assert [u["id"] for u in r.json()["shared_with"]] == [team.rep2.id]
        await settle(live_server)
        await r2.wait_for(lambda: c in r2.docs)
        async with http(live_server, "rep2") as api:
            seen = (await api.get(f"/api/customers/{c}/sharing")).json()
        assert not seen["may_change"] and seen["candidates"] == []
        r = await post(live_server, "rep1", f"/api/customers/{c}/sharing",
                       {"remove": team.rep2.id})
        assert r.status_code == 200 and r.json()["shared_with"] == []
        await settle(live_server)
        await r2.wait_for(lambda: c not in r2.docs)
    assert error(await post(live_server, "rep1", f"/api/customers/{c}/sharing",
                            {"add": "nobody"})) == (400, "share.no_user")
    assert [a for a, _ in await actions(live_server, c)][-2:] == ["customer.share"] * 2


@pytest.mark.parametrize("setting", [{"pool_claim_limit": 0}, {"pool_release_days": 0},
                                     {"pool_sweep_interval": 0.0}])
async def test_bad_pool_settings_refuse_to_start(setting: dict[str, Any]) -> None:
    with pytest.raises(ConfigError, match="WAIQIN_POOL_"):
        Config.from_env({}, **setting)
