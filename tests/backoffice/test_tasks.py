"""Tasks in the back office (both backends): the tasks list with its filters, rights and
exports, the overdue-tasks report's arithmetic, the week view's days and who may open it,
a task's record page, and the contact report's note generated from schema.duties."""

from __future__ import annotations

import csv
import datetime
import io
import re
from typing import Any

import openpyxl
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from schema import duties
from server.accounts import Accounts
from server.backoffice.auth import Viewer
from server.backoffice.i18n import day_start_ms, today_cst
from server.backoffice.reports import run_report
from server.backoffice.schedule import monday_of
from sync.log import now_ms
from tests.backoffice.seed import insert_rows, login
from tests.conftest import PASSWORD, LiveServer, Team, make_team

pytestmark = pytest.mark.asyncio

H = 3_600_000
D = 24 * H
MONDAY = datetime.date(2025, 6, 23)  # a Monday
TASK_IDS = re.compile(r'/admin/records/(task:[\w-]+)"')


def at(day: datetime.date, hours: float) -> int:
    """`hours` after midnight of `day` in China."""
    return day_start_ms(day) + int(hours * H)


def task(i: str, assignee: str, start: int, *, author: str | None = None,
         end: int | None = None, status: str = "open", **over: Any) -> dict[str, Any]:
    row = {"doc_id": f"task:{i}", "subject": f"日程{i}", "task_type": "visit",
           "assignee": assignee, "created_by": author or assignee, "planned_start": start,
           "planned_end": end, "priority": "normal", "status": status,
           "created_at": start - 5 * D, "received_at": start - 5 * D,
           "submitted_at": start - 5 * D}
    if status == "done" and "completed_at" not in over:
        row["completed_at"] = start + H
    row.update(over)
    return row


async def add_tasks(engine: AsyncEngine, rows: list[dict[str, Any]],
                    owners: dict[str, str] | None = None) -> None:
    """Task rows granted as the kind declares: to the assignee, the author and the owner
    of the task's customer."""
    owners = owners or {}
    await insert_rows(engine, "task", rows, {
        r["doc_id"]: [u for u in (r["assignee"], r["created_by"], owners.get(r.get("customer_id")
                                                                          or "")) if u]
        for r in rows})


async def add_customers(engine: AsyncEngine, team: Team) -> dict[str, str]:
    rows = [{"doc_id": "customer:ca", "name": "北京友好创达科技有限公司", "code": "KH0001",
             "owner": team.rep1.id, "created_by": team.rep1.id, "category": "direct",
             "tier": "core"},
            {"doc_id": "customer:cb", "name": "上海远景数码设备有限公司", "code": "KH0002",
             "owner": team.rep3.id, "created_by": team.rep3.id, "category": "direct",
             "tier": "core"}]
    await insert_rows(engine, "customer", rows, {r["doc_id"]: [r["owner"]] for r in rows})
    return {r["doc_id"]: r["owner"] for r in rows}


def heading(html: str) -> str:
    m = re.search(r"<h1>(.*?)</h1>", html, re.S)
    assert m, "no heading"
    return m.group(1)


def ids(html: str) -> set[str]:
    return set(TASK_IDS.findall(html))


async def _list_world(live: LiveServer) -> Team:
    team, engine = live.team, live.services.engine
    owners = await add_customers(engine, team)
    await add_tasks(engine, [
        task("t1", team.rep1.id, at(MONDAY, 9), end=at(MONDAY, 10), customer_id="customer:ca",
             priority="high", remind_at=at(MONDAY, 8.5)),
        task("t2", team.rep2.id, at(MONDAY + datetime.timedelta(days=2), 14),
             author=team.manager.id, task_type="call", status="done"),
        task("t3", team.rep1.id, at(MONDAY - datetime.timedelta(days=10), 9),
             task_type="follow_up", status="cancelled"),
        task("tb", team.rep3.id, at(MONDAY, 11), customer_id="customer:cb"),
    ], owners)
    return team


