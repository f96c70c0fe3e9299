"""Withdraw (issue 16: "by the author, only until an approver has opened it") across the
steps of a two-approver expense, through the sync path and the withdraw route, and the
names of the people the phone shows in an approval history (`GET /api/people`)."""

from __future__ import annotations

import httpx
import pytest

from schema import samples
from schema.ydoc import update_fields
from server.approvals import DEFAULT_THRESHOLD_FEN
from tests.conftest import LiveServer
from tests.server.phones import http, online, settle
from tests.server.test_approvals import add_director, decide, error, expense, record, submit_offline


async def _withdraw(server: LiveServer, login: str, doc_id: str) -> tuple[int, str]:
    async with http(server, login) as api:
        r = await api.post(f"/api/approvals/{doc_id}/withdraw", json={"device": "pytest"})
    return (r.status_code, "") if r.status_code == 204 else error(r)


async def _open(server: LiveServer, login: str, doc_id: str) -> None:
    async with http(server, login) as api:
        r = await api.post(f"/api/approvals/{doc_id}/open")
    assert r.status_code == 204, r.text


@pytest.mark.asyncio
async def test_the_withdraw_route_before_and_after_the_approver_opens_it(
    live_server: LiveServer,
) -> None:
    team = live_server.team
    e = samples.new_id("expense")
    await submit_offline(live_server, "rep1", e, "expense", expense(team.rep1.id))
    assert await _withdraw(live_server, "manager", e) == (403, "approval.transition")
    assert await _withdraw(live_server, "rep2", e) == (404, "not_found")
    assert await _withdraw(live_server, "rep1", e) == (204, "")
    rec = await record(live_server, e)
    assert rec["approval_status"] == "withdrawn"
    assert [(s["action"], s["by"], s["device"]) for s in rec["approval_log"]] == [
        ("submit", team.rep1.id, rec["approval_log"][0]["device"]),
        ("withdraw", team.rep1.id, "pytest")]
    assert await _withdraw(live_server, "rep1", e) == (409, "approval.not_pending")
    assert error(await decide(live_server, "manager", e, "approve")) == (
        409, "approval.not_pending")  # deciding a withdrawn record

    p = samples.new_id("trip_plan")
    await submit_offline(live_server, "rep1", p, "trip_plan",
                         samples.trip_plan(created_by=team.rep1.id, stops=[]))
    await _open(live_server, "manager", p)
    async with http(live_server, "rep1") as api:
        r = await api.post(f"/api/approvals/{p}/withdraw")
    assert r.status_code == 409, r.text
    body = r.json()["error"]
    assert body["code"] == "approval.opened" and "不能再撤销" in body["message_zh"]
    assert (await record(live_server, p))["approval_status"] == "submitted"


@pytest.mark.asyncio
async def test_after_the_first_approval_the_author_cannot_withdraw(
    live_server: LiveServer,
) -> None:
    """"Opened" is the submission's: once its first approver has opened (or decided) it, the
    author cannot take it back at any later step, the second approver's opening included.
    Each approver's opening is logged at their step."""
    team = live_server.team
    director = await add_director(live_server)
    e = samples.new_id("expense")
    dev = await submit_offline(live_server, "rep1", e, "expense",
                               expense(team.rep1.id, amount_fen=DEFAULT_THRESHOLD_FEN + 100))
    assert (await record(live_server, e))["approvers"] == [team.manager.id, director]
    await _open(live_server, "manager", e)
    await _open(live_server, "manager", e)  # logged once per step
    assert (await decide(live_server, "manager", e, "approve", "同意")).status_code == 200
    rec = await record(live_server, e)
    assert rec["approval_step"] == 1 and rec["opened_at"] is not None
    # between the steps: still opened, the route and the phone are refused alike
    assert await _withdraw(live_server, "rep1", e) == (409, "approval.opened")
    await _open(live_server, "director", e)
    await _open(live_server, "director", e)
    assert await _withdraw(live_server, "rep1", e) == (409, "approval.opened")
    async with online(live_server, dev, "rep1"):
        await dev.wait_for(lambda: dev.read(e).get("approval_step") == 1)
        update_fields(dev.doc(e), "expense", {"approval_status": "withdrawn"})
        await dev.wait_flushed()
        err = dev.errors[-1]
        assert (err.doc, err.field, err.rule) == (e, "approval_status", "approval.opened")
        assert [x.doc_id for x in dev.outbox if x.refused] == [e]  # kept on the phone
    await settle(live_server)
    rec = await record(live_server, e)
    assert rec["approval_status"] == "submitted"
    assert [(s["action"], s["by"]) for s in rec["approval_log"]] == [
        ("submit", team.rep1.id), ("open", team.manager.id), ("approve", team.manager.id),
        ("open", director)]
    assert (await decide(live_server, "director", e, "approve")).json()[
        "approval_status"] == "approved"


