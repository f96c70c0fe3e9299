"""Trips, expenses and work reports through the real server, and their approval flow: submit
offline then sync, the chain (with the admin's threshold), open, approve, return, reject,
withdraw, two decisions at once, and every refused change named and kept on the device."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import pytest
from sqlalchemy import insert

from schema import samples
from schema.validate import CHINA, Actor, china_today, validate
from schema.ydoc import update_fields, write_record
from server.approvals import DEFAULT_THRESHOLD_FEN, THRESHOLD, stop_task_id
from server.tables import approval_claims
from sync.client import SyncClient
from tests.conftest import PASSWORD, LiveServer
from tests.factories import new_customer
from tests.server.phones import http, online, settle


def expense(author: str, **over: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"created_by": author, "trip_id": None, "visit_id": None,
                            "customer_id": None, "deal_id": None}
    rec = samples.expense(**{**base, **over})
    return {k: v for k, v in rec.items() if v is not None}


async def record(server: LiveServer, doc_id: str) -> dict[str, Any]:
    await settle(server)
    live = await server.services.hub.open(doc_id, doc_id.split(":")[0])
    return dict(live.record)


async def submit_offline(server: LiveServer, login: str, doc_id: str, kind: str,
                         rec: dict[str, Any]) -> SyncClient:
    """Written with no connection, then synced: the phone's offline submit."""
    dev = SyncClient(f"{login}-phone-{doc_id[-8:]}")  # a device id's clocks start once
    write_record(dev.doc(doc_id), kind, rec)
    assert [e.doc_id for e in dev.outbox] == [doc_id]
    async with online(server, dev, login):
        await dev.wait_flushed()
        assert not dev.errors, dev.errors
    await settle(server)
    return dev


async def decide(server: LiveServer, login: str, doc_id: str, action: str,
                 comment: str = "", **extra: Any) -> Any:
    async with http(server, login) as api:
        return await api.post(f"/api/approvals/{doc_id}/decide",
                              json={"action": action, "comment": comment, **extra})


async def inbox(server: LiveServer, login: str) -> list[str]:
    async with http(server, login) as api:
        r = await api.get("/api/approvals")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["counts"]["waiting"] == len(body["items"])
    return [i["doc_id"] for i in body["items"]]


def error(r: Any) -> tuple[int, str]:
    return r.status_code, r.json()["error"]["code"]


async def add_director(server: LiveServer) -> str:
    """A manager above `manager`, for the second step of a large expense."""
    accounts = server.services.accounts
    director = await accounts.add_user("director", PASSWORD, role="manager")
    await accounts.set_manager(server.team.manager.id, director.id)
    server.tokens["director"], _ = await accounts.login("director", PASSWORD)
    return str(director.id)


@pytest.mark.asyncio
async def test_an_expense_submitted_offline_reaches_the_managers_inbox_once_synced(
    live_server: LiveServer,
) -> None:
    team = live_server.team
    e = samples.new_id("expense")
    dev = await submit_offline(live_server, "rep1", e, "expense", expense(team.rep1.id))
    rec = await record(live_server, e)
    assert rec["approvers"] == [team.manager.id] and rec["approval_step"] == 0
    [entry] = rec["approval_log"]
    assert (entry["action"], entry["by"], entry["device"]) == ("submit", team.rep1.id,
                                                               dev.device_id)
    assert await inbox(live_server, "manager") == [e]
    assert await inbox(live_server, "rep1") == [] and await inbox(live_server, "manager_b") == []
    async with http(live_server, "manager") as api:
        items = (await api.get("/api/approvals")).json()["items"]
        got = (await api.get(f"/api/records/expense/{e}")).json()["record"]
    assert items[0]["amount_fen"] == 55_350 and items[0]["author"] == team.rep1.id
    assert items[0]["kind"] == "expense" and items[0]["subject"].endswith("交通费用—王小明")
    assert [s["action"] for s in got["approval_log"]] == ["submit"]
    assert [a["user_id"] for a in got["approvers"]] == [team.manager.id]