async def test_task_list_filters_and_rights(live_server: LiveServer) -> None:
    team = await _list_world(live_server)
    async with login(live_server.url, "manager", PASSWORD) as http:
        r = await http.get("/admin/tasks")
        assert r.status_code == 200, r.text[:500]
        assert ids(r.text) == {"task:t1", "task:t2", "task:t3"}  # never team B's
        assert "上海远景" not in r.text and "北京友好创达科技有限公司" in r.text
        assert '<a href="/admin/tasks" class="on">' in r.text  # in the nav
        rows = {i: tr for tr in r.text.split("<tr>") for i in ids(tr)}
        assert re.search(r"待办 <span class=\"badge off\">逾期 \d+ 天", rows["task:t1"])
        assert "逾期" not in rows["task:t2"] + rows["task:t3"]  # done, cancelled: never late
        cases = {
            f"member={team.rep1.id}": {"task:t1", "task:t3"},
            f"member={team.rep2.id}": {"task:t2"},
            f"member={team.rep3.id}": set(),  # naming team B's rep reveals nothing
            "customer=customer:ca": {"task:t1"},
            "customer=customer:cb": set(),
            "q=友好创达": {"task:t1"},
            "kind=call": {"task:t2"},
            "status=done": {"task:t2"},
            "status=open": {"task:t1"},
            "from=2025-06-23&to=2025-06-24": {"task:t1"},
            "from=2025-06-24": {"task:t2"},
            "to=2025-06-22": {"task:t3"},
            f"member={team.rep1.id}&status=cancelled": {"task:t3"},
        }
        for query, want in cases.items():
            r = await http.get(f"/admin/tasks?{query}")
            assert r.status_code == 200 and ids(r.text) == want, query
        for key in ("planned_start", "subject", "customer_name", "task_type", "status",
                    "assignee_name", "remind_at", "completed_at"):
            for d in ("asc", "desc"):
                r = await http.get(f"/admin/tasks?sort={key}&dir={d}")
                assert r.status_code == 200 and ids(r.text) == {"task:t1", "task:t2", "task:t3"}
        r = await http.get("/admin/tasks?sort=planned_start&dir=asc")
        assert TASK_IDS.findall(r.text) == ["task:t3", "task:t1", "task:t2"]
        r = await http.get("/admin/tasks?status=done&lang=en")
        assert ">Done<" in r.text and ">Call<" in r.text and "rep2" in r.text
        assert "Tasks" in (await http.get("/admin/?lang=en")).text  # a tile on the home page
    async with login(live_server.url, "manager_b", PASSWORD) as http:
        assert ids((await http.get("/admin/tasks")).text) == {"task:tb"}
    async with login(live_server.url, "rep2", PASSWORD) as http:  # their own task only
        assert ids((await http.get("/admin/tasks")).text) == {"task:t2"}
    async with login(live_server.url, "rep1", PASSWORD) as http:
        assert ids((await http.get("/admin/tasks")).text) == {"task:t1", "task:t3"}
    async with login(live_server.url, "admin", PASSWORD) as http:
        assert ids((await http.get("/admin/tasks")).text) == {
            "task:t1", "task:t2", "task:t3", "task:tb"}


async def test_task_exports_read_back(live_server: LiveServer) -> None:
    team = await _list_world(live_server)
    async with login(live_server.url, "manager", PASSWORD) as http:
        r = await http.get("/admin/tasks.csv?lang=en&sort=planned_start&dir=asc")
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
        rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
        assert rows[0] == ["Doc", "Planned start", "Subject", "Customer", "Type", "Priority",
                           "Status", "Assignee", "Remind at", "Completed at"]
        assert [x[0] for x in rows[1:]] == ["task:t3", "task:t1", "task:t2"]
        t1 = rows[2]
        assert t1[1:8] == ["2025-06-23 09:00", "日程t1", "北京友好创达科技有限公司", "Visit",
                           "High", "To do", "rep1"]
        assert t1[8] == "2025-06-23 08:30" and t1[9] == ""
        r = await http.get(f"/admin/tasks.csv?member={team.rep1.id}")
        rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
        assert rows[0][:3] == ["记录编号", "计划开始", "主题"]
        assert {x[0] for x in rows[1:]} == {"task:t1", "task:t3"}
        x = await http.get("/admin/tasks.xlsx?status=done")
        assert x.status_code == 200
        wb = openpyxl.load_workbook(io.BytesIO(x.content), read_only=True)
        sheet = list(wb[wb.sheetnames[0]].iter_rows(values_only=True))
        assert sheet[0][:3] == ("记录编号", "计划开始", "主题")
        assert len(sheet) == 2 and sheet[1][0] == "task:t2"
        # real date-times, China time; labels in the viewer's language
        assert sheet[1][1] == datetime.datetime(2025, 6, 25, 14, 0)
        assert sheet[1][4:8] == ("电话", "中", "完成", "rep2")
        assert sheet[1][9] == datetime.datetime(2025, 6, 25, 15, 0)
    async with login(live_server.url, "manager_b", PASSWORD) as http:
        r = await http.get("/admin/tasks.csv")
        rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
        assert [x[0] for x in rows[1:]] == ["task:tb"]
        x = await http.get("/admin/tasks.xlsx")
        wb = openpyxl.load_workbook(io.BytesIO(x.content), read_only=True)
        got = [row[0] for row in wb[wb.sheetnames[0]].iter_rows(values_only=True)]
        assert got == ["记录编号", "task:tb"]


