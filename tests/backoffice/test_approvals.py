"""Trips, expenses and approvals in the back office (both backends): the approval inbox and
its count in the menu, decisions through `server.approvals` (and a stale one refused), the
expense report's totals to the fen (page, CSV, Excel read back), the trip calendar's days,
a trip's record page, the customer's timeline, the threshold form, and rights."""

from __future__ import annotations

import csv
import datetime
import io
import re
from typing import Any

import openpyxl
import pytest
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from schema import tables as st
from server.accounts import Accounts
from server.backoffice.auth import Viewer
from server.backoffice.columns import yuan
from server.backoffice.reports import run_report
from tests.backoffice.seed import insert_rows, login, post_form
from tests.conftest import PASSWORD, LiveServer, Team, make_team

pytestmark = pytest.mark.asyncio

D = 86_400_000
T = 1_750_000_000_000  # 2025-06-15 (a timestamp for created_at and friends)
DOCS = re.compile(r'/admin/records/((?:expense|trip_plan|work_report|trip_report):[\w-]+)"')


def expense(i: str, author: str, day: str, fen: int, *, kind: str = "transport",
            status: str = "approved", customer: str | None = None,
            trip: str | None = None) -> dict[str, Any]:
    return {"doc_id": f"expense:{i}", "subject": f"{day}{kind}费用—{i}",
            "expense_date": datetime.date.fromisoformat(day), "expense_type": kind,
            "amount_fen": fen, "customer_id": customer, "trip_id": trip,
            "approval_status": status, "approval_step": 0, "created_by": author,
            "created_at": T, "received_at": T, "submitted_at": T + 1000}


async def add_expenses(engine: AsyncEngine, rows: list[dict[str, Any]],
                       owners: dict[str, str] | None = None) -> None:
    """Granted as the kind declares: to the author and via the customer to its owner."""
    owners = owners or {}
    await insert_rows(engine, "expense", rows, {
        r["doc_id"]: [u for u in (r["created_by"], owners.get(r.get("customer_id") or ""))
                      if u] for r in rows})


async def add_customers(engine: AsyncEngine, team: Team) -> dict[str, str]:
    rows = [{"doc_id": "customer:ca", "name": "北京友好创达科技有限公司", "code": "KH0001",
             "owner": team.rep1.id, "created_by": team.rep1.id, "category": "direct",
             "tier": "core"},
            {"doc_id": "customer:cb", "name": "上海远景数码设备有限公司", "code": "KH0002",
             "owner": team.rep3.id, "created_by": team.rep3.id, "category": "direct",
             "tier": "core"}]
    await insert_rows(engine, "customer", rows, {r["doc_id"]: [r["owner"]] for r in rows})
    return {r["doc_id"]: r["owner"] for r in rows}


def _expense_world(team: Team) -> list[dict[str, Any]]:
    r1, r2, r3 = team.rep1.id, team.rep2.id, team.rep3.id
    return [
        expense("e1", r1, "2025-05-03", 55_350, customer="customer:ca"),
        expense("e2", r1, "2025-05-20", 12_001, kind="meals", status="submitted",
                customer="customer:ca"),
        expense("e3", r1, "2025-06-01", 1, kind="meals"),  # one fen
        expense("e4", r2, "2025-06-02", 9_999_999, kind="lodging"),
        expense("e5", r2, "2025-06-03", 33_333, kind="other", status="draft"),  # no claim
        expense("e6", r2, "2025-06-04", 44_444, status="rejected"),  # no claim
        expense("e7", r1, "2025-06-05", 70_007, status="returned"),  # being fixed: no claim
        expense("e8", r3, "2025-06-06", 80_000, customer="customer:cb"),  # team B
    ]


def _rows(report: Any, name: str) -> list[tuple[Any, ...]]:
    return next(t.rows for t in report.tables if t.name == name)