@pytest.mark.asyncio
async def test_above_the_threshold_the_managers_manager_approves_too(
    live_server: LiveServer,
) -> None:
    team = live_server.team
    director = await add_director(live_server)
    big, small = samples.new_id("expense"), samples.new_id("expense")
    await submit_offline(live_server, "rep1", big, "expense",
                         expense(team.rep1.id, amount_fen=DEFAULT_THRESHOLD_FEN + 1))
    await submit_offline(live_server, "rep2", small, "expense",
                         expense(team.rep2.id, amount_fen=DEFAULT_THRESHOLD_FEN))
    assert (await record(live_server, big))["approvers"] == [team.manager.id, director]
    assert (await record(live_server, small))["approvers"] == [team.manager.id]
    # the director waits for the manager
    assert error(await decide(live_server, "director", big, "approve")) == (
        403, "approval.not_your_turn")
    assert big not in await inbox(live_server, "director")
    r = await decide(live_server, "manager", big, "approve", "同意")
    assert r.status_code == 200, r.text
    assert r.json() == {"approval_status": "submitted", "approval_step": 1,
                        "approvers": [team.manager.id, director]}
    assert await inbox(live_server, "director") == [big]
    assert big not in await inbox(live_server, "manager")
    # the manager's second try at the same step is stale
    assert error(await decide(live_server, "manager", big, "approve")) == (
        409, "approval.not_pending")
    r = await decide(live_server, "director", big, "approve")
    assert r.json()["approval_status"] == "approved"
    rec = await record(live_server, big)
    assert [(s["action"], s["by"]) for s in rec["approval_log"]] == [
        ("submit", team.rep1.id), ("approve", team.manager.id), ("approve", director)]
    assert rec["approval_log"][1]["comment"] == "同意"
    # the admin raises the threshold: the same amount needs the manager only
    async with http(live_server, "manager") as api:
        r = await api.put("/api/approvals/settings", json={THRESHOLD: 1_000_000})
        assert error(r) == (403, "forbidden")
    async with http(live_server, "admin") as api:
        r = await api.put("/api/approvals/settings", json={THRESHOLD: 1_000_000})
        assert r.json() == {THRESHOLD: 1_000_000}
        assert error(await api.put("/api/approvals/settings", json={THRESHOLD: -1})) == (
            400, "bad_request")
    again = samples.new_id("expense")
    await submit_offline(live_server, "rep1", again, "expense",
                         expense(team.rep1.id, amount_fen=DEFAULT_THRESHOLD_FEN + 1))
    assert (await record(live_server, again))["approvers"] == [team.manager.id]


@pytest.mark.asyncio
async def test_return_with_a_comment_fix_resubmit_then_reject_is_final(
    live_server: LiveServer,
) -> None:
    team = live_server.team
    e = samples.new_id("expense")
    dev = await submit_offline(live_server, "rep1", e, "expense", expense(team.rep1.id))
    assert error(await decide(live_server, "manager", e, "return", "  ")) == (
        422, "approval.comment_required")
    r = await decide(live_server, "manager", e, "return", "金额与票据不符")
    assert r.json()["approval_status"] == "returned"
    async with online(live_server, dev, "rep1"):
        await dev.wait_for(lambda: dev.read(e).get("approval_status") == "returned")
        assert dev.read(e)["approval_log"][-1]["comment"] == "金额与票据不符"
        update_fields(dev.doc(e), "expense", {"amount_fen": 45_350,
                                              "approval_status": "submitted"})
        await dev.wait_flushed()
        assert not dev.errors, dev.errors
        await settle(live_server)
        assert await inbox(live_server, "manager") == [e]
        r = await decide(live_server, "manager", e, "reject", "不予报销")
        assert r.json()["approval_status"] == "rejected"
        await dev.wait_for(lambda: dev.read(e).get("approval_status") == "rejected")
        update_fields(dev.doc(e), "expense", {"description": "再试一次"})
        await dev.wait_flushed()
        err = dev.errors[-1]
        assert (err.doc, err.field, err.rule) == (e, "approval_status", "approval.rejected_final")
        assert "拒绝" in err.message_zh and "rejected" in err.message
        assert [x.doc_id for x in dev.outbox if x.refused] == [e]  # kept on the phone
    rec = await record(live_server, e)
    assert rec["amount_fen"] == 45_350 and rec["description"] != "再试一次"
    assert [s["action"] for s in rec["approval_log"]] == [
        "submit", "return", "submit", "reject"]
    assert error(await decide(live_server, "manager", e, "approve")) == (
        409, "approval.not_pending")


