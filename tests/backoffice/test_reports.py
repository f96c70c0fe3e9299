"""The policy's reports: their arithmetic on hand-made projection rows (both backends), and
the pages and exports through the running app, inside the viewer's tree."""

from __future__ import annotations

import csv
import datetime
import io
from typing import Any

import openpyxl
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from schema import tables as st
from server.accounts import Accounts
from server.backoffice.auth import Viewer
from server.backoffice.columns import cell_text
from server.backoffice.i18n import day_start_ms
from server.backoffice.reports import run_report
from tests.backoffice.seed import insert_children, insert_rows, login, seed
from tests.conftest import PASSWORD, LiveServer, make_team

pytestmark = pytest.mark.asyncio

AS_OF = datetime.date(2025, 6, 30)
H = 3_600_000
D = 24 * H


def at(day: datetime.date, hours: float = 10) -> int:
    return day_start_ms(day) + int(hours * H)


def ago(days: float) -> int:
    return at(AS_OF, 12) - int(days * D)


async def _world(engine: AsyncEngine) -> dict[str, Any]:
    accounts = Accounts(engine)
    team = await make_team(accounts)
    r1, r2, r3, eng = team.rep1.id, team.rep2.id, team.rep3.id, team.engineer.id

    def cust(i: int, owner: str, tier: str, category: str = "direct") -> dict[str, Any]:
        return {"doc_id": f"customer:c{i}", "name": f"客户{i}", "code": f"KH{i:04d}",
                "owner": owner, "tier": tier, "category": category, "created_by": owner,
                "created_at": ago(400), "received_at": ago(400)}

    customers = [cust(1, r1, "core"), cust(2, r1, "core"), cust(3, r1, "core"),
                 cust(4, r1, "high_growth"), cust(5, r1, "high_growth"), cust(6, r1, "ordinary"),
                 cust(7, r1, "core", "distributor"), cust(8, r3, "core")]
    await insert_rows(engine, "customer", customers,
                      {c["doc_id"]: [c["owner"]] for c in customers})

    def visit(i: int, cid: str, author: str, when: int, lag: int = 0,
              submitted: bool = True) -> dict[str, Any]:
        return {"doc_id": f"visit:v{i}", "customer_id": cid, "created_by": author,
                "started_at": when, "created_at": when, "received_at": when + lag,
                "visit_type": "visit_out", "submitted_at": when if submitted else None}

    visits = [
        visit(1, "customer:c1", r2, ago(5)), visit(2, "customer:c2", r2, ago(10)),
        visit(3, "customer:c3", r2, ago(10)), visit(4, "customer:c4", r2, ago(1), submitted=False),
        visit(5, "customer:c8", r3, ago(60)),
        # activity: rep1, two weeks
        visit(10, "customer:c6", r1, at(datetime.date(2025, 6, 24)), H),
        visit(11, "customer:c6", r1, at(datetime.date(2025, 6, 29), 20), 3 * D),
        visit(12, "customer:c6", r1, at(datetime.date(2025, 6, 16), 9), 10 * 60_000),
    ]
    await insert_rows(engine, "visit", visits, {
        v["doc_id"]: [v["created_by"], r3 if v["customer_id"] == "customer:c8" else r1]
        for v in visits})
    await insert_rows(engine, "progress", [
        {"doc_id": "progress:p1", "customer_id": "customer:c4", "deal_id": "deal:x",
         "created_by": r1, "created_at": ago(20), "count_as_contact": True,
         "submitted_at": ago(20)},
        {"doc_id": "progress:p2", "customer_id": "customer:c1", "deal_id": "deal:d1",
         "created_by": r1, "created_at": ago(10), "count_as_contact": False,
         "submitted_at": ago(10)},
        # a draft is no follow-up: the lead d3 stays due
        {"doc_id": "progress:p3", "customer_id": "customer:c1", "deal_id": "deal:d3",
         "created_by": r1, "created_at": ago(1), "count_as_contact": True,
         "submitted_at": None},
    ], {"progress:p1": [r1], "progress:p2": [r1], "progress:p3": [r1]})

    def deal(i: int, cls: str, stage: int, created: int, close: str | None = "2025-09-30",
             cid: str = "customer:c1") -> dict[str, Any]:
        return {"doc_id": f"deal:d{i}", "customer_id": cid, "title": f"跟单{i}",
                "deal_class": cls, "stage": stage, "probability": stage * 10,
                "follow_up_days": {"short": 7, "medium": 15, "lead": 15}.get(cls),
                "expected_close_date": None if close is None else datetime.date.fromisoformat(
                    close), "created_by": r1, "created_at": created, "received_at": created}

    deals = [deal(1, "short", 4, ago(30), cid="customer:c2"),
             deal(2, "medium", 2, ago(5), cid="customer:c3"),
             deal(3, "lead", 1, ago(20), close=None), deal(4, "won", 10, ago(90)),
             deal(5, "short", 5, ago(30), cid="customer:c8")]
    deals[4]["created_by"] = r3
    await insert_rows(engine, "deal", deals, {
        d["doc_id"]: [d["created_by"]] for d in deals})
    await insert_children(engine, st.rec_deal_product, [
        {"doc_id": "deal:d1", "position": 0, "name": "扫描仪", "quantity": 5, "unit_price": 100.0},
        {"doc_id": "deal:d2", "position": 0, "name": "存储", "quantity": 1, "unit_price": 1000.0},
        {"doc_id": "deal:d4", "position": 0, "name": "软件", "quantity": 1, "unit_price": 9.0},
        {"doc_id": "deal:d5", "position": 0, "name": "打印机", "quantity": 1, "unit_price": 7.0},
    ])

    def service(i: int, stype: str, status: str, author: str, responded: int | None,
                completed: int | None, cid: str = "customer:c1") -> dict[str, Any]:
        created = ago(40)
        return {"doc_id": f"service:s{i}", "customer_id": cid, "service_type": stype,
                "status": status, "created_by": author, "created_at": created,
                "received_at": created, "service_date": AS_OF - datetime.timedelta(days=40),
                "responded_at": None if responded is None else created + responded,
                "completed_at": None if completed is None else created + completed}

    services = [service(1, "warranty_repair", "completed", eng, H, 3 * H),
                service(2, "paid_repair", "in_progress", eng, 3 * H, None),
                service(3, "paid_repair", "completed", eng, None, 5 * H),
                service(4, "installation", "completed", r1, H, 2 * H),
                service(5, "paid_repair", "completed", r3, H, 2 * H, cid="customer:c8")]
    await insert_rows(engine, "service", services, {
        s["doc_id"]: [s["created_by"], r3 if s["customer_id"] == "customer:c8" else r1]
        for s in services})
    await insert_children(engine, st.rec_service_product, [
        {"doc_id": "service:s1", "position": 0, "name": "扫描仪A", "model": "M", "serial_no": "X"},
        {"doc_id": "service:s2", "position": 0, "name": "扫描仪A", "model": "M", "serial_no": "X"},
        {"doc_id": "service:s3", "position": 0, "name": "扫描仪A", "model": "M", "serial_no": "Y"},
        {"doc_id": "service:s4", "position": 0, "name": "存储B", "model": "S", "serial_no": "Z"},
        {"doc_id": "service:s5", "position": 0, "name": "打印机C", "model": "P", "serial_no": "Q"},
    ])
    manager = Viewer(team.manager, await accounts.principal(team.manager), "t")
    return {"team": team, "manager": manager}