async def test_expense_report_totals_to_the_fen(engine: AsyncEngine) -> None:
    accounts = Accounts(engine)
    team = await make_team(accounts)
    owners = await add_customers(engine, team)
    await add_expenses(engine, _expense_world(team), owners)
    manager = Viewer(team.manager, await accounts.principal(team.manager), "t")
    async with engine.connect() as conn:
        report, _ = await run_report(conn, "expenses", manager, {}, "en")
    total = 55_350 + 12_001 + 1 + 9_999_999
    approved = total - 12_001
    assert _rows(report, "by_rep") == [("rep1", 3, 67_352, 55_351),
                                       ("rep2", 1, 9_999_999, 9_999_999),
                                       ("Total", 4, total, approved)]
    assert _rows(report, "by_month") == [("2025-05", 2, 67_351, 55_350),
                                         ("2025-06", 2, 10_000_000, 10_000_000),
                                         ("Total", 4, total, approved)]
    assert _rows(report, "by_type") == [("lodging", 1, 9_999_999, 9_999_999),
                                        ("transport", 1, 55_350, 55_350),
                                        ("meals", 2, 12_002, 1),
                                        ("Total", 4, total, approved)]
    by_customer = _rows(report, "by_customer")
    assert by_customer[0] == (None, "No customer", 2, 10_000_000, 10_000_000)
    assert by_customer[1] == ("customer:ca", "北京友好创达科技有限公司", 2, 67_351, 55_350)
    assert {r[0] for r in _rows(report, "expenses")} == {"expense:e1", "expense:e2",
                                                         "expense:e3", "expense:e4"}
    assert len(report.charts) == 3 and all("<svg" in c for _, c in report.charts)
    async with engine.connect() as conn:
        # filters: rep, type, dates (on the expense date, both ends included)
        report, _ = await run_report(conn, "expenses", manager, {"member": team.rep2.id}, "en")
        assert _rows(report, "by_rep")[0] == ("rep2", 1, 9_999_999, 9_999_999)
        report, _ = await run_report(conn, "expenses", manager, {"kind": "meals"}, "en")
        assert _rows(report, "by_rep") == [("rep1", 2, 12_002, 1), ("Total", 2, 12_002, 1)]
        report, _ = await run_report(conn, "expenses", manager,
                                     {"from": "2025-05-20", "to": "2025-06-01"}, "en")
        assert _rows(report, "by_rep")[-1] == ("Total", 2, 12_002, 1)
        # an admin sees team B's too; a rep only their own; the other manager only theirs
        admin = Viewer(team.admin, await accounts.principal(team.admin), "t")
        report, _ = await run_report(conn, "expenses", admin, {}, "en")
        assert _rows(report, "by_rep")[-1] == ("Total", 5, total + 80_000, approved + 80_000)
        rep2 = Viewer(team.rep2, await accounts.principal(team.rep2), "t")
        report, _ = await run_report(conn, "expenses", rep2, {}, "en")
        assert [r[0] for r in _rows(report, "by_rep")] == ["rep2", "Total"]
        other = Viewer(team.other_manager, await accounts.principal(team.other_manager), "t")
        report, _ = await run_report(conn, "expenses", other, {}, "en")
        assert _rows(report, "by_rep") == [("rep3", 1, 80_000, 80_000),
                                           ("Total", 1, 80_000, 80_000)]


async def test_yuan_is_exact() -> None:
    assert yuan(1) == "0.01" and yuan(9_999_999) == "99,999.99" and yuan(0) == "0.00"
    assert yuan(-12_345) == "-123.45" and yuan(10_000_000) == "100,000.00"