@pytest.mark.asyncio
async def test_withdraw_before_the_approver_opens_it_and_not_after(
    live_server: LiveServer,
) -> None:
    team = live_server.team
    w = samples.new_id("work_report")
    report = samples.work_report(created_by=team.rep1.id, addressed_to=team.rep2.id)
    dev = await submit_offline(live_server, "rep1", w, "work_report", report)
    rec = await record(live_server, w)
    assert rec["addressed_to"] == team.manager.id  # the server addresses it to the manager
    async with online(live_server, dev, "rep1"):
        update_fields(dev.doc(w), "work_report", {"approval_status": "withdrawn"})
        await dev.wait_flushed()
        assert not dev.errors, dev.errors
        await settle(live_server)
        assert error(await decide(live_server, "manager", w, "approve")) == (
            409, "approval.not_pending")
        update_fields(dev.doc(w), "work_report", {"approval_status": "submitted",
                                                  "body": "补充:下周计划"})
        await dev.wait_flushed()
        assert not dev.errors, dev.errors
        await settle(live_server)
        async with http(live_server, "manager") as api:
            assert (await api.post(f"/api/approvals/{w}/open")).status_code == 204
            assert (await api.post(f"/api/approvals/{w}/open")).status_code == 204  # once
        await dev.wait_for(lambda: dev.read(w).get("opened_at") is not None)
        update_fields(dev.doc(w), "work_report", {"approval_status": "withdrawn"})
        await dev.wait_flushed()
        err = dev.errors[-1]
        assert (err.field, err.rule) == ("approval_status", "approval.opened")
        assert [x.doc_id for x in dev.outbox if x.refused] == [w]
    rec = await record(live_server, w)
    assert rec["approval_status"] == "submitted"
    assert [s["action"] for s in rec["approval_log"]] == [
        "submit", "withdraw", "submit", "open"]


@pytest.mark.asyncio
async def test_two_decisions_at_once_one_wins_the_other_is_a_409(
    live_server: LiveServer,
) -> None:
    team = live_server.team
    e = samples.new_id("expense")
    await submit_offline(live_server, "rep1", e, "expense", expense(team.rep1.id))
    async with http(live_server, "manager") as phone, http(live_server, "manager") as office:
        a, b = await asyncio.gather(
            phone.post(f"/api/approvals/{e}/decide", json={"action": "approve", "comment": ""}),
            office.post(f"/api/approvals/{e}/decide", json={"action": "reject", "comment": ""}))
    answers = sorted([a, b], key=lambda r: r.status_code)
    assert [r.status_code for r in answers] == [200, 409], [r.text for r in answers]
    assert answers[1].json()["error"]["code"] == "approval.not_pending"
    won = answers[0].json()["approval_status"]
    rec = await record(live_server, e)
    assert rec["approval_status"] == won
    assert [s["action"] for s in rec["approval_log"]].count("submit") == 1
    assert len(rec["approval_log"]) == 2  # one decision only


@pytest.mark.asyncio
async def test_a_step_decided_on_another_instance_is_a_409_here(live_server: LiveServer) -> None:
    """This instance's copy of the record may not have heard of the other's decision yet:
    the step's claim in the shared database is what refuses the second one."""
    team = live_server.team
    e = samples.new_id("expense")
    await submit_offline(live_server, "rep1", e, "expense", expense(team.rep1.id))
    async with live_server.services.engine.begin() as conn:
        await conn.execute(insert(approval_claims).values(
            doc_id=e, round=1, step=0, user_id=team.manager.id, action="approve",
            at=samples.T0))
    assert error(await decide(live_server, "manager", e, "reject")) == (
        409, "approval.not_pending")
    rec = await record(live_server, e)
    assert rec["approval_status"] == "submitted"
    assert [s["action"] for s in rec["approval_log"]] == ["submit"]


@pytest.mark.asyncio
async def test_who_may_decide(live_server: LiveServer) -> None:
    team = live_server.team
    mine = samples.new_id("expense")
    # the manager has no manager: an admin approves their expense
    await submit_offline(live_server, "manager", mine, "expense", expense(team.manager.id))
    assert (await record(live_server, mine))["approvers"] == [team.admin.id]
    assert error(await decide(live_server, "manager", mine, "approve")) == (
        403, "approval.own_record")
    e = samples.new_id("expense")
    await submit_offline(live_server, "rep1", e, "expense", expense(team.rep1.id))
    assert error(await decide(live_server, "rep1", e, "approve")) == (403, "approval.own_record")
    assert error(await decide(live_server, "manager_b", e, "approve")) == (404, "not_found")
    assert error(await decide(live_server, "rep2", e, "approve")) == (404, "not_found")
    assert error(await decide(live_server, "admin", e, "approve")) == (
        403, "approval.not_your_turn")
    assert error(await decide(live_server, "manager", e, "approve", step=1)) == (
        409, "approval.not_pending")  # a decision for a step that is not the current one
    assert error(await decide(live_server, "manager", e, "maybe")) == (400, "bad_request")
    r = await decide(live_server, "admin", mine, "approve")
    assert r.json()["approval_status"] == "approved"