@pytest.mark.asyncio
async def test_a_decision_without_opening_first_still_closes_the_withdraw(
    live_server: LiveServer,
) -> None:
    team = live_server.team
    director = await add_director(live_server)
    e = samples.new_id("expense")
    dev = await submit_offline(live_server, "rep1", e, "expense",
                               expense(team.rep1.id, amount_fen=DEFAULT_THRESHOLD_FEN + 100))
    assert (await decide(live_server, "manager", e, "approve")).status_code == 200
    assert await _withdraw(live_server, "rep1", e) == (409, "approval.opened")
    # the phone's withdraw between the steps, before the second approver opened it: refused
    # (the old rule cleared `opened_at` at each step and let this one through)
    async with online(live_server, dev, "rep1"):
        await dev.wait_for(lambda: dev.read(e).get("approval_step") == 1)
        update_fields(dev.doc(e), "expense", {"approval_status": "withdrawn"})
        await dev.wait_flushed()
        err = dev.errors[-1]
        assert (err.doc, err.rule) == (e, "approval.opened")
    rec = await record(live_server, e)
    assert rec["approvers"][1] == director and rec["approval_status"] == "submitted"
    assert [s["action"] for s in rec["approval_log"]] == ["submit", "approve"]


@pytest.mark.asyncio
async def test_people_are_the_callers_chain_team_and_admins(live_server: LiveServer) -> None:
    team = live_server.team
    director = await add_director(live_server)

    async def people(login: str) -> dict[str, str]:
        async with http(live_server, login) as api:
            r = await api.get("/api/people")
        assert r.status_code == 200, r.text
        return {p["id"]: p["name"] for p in r.json()["people"]}

    rep1 = await people("rep1")
    assert {team.rep1.id, team.manager.id, director, team.admin.id} <= set(rep1)
    assert team.rep2.id not in rep1 and team.other_manager.id not in rep1
    assert rep1[team.manager.id] == team.manager.name
    manager = await people("manager")
    assert {team.rep1.id, team.rep2.id, team.manager.id, director} <= set(manager)
    assert team.other_manager.id not in manager
    assert set(await people("admin")) >= {team.rep1.id, team.rep2.id, team.other_manager.id}
    async with httpx.AsyncClient(base_url=live_server.url) as anon:
        assert (await anon.get("/api/people")).status_code == 401


@pytest.mark.asyncio
async def test_a_bad_decision_body_is_refused_naming_the_field(live_server: LiveServer) -> None:
    team = live_server.team
    e = samples.new_id("expense")
    await submit_offline(live_server, "rep1", e, "expense", expense(team.rep1.id))
    bad: list[tuple[object, str]] = [
        ({"action": "approve", "comment": 12}, "comment"),
        ({"action": "approve", "comment": "x" * 2001}, "comment"),
        ({"action": "approve", "step": True}, "step"),
        ({"action": "approve", "step": "0"}, "step"),
        ({"action": "approve", "device": "d" * 201}, "device"),
        ({"action": "approved"}, "action"),
    ]
    async with http(live_server, "manager") as api:
        for body, field in bad:
            r = await api.post(f"/api/approvals/{e}/decide", json=body)
            assert r.status_code == 400, (body, r.text)
            assert r.json()["error"]["field"] == field, (body, r.text)
        r = await api.post(f"/api/approvals/{e}/decide", json=["approve"])
        assert r.status_code == 400, r.text
        r = await api.post(f"/api/approvals/{e}/decide", content=b"{not json",
                           headers={"Content-Type": "application/json"})
        assert r.status_code == 400, r.text
        r = await api.post("/api/approvals/customer:00000000-0000-4000-8000-000000000000/decide",
                           json={"action": "approve"})
        assert r.status_code == 404, r.text
    rec = await record(live_server, e)
    assert rec["approval_status"] == "submitted"  # nothing decided, nothing lost
    assert [s["action"] for s in rec["approval_log"]] == ["submit"]
    async with http(live_server, "manager") as api:  # JSON's 0.0 is the integer 0
        r = await api.post(f"/api/approvals/{e}/decide", json={"action": "approve", "step": 0.0})
        assert r.status_code == 200, r.text
    async with http(live_server, "admin") as api:
        r = await api.put("/api/approvals/settings", json={"expense_second_approval_fen": 127.0})
        assert r.status_code == 200 and r.json()["expense_second_approval_fen"] == 127, r.text
        r = await api.put("/api/approvals/settings", json={"expense_second_approval_fen": 12.5})
        assert r.status_code == 400, r.text
        r = await api.put("/api/approvals/settings",
                          json={"expense_second_approval_fen": DEFAULT_THRESHOLD_FEN})
        assert r.status_code == 200, r.text