def _table(report: Any, name: str) -> list[tuple[Any, ...]]:
    return next(t.rows for t in report.tables if t.name == name)


async def test_report_arithmetic(engine: AsyncEngine) -> None:
    w = await _world(engine)
    v = w["manager"]
    q = {"as_of": AS_OF.isoformat()}
    async with engine.connect() as conn:
        contact, _ = await run_report(conn, "contact", v, q, "en")
        per_rep = _table(contact, "per_rep")
        assert per_rep == [("rep1", 3, 2, 5, 2, 0.6, "✗")]
        overdue = {r[0]: r for r in _table(contact, "overdue")}
        assert set(overdue) == {"customer:c2", "customer:c5"}
        # 10.5 days since the visit, weekly: 3.5 days past, counted up (schema.duties)
        assert overdue["customer:c2"][4] == "weekly" and overdue["customer:c2"][7] == 4
        assert overdue["customer:c5"][5] is None and overdue["customer:c5"][4] == "monthly"
        last = next(c for t in contact.tables if t.name == "overdue" for c in t.cols
                    if c.key == "last")
        assert cell_text(last, None, "zh") == "从未"  # never contacted, said so
        assert cell_text(last, overdue["customer:c2"][5], "zh").startswith("2025-06-")

        deals, _ = await run_report(conn, "deals", v, q, "en")
        pipeline = _table(deals, "pipeline")
        assert [r[:2] for r in pipeline[:-1]] == [(1, 1), (2, 1), (4, 1)]
        assert pipeline[1][2:] == (1000.0, 200.0) and pipeline[2][2:] == (500.0, 200.0)
        assert pipeline[-1][1:] == (3, 1500.0, 400.0)
        due = {r[0]: r for r in _table(deals, "followups")}
        assert set(due) == {"deal:d1", "deal:d3"}
        assert due["deal:d1"][8] == 4  # last progress 10.5 days ago, cadence 7: 3.5, counted up
        assert [r[0] for r in _table(deals, "no_close_date")] == ["deal:d3"]

        service, _ = await run_report(conn, "service", v, {}, "en")
        assert _table(service, "by_product") == [("扫描仪A", "M", 3, 2, 1, 1.5)]
        by_customer = _table(service, "by_customer")
        assert [(r[0], r[3], r[4]) for r in by_customer] == [("customer:c1", 4, 3)]
        eng = {r[0]: r for r in _table(service, "by_engineer")}
        assert set(eng) == {"engineer", "rep1"}
        assert eng["engineer"][1:4] == (3, 2, 2 / 3)
        assert eng["engineer"][4] == pytest.approx(2.0)  # (1 h + 3 h) / 2
        assert eng["engineer"][5] == pytest.approx(2.0)  # 3 h - 1 h; s2, s3 have no pair
        only_repairs, _ = await run_report(conn, "service", v, {"kind": "installation"}, "en")
        assert _table(only_repairs, "by_product") == []

        activity, _ = await run_report(conn, "activity", v, {
            "from": "2025-06-16", "to": "2025-06-29", "member": w["team"].rep1.id}, "en")
        rows = _table(activity, "activity")
        assert [(r[0], r[1], r[2]) for r in rows] == [
            ("rep1", datetime.date(2025, 6, 16), 1), ("rep1", datetime.date(2025, 6, 23), 2)]
        assert rows[1][3] == pytest.approx((H + 3 * D) / 2) and rows[1][4] == 3 * D
        assert rows[1][5] == 0.5 and rows[0][5] == 1.0
        assert activity.pivot is not None and activity.pivot["totals"] == [1, 2]

        # admins see team B too; a rep sees only their own
        admin = Viewer(w["team"].admin, await Accounts(engine).principal(w["team"].admin), "t")
        contact, _ = await run_report(conn, "contact", admin, q, "en")
        assert {r[0] for r in _table(contact, "per_rep")} == {"rep1", "rep3"}
        rep2 = Viewer(w["team"].rep2, await Accounts(engine).principal(w["team"].rep2), "t")
        service, _ = await run_report(conn, "service", rep2, {}, "en")
        assert _table(service, "by_product") == []