@pytest.mark.asyncio
async def test_an_approved_record_is_immutable_except_for_an_admin(
    live_server: LiveServer,
) -> None:
    team = live_server.team
    p = samples.new_id("trip_plan")
    plan = samples.trip_plan(created_by=team.rep1.id, stops=[])
    dev = await submit_offline(live_server, "rep1", p, "trip_plan", plan)
    assert (await decide(live_server, "manager", p, "approve")).status_code == 200
    admin = SyncClient("admin-pc")
    async with online(live_server, dev, "rep1"), online(live_server, admin, "admin"):
        await dev.wait_for(lambda: dev.read(p).get("approval_status") == "approved")
        update_fields(dev.doc(p), "trip_plan", {"budget_fen": 900_000})
        await dev.wait_flushed()
        err = dev.errors[-1]
        assert (err.doc, err.field, err.rule) == (p, "approval_status",
                                                  "approval.approved_immutable")
        assert "管理员" in err.message_zh
        assert [x.doc_id for x in dev.outbox if x.refused] == [p]
        await admin.wait_for(lambda: p in admin.docs)
        update_fields(admin.doc(p), "trip_plan", {"notes": "管理员更正"})
        await admin.wait_flushed()
        assert not admin.errors, admin.errors
    rec = await record(live_server, p)
    assert rec["budget_fen"] == 300_000 and rec["notes"] == "管理员更正"


def _tomorrow() -> str:
    return (china_today() + dt.timedelta(days=1)).isoformat()


@pytest.mark.asyncio
@pytest.mark.parametrize(("over", "field", "rule"), [
    ({"amount_fen": -100}, "amount_fen", "range"),
    ({"amount_fen": 0}, "amount_fen", "range"),
    ({"amount_fen": 10_000_001}, "amount_fen", "range"),
    ({"amount_fen": 1234.5}, "amount_fen", "type"),  # ¥12.345: more than two decimals
    ({"expense_date": "@tomorrow", "subject": None}, "expense_date", "expense.future_date"),
    ({"attachments": [samples.attachment(media_type="text/plain")]},
     "attachments[0].media_type", "enum"),
    ({"subject": "2024年3月11日交通费用—王小明"}, "subject", "expense.subject"),
    ({"approval_status": "approved"}, "approval_status", "approval.status_by_server"),
    ({"approval_status": "withdrawn"}, "approval_status", "approval.transition"),
    ({"submitted_at": None}, "approval_status", "approval.transition"),
], ids=["negative", "zero", "over-the-limit", "three-decimals", "future-date",
        "receipt-not-image-or-pdf", "subject-not-padded", "device-approves",
        "withdraw-a-draft", "submit-without-submitted-at"])
async def test_a_bad_expense_is_refused_by_name_and_kept_on_the_device(
    live_server: LiveServer, over: dict[str, Any], field: str, rule: str,
) -> None:
    over = {k: (_tomorrow() if v == "@tomorrow" else v) for k, v in over.items()}
    if "expense_date" in over:
        d = dt.date.fromisoformat(over["expense_date"])
        over["subject"] = f"{d.year:04d}年{d.month:02d}月{d.day:02d}日交通费用—王小明"
    dev = SyncClient("rep1-phone")
    e = samples.new_id("expense")
    async with online(live_server, dev, "rep1"):
        write_record(dev.doc(e), "expense", expense(live_server.team.rep1.id, **over))
        await dev.wait_flushed()
        err = dev.errors[-1]
        assert (err.doc, err.field, err.rule) == (e, field, rule), err
        assert err.message and err.message_zh and err.message != err.message_zh
        assert [x.doc_id for x in dev.outbox if x.refused] == [e]
    assert not (await live_server.services.hub.open(e, "expense")).exists