async def test_expense_report_page_and_exports(live_server: LiveServer) -> None:
    team, engine = live_server.team, live_server.services.engine
    owners = await add_customers(engine, team)
    world = _expense_world(team)
    await add_expenses(engine, world, owners)
    claimed = [r for r in world if r["approval_status"] in ("submitted", "approved")
               and r["created_by"] != team.rep3.id]
    fen = sum(r["amount_fen"] for r in claimed)
    async with login(live_server.url, "manager", PASSWORD) as http:
        r = await http.get("/admin/reports/expenses")
        assert r.status_code == 200, r.text[:500]
        assert "费用" in r.text and f"¥{yuan(fen)}" not in r.text  # no currency sign in cells
        assert yuan(fen) in r.text and "99,999.99" in r.text and "0.01" in r.text
        assert set(DOCS.findall(r.text)) == {"expense:e1", "expense:e2", "expense:e3",
                                              "expense:e4"}
        assert "上海远景" not in r.text and "expense:e8" not in r.text
        assert '<a href="/admin/reports/expenses" class="on">' in r.text
        r = await http.get("/admin/reports/expenses.csv?table=by_rep&lang=en")
        rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
        assert rows[0] == ["Rep", "Expenses", "Amount (yuan)", "Approved (yuan)"]
        assert rows[-1] == ["Total", "4", yuan(fen), yuan(fen - 12_001)]
        x = await http.get("/admin/reports/expenses.xlsx")
        assert x.status_code == 200
        wb = openpyxl.load_workbook(io.BytesIO(x.content))
        assert wb.sheetnames == ["按业务员", "按月份", "按费用类型", "按客户", "费用"]
        detail = wb["费用"]
        header = [c.value for c in detail[1]]
        amount = header.index("金额(元)")
        cells = [row[amount] for row in detail.iter_rows(min_row=2)]
        assert all(c.number_format == "#,##0.00" for c in cells)
        # every cell is the nearest number to its yuan: back to fen exactly, summing to the
        # records' own sum
        assert sorted(round(c.value * 100) for c in cells) == sorted(
            r["amount_fen"] for r in claimed)
        assert sum(round(c.value * 100) for c in cells) == fen
        by_rep = list(wb["按业务员"].iter_rows(values_only=True))
        assert by_rep[-1][0] == "合计" and round(by_rep[-1][2] * 100) == fen
        assert sum(round(r[2] * 100) for r in by_rep[1:-1]) == fen
    async with login(live_server.url, "manager_b", PASSWORD) as http:
        x = await http.get("/admin/reports/expenses.xlsx")
        wb = openpyxl.load_workbook(io.BytesIO(x.content), read_only=True)
        got = list(wb["费用"].iter_rows(values_only=True))
        assert [r[0] for r in got[1:]] == ["expense:e8"]


# -- the trip calendar -------------------------------------------------------------------------


def trip(i: str, author: str, start: str, end: str, status: str = "approved",
         region: str = "华北") -> dict[str, Any]:
    d = datetime.date.fromisoformat(start)
    return {"doc_id": f"trip_plan:{i}",
            "subject": f"{d.year}年{d.month}月{d.day}日-{region}-出差计划—{i}",
            "region": region, "start_date": d, "end_date": datetime.date.fromisoformat(end),
            "approval_status": status, "approval_step": 0, "created_by": author,
            "created_at": T, "received_at": T, "submitted_at": T + 1000}


async def add_trips(engine: AsyncEngine, rows: list[dict[str, Any]],
                    stops: dict[str, list[str]] | None = None) -> None:
    await insert_rows(engine, "trip_plan", rows, {r["doc_id"]: [r["created_by"]] for r in rows})
    items = [{"doc_id": d, "position": i, "customer_id": c, "purpose": f"目的{i}"}
             for d, cs in (stops or {}).items() for i, c in enumerate(cs)]
    if items:
        async with engine.begin() as conn:
            await conn.execute(insert(st.rec_trip_stop), items)


def bars(html: str) -> dict[str, str]:
    """doc id -> the bar's grid-column (start / end) on the trip calendar."""
    return dict(re.findall(r'data-doc="(trip_plan:[\w-]+)"[^>]*style="grid-row: \d+; '
                           r'grid-column: (\d+ / \d+);"', html))