# -- the overdue-tasks report ------------------------------------------------------------------

AS_OF = datetime.date(2025, 6, 30)


def _rows(report: Any, name: str) -> list[tuple[Any, ...]]:
    return next(t.rows for t in report.tables if t.name == name)


async def test_overdue_report_arithmetic(engine: AsyncEngine) -> None:
    accounts = Accounts(engine)
    team = await make_team(accounts)
    r1, r2, r3 = team.rep1.id, team.rep2.id, team.rep3.id
    day = datetime.timedelta(days=1)
    await add_tasks(engine, [
        # due at its planned end, 3 days 13 hours before the end of the as-of day: 4 days
        task("a", r1, at(AS_OF - 3 * day, 10), end=at(AS_OF - 3 * day, 11)),
        # no end: due at its start, half an hour before the day ends: counted up to 1
        task("b", r1, at(AS_OF, 23.5)),
        # started yesterday, ends tomorrow: not late while its end is ahead
        task("c", r1, at(AS_OF - day, 9), end=at(AS_OF + day, 9)),
        task("d", r1, at(AS_OF + 5 * day, 9)),  # ahead: open, not late
        task("e", r2, at(AS_OF - 7 * day, 9), status="done",
             completed_at=at(AS_OF - 2 * day, 9)),  # done in the period
        task("f", r2, at(AS_OF - 70 * day, 9), status="done",
             completed_at=at(AS_OF - 60 * day, 9)),  # done before the period
        task("g", r2, at(AS_OF - 9 * day, 9), status="cancelled"),  # neither open nor late
        task("h", r3, at(AS_OF - 9 * day, 9)),  # team B: late, not the manager's
        task("i", r2, at(AS_OF - 2 * day, 9), author=team.manager.id, status="done",
             completed_at=at(AS_OF + day, 9)),  # completed after the period
    ])
    manager = Viewer(team.manager, await accounts.principal(team.manager), "t")
    q = {"as_of": AS_OF.isoformat(), "from": "2025-06-01", "to": AS_OF.isoformat()}
    async with engine.connect() as conn:
        report, params = await run_report(conn, "tasks", manager, q, "en")
        assert _rows(report, "per_rep") == [("rep1", 4, 2, 0), ("rep2", 0, 0, 1)]
        overdue = _rows(report, "overdue")
        assert [(r[0], r[6], r[7]) for r in overdue] == [("task:a", 4, "rep1"),
                                                        ("task:b", 1, "rep1")]
        assert overdue[0][5] == at(AS_OF - 3 * day, 11)  # due: the planned end
        assert overdue[0][6] == duties.days_late(overdue[0][5], 0, day_start_ms(AS_OF + day))
        assert "<svg" in report.charts[0][1]
        # a day earlier, b is not due yet and a is one day less late
        report, _ = await run_report(conn, "tasks", manager,
                                     {**q, "as_of": (AS_OF - day).isoformat()}, "en")
        assert [(r[0], r[6]) for r in _rows(report, "overdue")] == [("task:a", 3)]
        # the default period is the last four weeks up to "as of"
        report, params = await run_report(conn, "tasks", manager, {"as_of": "2025-06-30"}, "en")
        assert params.date_from == datetime.date(2025, 6, 9) and params.date_to == AS_OF
        report, _ = await run_report(conn, "tasks", manager, {**q, "member": r2}, "en")
        assert _rows(report, "per_rep") == [("rep2", 0, 0, 1)] and not _rows(report, "overdue")
        admin = Viewer(team.admin, await accounts.principal(team.admin), "t")
        report, _ = await run_report(conn, "tasks", admin, q, "en")
        assert {r[0] for r in _rows(report, "overdue")} == {"task:a", "task:b", "task:h"}
        rep2 = Viewer(team.rep2, await accounts.principal(team.rep2), "t")
        report, _ = await run_report(conn, "tasks", rep2, q, "en")
        assert _rows(report, "per_rep") == [("rep2", 0, 0, 1)]