@pytest.mark.asyncio
async def test_a_trip_plans_stops_become_planned_tasks_once(live_server: LiveServer) -> None:
    team = live_server.team
    rep = SyncClient("rep1-phone")
    c1, c2, p = samples.new_id("customer"), samples.new_id("customer"), samples.new_id(
        "trip_plan")
    plan = samples.trip_plan(created_by=team.rep1.id, stops=[
        {"customer_id": c1, "purpose": "演示样机"}, {"customer_id": c2, "purpose": "签合同"}])
    async with online(live_server, rep, "rep1"):
        write_record(rep.doc(c1), "customer", new_customer(team.rep1.id, credit_code=None))
        write_record(rep.doc(c2), "customer", new_customer(
            team.rep1.id, credit_code=None, name="天津远望档案服务有限公司"))
        write_record(rep.doc(p), "trip_plan", plan)
        await rep.wait_flushed()
        assert not rep.errors, rep.errors
        await settle(live_server)
        tasks = [stop_task_id(p, c1), stop_task_id(p, c2)]
        await rep.wait_for(lambda: all(t in rep.docs for t in tasks))
        first, second = (rep.read(t) for t in tasks)
        assert first["subject"] == "拜访北京友好创达科技有限公司:演示样机"
        assert second["subject"] == "拜访天津远望档案服务有限公司:签合同"
        nine = int(dt.datetime(2024, 3, 11, 9, tzinfo=CHINA).timestamp() * 1000)
        assert (first["planned_start"], first["assignee"], first["trip_id"], first["status"],
                first["task_type"]) == (nine, team.rep1.id, p, "open", "visit")
        # returned and resubmitted: no second set of tasks
        assert (await decide(live_server, "manager", p, "return", "预算偏高")).status_code == 200
        await rep.wait_for(lambda: rep.read(p).get("approval_status") == "returned")
        update_fields(rep.doc(p), "trip_plan", {"budget_fen": 200_000,
                                                "approval_status": "submitted"})
        await rep.wait_flushed()
        assert not rep.errors, rep.errors
    await settle(live_server)
    async with http(live_server, "rep1") as api:
        listed = (await api.get("/api/records/task", params={"author": team.rep1.id})).json()
    assert sorted(r["doc_id"] for r in listed["items"] if r["trip_id"] == p) == sorted(tasks)


@pytest.mark.asyncio
async def test_a_weeks_records_are_what_the_read_api_returns_for_the_author_and_period(
    live_server: LiveServer,
) -> None:
    """What the phone's weekly-report draft and the back office rely on."""
    team = live_server.team
    monday = int(dt.datetime(2024, 3, 11, tzinfo=CHINA).timestamp() * 1000)
    week = 7 * 86_400_000
    c = samples.new_id("customer")
    dev, other = SyncClient("rep1-phone"), SyncClient("rep2-phone")
    inside: dict[str, set[str]] = {"visit": set(), "service": set(), "expense": set(),
                                   "trip_plan": set()}
    async with online(live_server, dev, "rep1"), online(live_server, other, "rep2"):
        write_record(dev.doc(c), "customer", new_customer(team.rep1.id, credit_code=None))
        for offset in (-1, 0, 3 * 86_400_000, week - 1, week):
            at = monday + offset
            rows = {
                "visit": samples.visit(created_by=team.rep1.id, customer_id=c, created_at=at,
                                       started_at=at, ended_at=at + 1),
                "service": samples.service(created_by=team.rep1.id, customer_id=c,
                                           created_at=at),
                "expense": expense(team.rep1.id, created_at=at),
                "trip_plan": samples.trip_plan(created_by=team.rep1.id, stops=[],
                                               created_at=at),
            }
            for kind, rec in rows.items():
                doc_id = samples.new_id(kind)
                write_record(dev.doc(doc_id), kind, rec)
                if 0 <= offset < week:
                    inside[kind].add(doc_id)
        # a colleague's visit in the same week is not in the rep's report
        c2 = samples.new_id("customer")
        write_record(other.doc(c2), "customer", new_customer(
            team.rep2.id, credit_code=None, name="天津远望档案服务有限公司"))
        write_record(other.doc(samples.new_id("visit")), "visit", samples.visit(
            created_by=team.rep2.id, customer_id=c2, created_at=monday + 5))
        await dev.wait_flushed()
        await other.wait_flushed()
    await settle(live_server)
    async with http(live_server, "manager") as api:
        for kind, want in inside.items():
            r = await api.get(f"/api/records/{kind}", params={
                "author": team.rep1.id, "since": monday, "until": monday + week, "limit": 500})
            assert r.status_code == 200, r.text
            assert {i["doc_id"] for i in r.json()["items"]} == want, kind
        # a trip plan has no customer to filter by: a named 400, not a 500
        r = await api.get("/api/records/trip_plan", params={"customer": c})
        assert (r.status_code, r.json()["error"]["field"]) == (400, "customer")