async def test_trip_calendar_days_and_rights(live_server: LiveServer) -> None:
    team, engine = live_server.team, live_server.services.engine
    r1, r2, r3 = team.rep1.id, team.rep2.id, team.rep3.id
    await add_trips(engine, [
        trip("p1", r1, "2025-06-03", "2025-06-05"),
        trip("p2", r1, "2025-05-29", "2025-06-02", status="submitted"),  # from May
        trip("p3", r2, "2025-06-28", "2025-07-03", status="returned"),  # into July
        trip("p4", r2, "2025-06-10", "2025-06-10", status="draft"),  # one day
        trip("p5", r1, "2025-07-10", "2025-07-12"),  # another month
        trip("pb", r3, "2025-06-03", "2025-06-05"),  # team B
    ])
    async with login(live_server.url, "manager", PASSWORD) as http:
        r = await http.get("/admin/trips?month=2025-06")
        assert r.status_code == 200, r.text[:500]
        # column 1 holds the names; day d of the month is column d + 1, the end exclusive
        assert bars(r.text) == {"trip_plan:p1": "4 / 7", "trip_plan:p2": "2 / 4",
                                "trip_plan:p3": "29 / 32", "trip_plan:p4": "11 / 12"}
        assert r.text.count('class="hd day') == 30  # June's days
        assert 'data-date="2025-06-30"' in r.text and 'data-date="2025-07-01"' not in r.text
        assert re.search(r'class="bar st-submitted before"[^>]*data-doc="trip_plan:p2"', r.text)
        assert re.search(r'class="bar st-returned after"[^>]*data-doc="trip_plan:p3"', r.text)
        r = await http.get("/admin/trips?month=2025-07")
        assert bars(r.text) == {"trip_plan:p3": "2 / 5", "trip_plan:p5": "11 / 14"}
        assert r.text.count('class="hd day') == 31
        r = await http.get(f"/admin/trips?month=2025-06&member={r2}")
        assert set(bars(r.text)) == {"trip_plan:p3", "trip_plan:p4"}
        # team B's member is answered as one that does not exist; a bad month is this month
        assert (await http.get(f"/admin/trips?member={r3}")).status_code == 404
        assert (await http.get("/admin/trips?month=9999-99")).status_code == 200
        r = await http.get("/admin/trips?month=2025-06&lang=en")
        assert "Trip calendar" in r.text and ">Approved<" in r.text
    async with login(live_server.url, "manager_b", PASSWORD) as http:
        r = await http.get("/admin/trips?month=2025-06")
        assert set(bars(r.text)) == {"trip_plan:pb"}
    async with login(live_server.url, "rep2", PASSWORD) as http:
        r = await http.get("/admin/trips?month=2025-06")
        assert set(bars(r.text)) == {"trip_plan:p3", "trip_plan:p4"}
        assert (await http.get(f"/admin/trips?member={r1}")).status_code == 404


async def test_trip_record_page_and_customer_timeline(live_server: LiveServer) -> None:
    team, engine = live_server.team, live_server.services.engine
    r1 = team.rep1.id
    owners = await add_customers(engine, team)
    await add_trips(engine, [trip("p1", r1, "2025-06-03", "2025-06-05")],
                    {"trip_plan:p1": ["customer:ca", "customer:cb"]})
    await add_expenses(engine, [
        expense("t1", r1, "2025-06-03", 12_345, trip="trip_plan:p1", customer="customer:ca"),
        expense("t2", r1, "2025-06-04", 655, kind="meals", trip="trip_plan:p1"),
        expense("t3", r1, "2025-06-09", 1_000),  # not on the trip
    ], owners)
    await insert_rows(engine, "visit", [{
        "doc_id": "visit:tv", "customer_id": "customer:ca", "created_by": r1,
        "started_at": T, "created_at": T, "submitted_at": T, "visit_type": "visit_out",
        "purpose": "演示高速扫描仪", "trip_id": "trip_plan:p1"}], {"visit:tv": [r1]})
    await insert_rows(engine, "trip_report", [{
        "doc_id": "trip_report:r1", "subject": "出差报告+rep1", "plan_id": "trip_plan:p1",
        "started_at": T, "ended_at": T + D, "purpose": "拜访", "result": "签约",
        "next_step": "报价", "created_by": r1, "created_at": T + D}], {"trip_report:r1": [r1]})
    async with login(live_server.url, "manager", PASSWORD) as http:
        r = await http.get("/admin/records/trip_report:r1")
        assert r.status_code == 200, r.text[:500]
        trip_part = r.text.split('id="trip"')[1]
        assert "visit:tv" in trip_part and "expense:t1" in trip_part and "expense:t2" in trip_part
        assert "expense:t3" not in trip_part
        assert "¥130.00" in trip_part  # 123.45 + 6.55, from the fen
        r = await http.get("/admin/records/trip_plan:p1")
        stops = r.text.split('id="stops"')[1].split("</section>")[0]
        # the customer the manager sees is named; team B's is shown by its id alone
        assert "北京友好创达科技有限公司" in stops and "customer:cb" in stops
        assert "上海远景" not in stops
        r = await http.get("/admin/records/customer:ca")
        timeline = r.text.split('class="timeline"')[1]
        assert "trip_plan:p1" in timeline and "expense:t1" in timeline
        assert "¥123.45" in timeline and "expense:t2" not in timeline
    async with login(live_server.url, "manager_b", PASSWORD) as http:
        assert (await http.get("/admin/records/trip_report:r1")).status_code == 404
        r = await http.get("/admin/records/customer:cb")
        # rep3's customer is a stop of rep1's trip: the trip stays rep1's team's to see
        assert "trip_plan:p1" not in r.text.split('class="timeline"')[1]