async def test_as_of_today_means_now(engine: AsyncEngine) -> None:
    """A task due later today is not late this morning; one due an hour ago is."""
    accounts = Accounts(engine)
    team = await make_team(accounts)
    now = now_ms()
    await add_tasks(engine, [task("soon", team.rep1.id, now - H, end=now + H),
                             task("past", team.rep1.id, now - 2 * H, end=now - H)])
    manager = Viewer(team.manager, await accounts.principal(team.manager), "t")
    async with engine.connect() as conn:
        report, _ = await run_report(conn, "tasks", manager,
                                     {"as_of": today_cst().isoformat()}, "en")
    assert [(r[0], r[6]) for r in _rows(report, "overdue")] == [("task:past", 1)]


async def test_report_page_and_exports(live_server: LiveServer) -> None:
    team = live_server.team
    await add_customers(live_server.services.engine, team)
    await add_tasks(live_server.services.engine, [
        task("late", team.rep1.id, at(AS_OF - datetime.timedelta(days=2), 9),
             customer_id="customer:ca"),
        task("lateb", team.rep3.id, at(AS_OF - datetime.timedelta(days=2), 9),
             customer_id="customer:cb"),
    ])
    async with login(live_server.url, "manager", PASSWORD) as http:
        r = await http.get(f"/admin/reports/tasks?as_of={AS_OF}")
        assert r.status_code == 200, r.text[:500]
        assert "逾期日程" in r.text and "task:late" in r.text and "task:lateb" not in r.text
        assert "北京友好创达科技有限公司" in r.text and "上海远景" not in r.text
        r = await http.get(f"/admin/reports/tasks.csv?as_of={AS_OF}&table=overdue&lang=en")
        rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
        assert rows[0] == ["Doc", "Subject", "Customer", "Type", "Priority", "Due at",
                           "Days overdue", "Assignee"]
        assert rows[1:] == [["task:late", "日程late", "北京友好创达科技有限公司", "Visit",
                             "Normal", "2025-06-28 09:00", "3", "rep1"]]
        r = await http.get(f"/admin/reports/tasks.csv?as_of={AS_OF}&table=per_rep")
        rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
        assert rows == [["执行人", "待办", "逾期", "期间完成"], ["rep1", "1", "1", "0"]]
        x = await http.get(f"/admin/reports/tasks.xlsx?as_of={AS_OF}")
        wb = openpyxl.load_workbook(io.BytesIO(x.content), read_only=True)
        assert wb.sheetnames == ["按执行人", "逾期日程"]
        late = list(wb["逾期日程"].iter_rows(values_only=True))
        assert late[1][0] == "task:late" and late[1][5] == datetime.datetime(2025, 6, 28, 9)
        assert late[1][6] == 3 and len(late) == 2


# -- the week view ---------------------------------------------------------------------------


def days_of(html: str) -> dict[str, set[str]]:
    """Doc ids (tasks and visits) shown in each day column, by date."""
    out: dict[str, set[str]] = {}
    for part in html.split('<section class="day')[1:]:
        date = re.search(r'data-date="([\d-]+)"', part)
        assert date
        out[date.group(1)] = set(re.findall(r'/admin/records/((?:task|visit):[\w-]+)"', part))
    return out