def _problems(kind: str, rec: dict[str, Any]) -> list[tuple[str, str]]:
    return [(v.field, v.rule) for v in validate(kind, None, rec, Actor(samples.USER, "rep"), {})]


@pytest.mark.parametrize(("kind", "over", "want"), [
    ("trip_plan", {"subject": "2024年03月11日-华北-出差计划—王小明"}, "trip_plan.subject"),
    ("trip_plan", {"subject": "2024年3月11日-华东-出差计划—王小明"}, "trip_plan.subject"),
    ("trip_plan", {"subject": "2024年3月11日-华北-出差计划—"}, "trip_plan.subject"),
    ("trip_plan", {"end_date": "2024-03-10"}, "time_order"),
    ("trip_report", {"subject": "出差报告 王小明"}, "trip_report.subject"),
    ("trip_report", {"ended_at": samples.T0}, "time_order"),
    ("expense", {"subject": "2024年03月11日交通费费用—王小明"}, "expense.subject"),
    ("work_report", {"subject": "2024年第10周工作周报—王小明"}, "work_report.subject"),
    ("work_report", {"period_start": "2024-03-12", "subject": "2024年第11周工作周报—王小明"},
     "work_report.period_start"),
    ("work_report", {"period": "month", "period_start": "2024-03-11",
                     "subject": "2024年3月工作月报—王小明"}, "work_report.period_start"),
    ("work_report", {"body": ""}, "required"),
])
def test_subjects_dates_and_periods(kind: str, over: dict[str, Any], want: str) -> None:
    assert want in [rule for _, rule in _problems(kind, samples.SAMPLES[kind](**over))]


@pytest.mark.parametrize(("kind", "over"), [
    ("work_report", {"period": "month", "period_start": "2024-03-01",
                     "subject": "2024年3月工作月报—王小明"}),
    # the ISO week of a Monday in late December can be week 1 of the next year
    ("work_report", {"period_start": "2024-12-30", "subject": "2025年第1周工作周报—王小明"}),
    ("expense", {"expense_type": "other", "subject": "2024年03月11日其他费用—王小明"}),
    ("trip_plan", {"start_date": "2024-12-01", "end_date": "2024-12-01",
                   "subject": "2024年12月1日-华北-出差计划—王小明"}),
])
def test_the_subjects_the_phone_makes_are_accepted(kind: str, over: dict[str, Any]) -> None:
    assert _problems(kind, samples.SAMPLES[kind](**over)) == []


@pytest.mark.asyncio
async def test_a_merge_moves_an_expense_to_the_surviving_card(live_server: LiveServer) -> None:
    """Merges re-parent every kind with a customer (the expense); kinds without one (trip
    plans) are left alone instead of breaking the merge."""
    team = live_server.team
    dev = SyncClient("rep1-phone")
    cards = [samples.new_id("customer"), samples.new_id("customer")]
    spent = [samples.new_id("expense"), samples.new_id("expense")]
    async with online(live_server, dev, "rep1"):
        names = ("北京友好创达科技有限公司", "天津远望档案服务有限公司")
        for card, e, name in zip(cards, spent, names, strict=True):
            write_record(dev.doc(card), "customer", new_customer(
                team.rep1.id, credit_code=None, name=name))
            write_record(dev.doc(e), "expense", expense(team.rep1.id, customer_id=card,
                                                         approval_status="draft"))
        write_record(dev.doc(samples.new_id("trip_plan")), "trip_plan", samples.trip_plan(
            created_by=team.rep1.id, approval_status="draft",
            stops=[{"customer_id": cards[1], "purpose": "回访"}]))
        await dev.wait_flushed()
        assert not dev.errors, dev.errors
    await settle(live_server)
    await live_server.services.duplicates.merge(cards[0], cards[1], team.admin.id)
    await settle(live_server)
    [survivor] = [c for c in cards if not (await record(live_server, c)).get("merged_into")]
    assert [(await record(live_server, e))["customer_id"] for e in spent] == [survivor] * 2