# -- the inbox over projected rows ---------------------------------------------------------------


async def add_approvers(engine: AsyncEngine, approvers: dict[str, list[str]]) -> None:
    async with engine.begin() as conn:
        await conn.execute(insert(st.rec_approver), [
            {"doc_id": d, "position": i, "user_id": u}
            for d, us in approvers.items() for i, u in enumerate(us)])


async def test_inbox_lists_what_waits_for_the_viewer(live_server: LiveServer) -> None:
    team, engine = live_server.team, live_server.services.engine
    r1, r2, r3, m = team.rep1.id, team.rep2.id, team.rep3.id, team.manager.id
    await add_expenses(engine, [
        {**expense("w1", r1, "2025-06-03", 1_000, status="submitted"), "submitted_at": T + D},
        {**expense("w2", r2, "2025-06-04", 900_000, status="submitted"), "approval_step": 1},
        expense("w3", r1, "2025-06-05", 500, status="approved"),  # decided
        expense("w4", r3, "2025-06-05", 500, status="submitted"),  # team B's
    ])
    await add_trips(engine, [trip("wp", r2, "2025-06-10", "2025-06-12", status="submitted")])
    await add_approvers(engine, {
        "expense:w1": [m], "expense:w2": [m, team.admin.id], "expense:w3": [m],
        "expense:w4": [team.other_manager.id], "trip_plan:wp": [m]})
    async with login(live_server.url, "manager", PASSWORD) as http:
        r = await http.get("/admin/approvals")
        assert r.status_code == 200, r.text[:500]
        inbox = r.text.split('id="inbox"')[1]
        assert DOCS.findall(inbox) == ["expense:w1", "trip_plan:wp"]  # newest first
        assert '<span class="nav-count">2</span>' in r.text
        assert '<span id="waiting-count">2</span>' in r.text
        assert "¥10.00" in inbox
        # the count is in the menu of every page
        assert '<span class="nav-count">2</span>' in (await http.get("/admin/visits")).text
    async with login(live_server.url, "admin", PASSWORD) as http:  # the second step's
        r = await http.get("/admin/approvals?lang=en")
        assert DOCS.findall(r.text.split('id="inbox"')[1]) == ["expense:w2"]
        assert "¥9,000.00" in r.text
    async with login(live_server.url, "manager_b", PASSWORD) as http:
        r = await http.get("/admin/approvals")
        assert DOCS.findall(r.text.split('id="inbox"')[1]) == ["expense:w4"]
    async with login(live_server.url, "rep1", PASSWORD) as http:
        r = await http.get("/admin/approvals")
        assert DOCS.findall(r.text.split('id="inbox"')[1]) == []
        assert "nav-count" not in r.text


# -- decisions from the back office, through the real flow ------------------------------------


async def submit_expense(live: LiveServer, login_: str, user: Any, fen: int,
                         day: datetime.date) -> str:
    """The rep submits an expense from the phone, through /sync; the server routes it."""
    from schema import samples
    from schema.ydoc import write_record
    from sync.client import SyncClient

    eid = samples.new_id("expense")
    dev = SyncClient(f"phone-{login_}")
    rec = samples.expense(
        subject=f"{day.year}年{day.month:02d}月{day.day:02d}日交通费用—{user.name}",
        expense_date=day.isoformat(), amount_fen=fen, created_by=user.id,
        created_at=T, submitted_at=T + 1000, approval_status="submitted")
    for k in ("trip_id", "visit_id", "customer_id", "deal_id", "attachments"):
        rec.pop(k)
    async with dev.connect(f"{live.ws}/sync", live.tokens[login_]):
        await dev.wait_caught_up()
        write_record(dev.doc(eid), "expense", rec)
        await dev.wait_flushed()
    await live.services.edits.settle()
    assert not live.services.edits.errors
    return eid


def flow_part(html: str) -> str:
    return html.split('id="approval"')[1].split("</section>")[0]