async def test_week_view_days_and_rights(live_server: LiveServer) -> None:
    team, engine = live_server.team, live_server.services.engine
    owners = await add_customers(engine, team)
    day = datetime.timedelta(days=1)
    await add_tasks(engine, [
        # 07:00 on Monday in China is still Sunday in UTC: the China day decides
        task("mon", team.rep1.id, at(MONDAY, 7), end=at(MONDAY, 8), customer_id="customer:ca"),
        task("sun", team.rep1.id, at(MONDAY + 6 * day, 23.5)),
        task("before", team.rep1.id, at(MONDAY, 0) - 60_000),  # the Sunday before
        task("after", team.rep1.id, at(MONDAY + 7 * day, 0)),  # the next Monday
        task("wed", team.rep1.id, at(MONDAY + 2 * day, 15), status="done"),
        task("rep2", team.rep2.id, at(MONDAY + 2 * day, 15)),
    ], owners)
    visits = [{"doc_id": f"visit:{n}", "customer_id": "customer:ca", "created_by": who,
               "started_at": when, "created_at": when, "received_at": when,
               "visit_type": "visit_out", "submitted_at": when if n != "draft" else None}
              for n, who, when in (("v1", team.rep1.id, at(MONDAY + 2 * day, 10)),
                                   ("draft", team.rep1.id, at(MONDAY + 4 * day, 16)),
                                   ("v2", team.rep2.id, at(MONDAY + 2 * day, 11)))]
    await insert_rows(engine, "visit", visits, {v["doc_id"]: [v["created_by"]] for v in visits})
    async with login(live_server.url, "manager", PASSWORD) as http:
        r = await http.get(f"/admin/schedule?member={team.rep1.id}&week=2025-06-25")
        assert r.status_code == 200, r.text[:500]
        cols = days_of(r.text)
        assert list(cols) == [(MONDAY + i * day).isoformat() for i in range(7)]
        assert cols["2025-06-23"] == {"task:mon"}
        assert cols["2025-06-25"] == {"task:wed", "visit:v1"}
        assert cols["2025-06-27"] == {"visit:draft"}
        assert cols["2025-06-29"] == {"task:sun"}
        assert not cols["2025-06-24"] | cols["2025-06-26"] | cols["2025-06-28"]
        assert "北京友好创达科技有限公司" in r.text and "07:00–08:00" in r.text
        # open tasks in the past are marked overdue (2025 is long past), done ones are not
        mon = r.text.split('data-date="2025-06-23"')[1].split("</section>")[0]
        assert "slot task s-open late" in mon
        wed = r.text.split('data-date="2025-06-25"')[1].split("</section>")[0]
        assert "late" not in wed and "草稿" not in wed
        assert "草稿" in r.text.split('data-date="2025-06-27"')[1].split("</section>")[0]
        assert "week=2025-06-16" in r.text and "week=2025-06-30" in r.text  # prev / next
        r = await http.get(f"/admin/schedule?member={team.rep1.id}&week=2025-06-30")
        assert set().union(*days_of(r.text).values()) == {"task:after"}
        r = await http.get(f"/admin/schedule?member={team.rep2.id}&week=2025-06-23")
        assert set().union(*days_of(r.text).values()) == {"task:rep2", "visit:v2"}
        r = await http.get("/admin/schedule?week=2025-06-23")  # their own, by default
        assert r.status_code == 200 and not set().union(*days_of(r.text).values())
        assert f'<option value="{team.rep1.id}"' in r.text
        assert f'<option value="{team.rep3.id}"' not in r.text  # picks among their team
        r = await http.get(f"/admin/schedule?member={team.rep3.id}")
        assert r.status_code == 404
        assert (await http.get("/admin/schedule?member=nobody")).status_code == 404
        this_week = monday_of(today_cst()).isoformat()
        for week in ("0001-01-01", "9999-12-31", "2025-02-30", "soon"):  # this week instead
            r = await http.get(f"/admin/schedule?member={team.rep1.id}&week={week}")
            assert r.status_code == 200 and f'data-date="{this_week}"' in r.text, week
        # a day past the calendar's ends is no filter, on every list and report
        for path in ("/admin/tasks?from=0001-01-01&to=9999-12-31",
                     "/admin/tasks.csv?to=9999-12-31", "/admin/visits?to=9999-12-31",
                     "/admin/reports/tasks?as_of=9999-12-31&to=9999-12-31",
                     "/admin/reports/contact?as_of=9999-12-31",
                     "/admin/reports/deals?as_of=9999-12-31",
                     "/admin/reports/activity?from=0001-01-01&to=9999-12-31"):
            assert (await http.get(path)).status_code == 200, path
        r = await http.get(f"/admin/schedule?member={team.rep1.id}&week=2025-06-23&lang=en")
        assert "Week view" in r.text and "Mon" in r.text and "Overdue" in r.text
    async with login(live_server.url, "rep1", PASSWORD) as http:
        r = await http.get("/admin/schedule?week=2025-06-23")
        assert days_of(r.text)["2025-06-23"] == {"task:mon"}
        assert f'<option value="{team.rep2.id}"' not in r.text
        r = await http.get(f"/admin/schedule?member={team.rep2.id}")
        assert r.status_code == 404  # a rep sees their own schedule only
    async with login(live_server.url, "admin", PASSWORD) as http:
        r = await http.get(f"/admin/schedule?member={team.rep2.id}&week=2025-06-23")
        assert set().union(*days_of(r.text).values()) == {"task:rep2", "visit:v2"}