async def test_report_pages_and_exports_stay_inside_the_tree(live_server: LiveServer) -> None:
    s = await seed(live_server)
    async with login(live_server.url, "manager", PASSWORD) as http:
        for name in ("contact", "deals", "service", "activity"):
            r = await http.get(f"/admin/reports/{name}")
            assert r.status_code == 200, (name, r.text[:300])
            assert "<svg" in r.text, name
            assert "上海远景" not in r.text, name
        r = await http.get("/admin/reports/service?lang=en")
        assert "高速扫描仪" in r.text and "FS-9000" in r.text
        r = await http.get("/admin/reports/deals")
        assert s.deal_a in r.text  # its expected close date was never set
        r = await http.get("/admin/reports/activity?from=2025-04-01&to=2025-04-30")
        assert "rep1" in r.text
        for name, tables in (("contact", ("per_rep", "overdue")),
                             ("deals", ("pipeline", "followups", "no_close_date")),
                             ("service", ("by_product", "by_customer", "by_engineer")),
                             ("activity", ("activity",))):
            for table in tables:
                r = await http.get(f"/admin/reports/{name}.csv?table={table}")
                assert r.status_code == 200 and "上海远景" not in r.content.decode("utf-8-sig")
            x = await http.get(f"/admin/reports/{name}.xlsx")
            wb = openpyxl.load_workbook(io.BytesIO(x.content), read_only=True)
            assert len(wb.sheetnames) == len(tables)
        x = await http.get("/admin/reports/service.xlsx?lang=en")
        wb = openpyxl.load_workbook(io.BytesIO(x.content), read_only=True)
        assert wb.sheetnames == ["By product", "By customer", "By engineer"]
        rows = list(wb["By product"].iter_rows(values_only=True))
        assert rows[0][:3] == ("Product", "Model", "Repairs")
        assert rows[1][:3] == ("高速扫描仪", "FS-9000", 1)
        r = await http.get("/admin/reports/service.csv?table=by_customer&lang=en")
        rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
        assert rows[1][0] == s.customer_a and rows[1][3] == "1"
        assert (await http.get("/admin/reports/nothing")).status_code == 404
    async with login(live_server.url, "manager_b", PASSWORD) as http:
        r = await http.get("/admin/reports/service.csv?table=by_customer")
        text = r.content.decode("utf-8-sig")
        assert s.customer_b in text and s.customer_a not in text
        r = await http.get("/admin/reports/deals")
        assert s.deal_a not in r.text