async def test_decisions_from_the_back_office(live_server: LiveServer) -> None:
    live, team = live_server, live_server.team
    eid = await submit_expense(live, "rep1", team.rep1, 12_345, datetime.date(2025, 6, 3))
    async with login(live.url, "manager", PASSWORD) as http:
        r = await http.get("/admin/approvals")
        assert DOCS.findall(r.text.split('id="inbox"')[1]) == [eid]
        assert '<span class="nav-count">1</span>' in r.text
        # opening it as the current approver opens it (the author can no longer withdraw)
        r = await http.get(f"/admin/records/{eid}")
        assert r.status_code == 200, r.text[:500]
        await live.services.edits.settle()
        r = await http.get(f"/admin/records/{eid}")
        part = flow_part(r.text)
        assert "a-submit" in part and "a-open" in part and "phone-rep1" in part
        assert 'id="decide"' in part and "¥123.45" in r.text
        # a return without a comment: 422, said on the page, nothing decided
        r = await post_form(http, f"/admin/records/{eid}/decide", action="return", comment=" ",
                            step="0")
        assert r.status_code == 422 and "退回时必须填写意见" in r.text
        r = await post_form(http, f"/admin/records/{eid}/decide", action="return",
                            comment="金额与车票不符,请核对", step="0")
        assert r.status_code == 303, r.text[:500]
        await live.services.edits.settle()
        r = await http.get(r.headers["location"])
        assert "已退回给作者修改" in r.text
        part = flow_part(r.text)
        assert "a-return" in part and "金额与车票不符,请核对" in part and "backoffice" in part
        assert ">后台</td>" in part  # where, in words (the device id in its title)
        assert 'id="decide"' not in part and "st-returned" in part
        # the page from before the return, posted again: stale, 409, said clearly
        r = await post_form(http, f"/admin/records/{eid}/decide", action="approve",
                            comment="", step="0")
        assert r.status_code == 409 and "此记录已不在审批中" in r.text
        assert '<span class="nav-count">' not in r.text  # nothing waits any more
    async with login(live.url, "rep1", PASSWORD) as http:  # the author: no form, refused
        r = await http.get(f"/admin/records/{eid}")
        assert 'id="decide"' not in r.text
        r = await post_form(http, f"/admin/records/{eid}/decide", action="approve", step="0")
        assert r.status_code == 403 and "不能审批自己的记录" in r.text
    async with login(live.url, "manager_b", PASSWORD) as http:  # another team: nothing
        assert DOCS.findall((await http.get("/admin/approvals")).text) == []
        assert (await http.get(f"/admin/records/{eid}")).status_code == 404
        r = await post_form(http, f"/admin/records/{eid}/decide", action="approve", step="0")
        assert r.status_code == 404
    eid2 = await submit_expense(live, "rep2", team.rep2, 500, datetime.date(2025, 6, 4))
    async with login(live.url, "manager", PASSWORD) as http:
        r = await post_form(http, f"/admin/records/{eid2}/decide", action="approve",
                            comment="同意", step="0")
        assert r.status_code == 303
        await live.services.edits.settle()
        r = await http.get(r.headers["location"])
        assert "st-approved" in flow_part(r.text) and "已通过审批,流程结束" in r.text
        again = await post_form(http, f"/admin/records/{eid2}/decide", action="reject",
                                comment="", step="0")
        assert again.status_code == 409  # already decided
        async with live.services.engine.connect() as conn:
            from sqlalchemy import select
            status = (await conn.execute(select(st.rec_expense.c.approval_status).where(
                st.rec_expense.c.doc_id == eid2))).scalar_one()
        assert status == "approved"


async def test_threshold_form(live_server: LiveServer) -> None:
    flow = live_server.services.approvals
    assert await flow.threshold() == 500_000
    async with login(live_server.url, "admin", PASSWORD) as http:
        r = await http.get("/admin/settings")
        assert r.status_code == 200 and 'value="5000.00"' in r.text
        r = await post_form(http, "/admin/settings", threshold="1,234.5")
        assert r.status_code == 303
        assert await flow.threshold() == 123_450
        r = await http.get("/admin/audit?action=admin.setting")
        assert "expense_second_approval_fen" in r.text and "123450" in r.text
        for bad in ("-1", "12.345", "abc", "100000.01", ""):
            r = await post_form(http, "/admin/settings", threshold=bad)
            assert r.status_code == 400 and "最多两位小数" in r.text, bad
        assert await flow.threshold() == 123_450
    async with login(live_server.url, "manager", PASSWORD) as http:
        assert (await http.get("/admin/settings")).status_code == 403
        r = await post_form(http, "/admin/settings", threshold="1")
        assert r.status_code == 403
        assert await flow.threshold() == 123_450