# -- a task's record page; the contact report's note -------------------------------------------


async def test_task_record_page_links(live_server: LiveServer) -> None:
    team, engine = live_server.team, live_server.services.engine
    owners = await add_customers(engine, team)
    when = at(MONDAY, 10)
    await insert_rows(engine, "deal", [{
        "doc_id": "deal:d1", "customer_id": "customer:ca", "title": "扫描仪采购",
        "deal_class": "short", "stage": 4, "created_by": team.rep1.id, "created_at": when}],
        {"deal:d1": [team.rep1.id]})
    await insert_rows(engine, "visit", [{
        "doc_id": "visit:v1", "customer_id": "customer:ca", "created_by": team.rep1.id,
        "started_at": when, "created_at": when, "visit_type": "visit_out",
        "submitted_at": when}], {"visit:v1": [team.rep1.id]})
    await add_tasks(engine, [
        task("done", team.rep1.id, when - H, author=team.manager.id, status="done",
             customer_id="customer:ca", deal_id="deal:d1", done_with="visit:v1",
             completed_at=when + H, notes="带样机"),
        task("late", team.rep1.id, at(MONDAY, 9), customer_id="customer:ca",
             deal_id="deal:gone"),
    ], owners)
    async with login(live_server.url, "manager", PASSWORD) as http:
        r = await http.get("/admin/records/task:done")
        assert r.status_code == 200
        page = r.text
        assert "日程done" in page and "带样机" in page and "完成" in page
        assert '<a href="/admin/records/customer:ca">北京友好创达科技有限公司</a>' in page
        assert '<a href="/admin/records/deal:d1">扫描仪采购</a>' in page
        assert '<a href="/admin/records/visit:v1">去访 · 2025-06-23 10:00</a>' in page
        assert 'href="/admin/tasks"' in page and "逾期" not in heading(page)
        r = await http.get("/admin/records/task:late")
        assert "逾期" in heading(r.text)
        assert '<a href="/admin/records/deal:gone">deal:gone</a>' in r.text  # not one to name
        # the visit that did it names the task it completed
        r = await http.get("/admin/records/visit:v1")
        assert "完成的日程" in r.text
        assert '<a href="/admin/records/task:done">日程done</a>' in r.text
        r = await http.get("/admin/records/customer:ca")
        assert 'href="/admin/tasks?customer=customer:ca"' in r.text
    async with login(live_server.url, "manager_b", PASSWORD) as http:
        assert (await http.get("/admin/records/task:done")).status_code == 404


async def test_contact_note_follows_schema_duties(
    live_server: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with login(live_server.url, "manager", PASSWORD) as http:
        r = await http.get("/admin/reports/contact")
        assert f"否则每 {duties.CORE_DAYS} 天一次" in r.text
        assert f"高成长客户每 {duties.HIGH_GROWTH_DAYS} 天" in r.text
        monkeypatch.setattr(duties, "CORE_DAYS", 10)
        monkeypatch.setattr(duties, "HIGH_GROWTH_DAYS", 31)
        r = await http.get("/admin/reports/contact")
        assert "否则每 10 天一次" in r.text and "高成长客户每 31 天" in r.text
        r = await http.get("/admin/reports/contact?lang=en")
        assert "otherwise every 10 days" in r.text and "every 31 days" in r.text
        r = await http.get("/admin/reports/deals?lang=zh")
        assert "短线每 7 天" in r.text
        # section numbers of the policy mean nothing to a user: none on any page
        for path in ("/admin/", "/admin/reports/contact", "/admin/reports/deals",
                     "/admin/reports/service", "/admin/reports/activity",
                     "/admin/reports/tasks", "/admin/tasks", "/admin/schedule"):
            for lang in ("zh", "en"):
                r = await http.get(f"{path}?lang={lang}")
                assert r.status_code == 200 and "§" not in r.text, (path, lang)
