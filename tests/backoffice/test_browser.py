"""The back office in headless Chromium: a manager logs in, filters visits, opens one with a
photo, merges a duplicate candidate, and exports the service ranking to Excel; reads the
tasks list, a rep's week and the overdue tasks; decides on a rep's trip and expenses from
the approval inbox, reads the trip calendar and the expense report; an admin sets the
expense threshold. Every page is photographed at desktop size into
tests/artifacts/backoffice/."""

from __future__ import annotations

import asyncio
import datetime
import io
import os
import threading
import time
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import openpyxl
import pytest
import uvicorn

from server.accounts import Accounts
from server.app import create_app
from server.backoffice.i18n import day_start_ms, today_cst
from server.config import Config
from server.db import make_engine, migrate_async
from tests.backoffice.seed import Seeded, customer_record, insert_rows, seed
from tests.conftest import PASSWORD, Team, free_port, in_thread, make_team

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "tests" / "artifacts" / "backoffice"
CHROMIUM = os.environ.get("WAIQIN_CHROMIUM", "/usr/bin/chromium")
DESKTOP = {"width": 1440, "height": 900}

pytestmark = pytest.mark.browser
T = TypeVar("T")


def _in_thread(coro: Coroutine[Any, Any, T]) -> T:
    return in_thread(coro, timeout=120)


@dataclass
class BackOffice:
    url: str
    ws: str
    team: Team
    tokens: dict[str, str]
    seeded: Seeded
    app: Any
    loop: asyncio.AbstractEventLoop
    duplicate_pair: tuple[str, str]

    def call(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run a coroutine in the server's own event loop."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=60)


async def _team(url: str) -> Team:
    engine = make_engine(url)
    try:
        return await make_team(Accounts(engine))
    finally:
        await engine.dispose()


async def _tokens(url: str) -> dict[str, str]:
    import httpx

    out = {}
    async with httpx.AsyncClient(base_url=url) as http:
        for login in ("admin", "manager", "rep1", "rep3"):
            r = await http.post("/api/session", json={"login": login, "password": PASSWORD})
            out[login] = r.json()["token"]
    return out


async def _similar_customers(live: Any) -> tuple[str, str]:
    from schema import samples
    from schema.ydoc import write_record
    from sync.client import SyncClient

    dev = SyncClient("phone-dups")
    ids = (samples.new_id("customer"), samples.new_id("customer"))
    async with dev.connect(f"{live.ws}/sync", live.tokens["rep1"]):
        await dev.wait_caught_up()
        # similar, not the same: a candidate for the back office, not an automatic merge
        for cid, name, at in zip(ids, ("杭州明达仪器有限公司", "杭州明达仪表有限公司"),
                                 (samples.T0, samples.T0 + 60_000), strict=True):
            write_record(dev.doc(cid), "customer", customer_record(
                live.team.rep1.id, name=name, credit_code=None, contacts=[], attachments=[],
                created_at=at))
        await dev.wait_flushed()
    return ids


@pytest.fixture(scope="module")
def backoffice(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BackOffice]:
    data = tmp_path_factory.mktemp("backoffice")
    url = f"sqlite+aiosqlite:///{data / 'waiqin.db'}"
    in_thread(migrate_async(url))  # migrations run a loop of their own
    team = _in_thread(_team(url))
    config = Config(data_dir=data, database_url=url, secret_key="browser-secret",
                    compact_interval=3600)
    app = create_app(config, run_migrations=False)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                           log_level="warning", lifespan="on"))
    holder: dict[str, asyncio.AbstractEventLoop] = {}

    def run() -> None:
        loop = asyncio.new_event_loop()
        holder["loop"] = loop
        loop.run_until_complete(server.serve())
        loop.close()

    thread = threading.Thread(target=run, name="backoffice-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "server did not start"
        time.sleep(0.02)  # polling for the flag, not waiting for a fixed time
    base = f"http://127.0.0.1:{port}"
    tokens = _in_thread(_tokens(base))

    @dataclass
    class Live:
        url: str
        ws: str
        team: Team
        tokens: dict[str, str]

    live = Live(base, base.replace("http://", "ws://"), team, tokens)
    seeded = _in_thread(seed(live))
    pair = _in_thread(_similar_customers(live))
    bo = BackOffice(base, live.ws, team, tokens, seeded, app, holder["loop"], pair)
    services = app.state.services
    bo.call(services.edits.settle())
    deadline = time.monotonic() + 30
    while not any({c.doc_a, c.doc_b} == set(pair)
                  for c in bo.call(services.duplicates.candidates(status="open"))):
        assert time.monotonic() < deadline, "the similar pair never became a candidate"
        time.sleep(0.05)  # polling the server's queue, not waiting a fixed time
    try:
        yield bo
    finally:
        server.should_exit = True
        thread.join(15)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM}")
    pw = sync_playwright().start()
    try:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run"])
        try:
            yield b
        finally:
            b.close()
    finally:
        pw.stop()


def shot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def test_manager_reviews_merges_and_exports(backoffice: BackOffice, browser: Any) -> None:
    bo = backoffice
    s = bo.seeded
    ctx = browser.new_context(viewport=DESKTOP, accept_downloads=True, locale="zh-CN")
    page = ctx.new_page()
    page.goto(f"{bo.url}/admin/visits")
    assert "/admin/login" in page.url
    shot(page, "01-login")
    page.fill("input[name=login]", "manager")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/admin/visits")
    # filter visits: one team member, one kind
    page.select_option("select[name=member]", bo.team.rep1.id)
    page.select_option("select[name=kind]", "visit_out")
    page.click("#filters button[type=submit]")
    page.wait_for_url("**member=*")
    assert page.locator(f"a[href='/admin/records/{s.visit_a}']").count() == 1
    assert page.locator(f"a[href='/admin/records/{s.visit_b}']").count() == 0
    shot(page, "02-visits-filtered")
    # open the visit: its photo's thumbnail loads, and the full size opens
    page.click(f"a[href='/admin/records/{s.visit_a}']")
    page.wait_for_url(f"**/admin/records/{s.visit_a}")
    img = page.locator(".photos img").first
    img.wait_for()
    page.wait_for_function("document.querySelector('.photos img').naturalWidth > 0")
    assert img.evaluate("i => i.naturalWidth") == 256
    with page.expect_popup() as popup:
        img.click()
    full = popup.value
    full.wait_for_load_state()
    assert full.evaluate("document.images.length && document.images[0].naturalWidth") == 640
    full.close()
    shot(page, "03-visit-record")
    # the customer's timeline
    page.click(f"a[href='/admin/records/{s.customer_a}']")
    page.wait_for_url(f"**/admin/records/{s.customer_a}")
    assert page.locator("ol.timeline li").count() >= 3
    shot(page, "04-customer-timeline")
    for name in ("customers", "services", "deals"):
        page.goto(f"{bo.url}/admin/{name}")
        shot(page, f"05-{name}")
    # merge a duplicate candidate: the card created first is kept
    page.goto(f"{bo.url}/admin/duplicates")
    shot(page, "06-duplicates")
    keep, dup = bo.duplicate_pair
    pair = page.locator(f".pair:has(a[href='/admin/records/{dup}'])"
                        f":has(a[href='/admin/records/{keep}'])")
    assert pair.count() == 1 and pair.locator(".badge.on").count() == 1
    # the card the page says will be kept is the one the server keeps
    kept_col = pair.locator("tr:has(.badge.on) td").evaluate_all(
        "tds => tds.findIndex(td => td.querySelector('.badge.on'))")
    kept = pair.locator("thead th a").nth(kept_col).get_attribute("href").rsplit("/", 1)[1]
    pair.locator("button.merge").click()
    page.wait_for_url("**/admin/duplicates?done=merged")
    assert page.locator(f".pair:has(a[href='/admin/records/{dup}'])"
                        f":has(a[href='/admin/records/{keep}'])").count() == 0
    merges = bo.call(bo.app.state.services.duplicates.merges())
    done = [m for m in merges if {m.survivor, m.duplicate} == {keep, dup}]
    assert len(done) == 1 and done[0].survivor == kept and done[0].actor == bo.team.manager.id
    gone = dup if kept == keep else keep
    page.goto(f"{bo.url}/admin/records/{gone}")
    # the merged card is a redirect now: shown as such, or no longer anyone's to see
    merged_note = page.locator(".notice").count() == 1
    assert merged_note or page.locator("h1").inner_text().startswith("404")
    page.goto(f"{bo.url}/admin/merges")
    shot(page, "07-merges")
    # the reports; the service ranking goes to Excel and comes back readable
    for name in ("contact", "deals", "activity"):
        page.goto(f"{bo.url}/admin/reports/{name}?from=2025-03-01&to=2025-05-31")
        page.locator("svg.chart").first.wait_for()
        shot(page, f"08-report-{name}")
    page.goto(f"{bo.url}/admin/reports/service")
    shot(page, "08-report-service")
    with page.expect_download() as dl:
        page.click("a:text-is('Excel')")
    path = SHOTS / "service-ranking.xlsx"
    dl.value.save_as(str(path))
    wb = openpyxl.load_workbook(io.BytesIO(path.read_bytes()), read_only=True)
    assert wb.sheetnames == ["按产品", "按客户", "按服务人员"]
    rows = list(wb["按产品"].iter_rows(values_only=True))
    assert rows[0][:3] == ("产品", "型号", "维修次数")
    assert rows[1][:3] == ("高速扫描仪", "FS-9000", 1)
    engineers = list(wb["按服务人员"].iter_rows(values_only=True))
    assert [r[0] for r in engineers[1:]] == ["rep1"]  # team B's rep3 is not in it
    # English
    page.goto(f"{bo.url}/admin/reports/service?lang=en")
    assert page.locator("h1").inner_text().startswith("Service rankings")
    shot(page, "09-report-service-en")
    page.click("button:text-is('Log out')")
    page.wait_for_url("**/admin/login")
    ctx.close()


def test_admin_pages(backoffice: BackOffice, browser: Any) -> None:
    bo = backoffice
    ctx = browser.new_context(viewport=DESKTOP, locale="zh-CN")
    page = ctx.new_page()
    page.goto(f"{bo.url}/admin/login")
    page.fill("input[name=login]", "admin")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/admin/")
    shot(page, "10-home")
    page.goto(f"{bo.url}/admin/users")
    shot(page, "11-users")
    page.goto(f"{bo.url}/admin/users/{bo.team.rep1.id}")
    assert page.locator("text=phone-rep1").count() == 1
    shot(page, "12-user")
    page.goto(f"{bo.url}/admin/audit")
    assert page.locator("code:text-is('login')").count() > 0
    shot(page, "13-audit")
    page.goto(f"{bo.url}/admin/refusals")
    assert page.locator("h1").inner_text() == "被拒绝的修改"
    shot(page, "15-refusals")
    page.goto(f"{bo.url}/admin/records/visit:00000000-0000-4000-8000-000000000000")
    assert page.locator("h1").inner_text().startswith("404")
    shot(page, "14-not-found")
    ctx.close()


async def _plan_week(bo: BackOffice) -> datetime.date:
    """A rep's week of tasks around today, a visit they recorded, and overdue ones."""
    team, engine = bo.team, bo.app.state.services.engine
    r1, r2 = team.rep1.id, team.rep2.id
    today = today_cst()
    monday = today - datetime.timedelta(days=today.weekday())
    h = 3_600_000

    def at(days: int, hours: float) -> int:
        return day_start_ms(monday + datetime.timedelta(days=days)) + int(hours * h)

    customers = [("customer:bo-mingyuan", "南京明远医疗器械有限公司", "KH0901"),
                 ("customer:bo-huaxin", "苏州华信精密机械有限公司", "KH0902")]
    await insert_rows(engine, "customer", [
        {"doc_id": d, "name": n, "code": c, "owner": r1, "created_by": r1, "category": "direct",
         "tier": "core", "created_at": at(-30, 9), "received_at": at(-30, 9)}
        for d, n, c in customers], {d: [r1] for d, _, _ in customers})
    a, b, c = bo.seeded.customer_a, customers[0][0], customers[1][0]
    plan = [  # (id, assignee, customer, type, subject, start, end, status, priority)
        ("t01", r1, a, "visit", "演示高速扫描仪", at(0, 9), at(0, 10.5), "done", "high"),
        ("t02", r1, b, "call", "确认采购预算", at(0, 14), None, "open", "normal"),
        ("t03", r1, c, "follow_up", "报价跟进", at(1, 10), at(1, 11), "open", "normal"),
        ("t04", r1, a, "service", "安装调试 FS-9000", at(2, 15), at(2, 17), "open", "high"),
        ("t05", r1, b, "visit", "拜访设备科张主任", at(3, 9.5), at(3, 11), "open", "normal"),
        ("t06", r1, None, "other", "写周报", at(4, 16), at(4, 17), "open", "low"),
        ("t07", r1, c, "visit", "回访:培训效果", at(-4, 10), at(-4, 11), "open", "high"),
        ("t08", r1, a, "call", "催收尾款", at(-2, 15), None, "cancelled", "normal"),
        ("t09", r2, b, "follow_up", "样机试用反馈", at(-6, 9), at(-6, 10), "open", "normal"),
        ("t10", r2, c, "visit", "拜访采购部", at(2, 10), at(2, 11), "open", "normal"),
    ]
    rows = []
    for i, who, cust, kind, subject, start, end, status, prio in plan:
        rows.append({"doc_id": f"task:bo-{i}", "subject": subject, "task_type": kind,
                     "customer_id": cust, "assignee": who, "created_by": team.manager.id,
                     "planned_start": start, "planned_end": end, "priority": prio,
                     "remind_at": start - h // 2, "status": status,
                     "completed_at": end if status == "done" else None,
                     "created_at": at(-7, 9), "received_at": at(-7, 9),
                     "submitted_at": at(-7, 9)})
    await insert_rows(engine, "task", rows, {
        r["doc_id"]: [r["assignee"], team.manager.id] for r in rows})
    await insert_rows(engine, "visit", [{
        "doc_id": "visit:bo-week", "customer_id": a, "created_by": r1, "started_at": at(0, 9.2),
        "ended_at": at(0, 10.4), "created_at": at(0, 9.2), "received_at": at(0, 11),
        "submitted_at": at(0, 10.5), "visit_type": "visit_out", "purpose": "演示高速扫描仪"}],
        {"visit:bo-week": [r1]})
    return monday


def test_tasks_week_view_and_overdue_report(backoffice: BackOffice, browser: Any) -> None:
    bo = backoffice
    monday = bo.call(_plan_week(bo))
    ctx = browser.new_context(viewport=DESKTOP, locale="zh-CN")
    page = ctx.new_page()
    page.goto(f"{bo.url}/admin/login")
    page.fill("input[name=login]", "manager")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/admin/")
    page.click("header nav a:text-is('日程')")
    page.wait_for_url("**/admin/tasks")
    assert page.locator("table.grid tbody tr").count() == 10
    shot(page, "20-tasks")
    page.select_option("select[name=member]", bo.team.rep1.id)
    page.select_option("select[name=status]", "open")
    page.click("#filters button[type=submit]")
    page.wait_for_url("**status=open*")
    assert page.locator("table.grid tbody tr").count() == 6
    shot(page, "21-tasks-filtered")
    # rep1's week: seven days from Monday, the tasks and the visit in their columns
    page.goto(f"{bo.url}/admin/schedule?member={bo.team.rep1.id}")
    days = page.locator(".week .day")
    assert days.count() == 7
    assert days.first.get_attribute("data-date") == monday.isoformat()
    first = days.first
    assert first.locator(".slot.task").count() == 2 and first.locator(".slot.visit").count() == 1
    assert "演示高速扫描仪" in first.inner_text()
    assert days.nth(4).locator(".slot.task").count() == 1
    shot(page, "22-week")
    page.click("a[rel=prev]")
    page.wait_for_url(f"**week={(monday - datetime.timedelta(weeks=1)).isoformat()}*")
    assert page.locator(".week .slot.task.late").count() == 1  # the missed follow-up visit
    shot(page, "23-week-previous")
    page.goto(f"{bo.url}/admin/schedule?member={bo.team.rep1.id}&lang=en")
    assert page.locator("h1").inner_text().startswith("Week view")
    shot(page, "24-week-en")
    # overdue tasks per rep
    page.goto(f"{bo.url}/admin/reports/tasks?lang=zh")
    page.locator("svg.chart").first.wait_for()
    overdue = page.locator("section.card:has(h2:text-matches('^逾期日程')) tbody tr")
    assert overdue.count() >= 2
    assert page.locator("text=回访:培训效果").count() == 1
    assert page.locator("text=样机试用反馈").count() == 1
    shot(page, "25-report-tasks")
    page.click("a:text-is('回访:培训效果')")
    page.wait_for_url("**/admin/records/task:bo-t07")
    assert "逾期" in page.locator("h1").inner_text()
    shot(page, "26-task-record")
    ctx.close()


# -- trips, expenses and approvals ---------------------------------------------------------------


@dataclass
class TripWorld:
    plan: str
    report: str
    expense: str  # with a receipt photo, ¥1,234.56
    meal: str  # on the trip too, ¥88.00
    month: str  # YYYY-MM of the trip


async def _trip_world(bo: BackOffice) -> TripWorld:
    """rep1, from the phone through /sync: a trip plan to two customers, submitted; an
    expense on it with a receipt photo and a meal, submitted; a trip report."""
    from schema import samples
    from schema.ydoc import write_record
    from sync.client import SyncClient
    from tests.backoffice.seed import jpeg, upload

    rep = bo.team.rep1
    day = today_cst() - datetime.timedelta(days=3)
    end = day + datetime.timedelta(days=2)
    photo = jpeg((230, 230, 210), (480, 640))
    sha = await upload(bo.url, bo.tokens["rep1"], photo)
    plan, report = samples.new_id("trip_plan"), samples.new_id("trip_report")
    exp, meal = samples.new_id("expense"), samples.new_id("expense")
    now = int(time.time() * 1000)
    dev = SyncClient("phone-rep1-trip")

    def expense(fen: int, kind: str, label: str, d: datetime.date, **over: Any) -> Any:
        rec = samples.expense(
            subject=f"{d.year}年{d.month:02d}月{d.day:02d}日{label}费用—{rep.name}",
            expense_date=d.isoformat(), expense_type=kind, amount_fen=fen, trip_id=plan,
            customer_id=bo.seeded.customer_a, created_by=rep.id, created_at=now,
            submitted_at=now + 1000, approval_status="submitted", **over)
        for k in ("visit_id", "deal_id"):
            rec.pop(k)
        return rec

    async with dev.connect(f"{bo.ws}/sync", bo.tokens["rep1"]):
        await dev.wait_caught_up()
        cust2 = samples.new_id("customer")
        write_record(dev.doc(cust2), "customer", customer_record(
            rep.id, name="天津海河精密仪器有限公司", credit_code=None, attachments=[],
            contacts=[], created_at=now))
        write_record(dev.doc(plan), "trip_plan", samples.trip_plan(
            subject=f"{day.year}年{day.month}月{day.day}日-华北-出差计划—{rep.name}",
            start_date=day.isoformat(), end_date=end.isoformat(),
            stops=[{"customer_id": bo.seeded.customer_a, "purpose": "演示高速扫描仪"},
                   {"customer_id": cust2, "purpose": "洽谈年度维保合同"}],
            created_by=rep.id, created_at=now, submitted_at=now + 1000))
        write_record(dev.doc(exp), "expense", expense(
            123_456, "transport", "交通", day, description="北京—天津高铁往返",
            attachments=[samples.attachment(sha256=sha, size=len(photo), width=480,
                                            height=640, caption="高铁票",
                                            category="other", captured_at=now)]))
        write_record(dev.doc(meal), "expense", expense(
            8_800, "meals", "餐饮", day + datetime.timedelta(days=1), attachments=[]))
        write_record(dev.doc(report), "trip_report", samples.trip_report(
            subject=f"出差报告+{rep.name}", plan_id=plan, started_at=now - 3 * 86_400_000,
            ended_at=now - 86_400_000, created_by=rep.id, created_at=now,
            submitted_at=now + 1000))
        await dev.wait_flushed()
    return TripWorld(plan, report, exp, meal, day.strftime("%Y-%m"))


def _login(page: Any, bo: BackOffice, who: str) -> None:
    page.goto(f"{bo.url}/admin/login")
    page.fill("input[name=login]", who)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/admin/")


def test_approvals_trips_and_expenses(backoffice: BackOffice, browser: Any) -> None:
    bo = backoffice
    w = bo.call(_trip_world(bo))
    services = bo.app.state.services
    bo.call(services.edits.settle())
    ctx = browser.new_context(viewport=DESKTOP, locale="zh-CN")
    page = ctx.new_page()
    _login(page, bo, "manager")
    assert page.locator("#nav-approvals .nav-count").inner_text() == "3"
    page.click("#nav-approvals")
    page.wait_for_url("**/admin/approvals")
    rows = page.locator("#inbox tbody tr")
    assert rows.count() == 3
    assert page.locator(f"#inbox tr[data-doc='{w.expense}'] td.fen").inner_text() == "¥1,234.56"
    shot(page, "30-approvals-inbox")
    # the expense: its receipt, its flow; return it without a comment, then with one
    page.click(f"#inbox a[href='/admin/records/{w.expense}']")
    page.wait_for_url(f"**/admin/records/{w.expense}")
    page.wait_for_function("document.querySelector('.photos img').naturalWidth > 0")
    assert page.locator("#approval .a-submit").count() == 1
    assert "phone-rep1-trip" in page.locator("#approval").inner_text()
    shot(page, "31-expense-record")
    page.click("#decide button[value=return]")
    page.wait_for_load_state()
    assert "退回时必须填写意见" in page.locator("#decision-error").inner_text()
    shot(page, "32-expense-return-needs-comment")
    page.fill("#decide textarea[name=comment]", "金额与车票不符,请核对后重新提交")
    page.click("#decide button[value=return]")
    page.wait_for_url("**decided=return*")
    bo.call(services.edits.settle())
    page.reload()
    assert page.locator("#approval .a-return").count() == 1
    assert "金额与车票不符" in page.locator("#approval").inner_text()
    assert page.locator("#decide").count() == 0
    shot(page, "33-expense-returned")
    page.goto(f"{bo.url}/admin/records/{w.expense}?lang=en")
    assert "Returned" in page.locator("#approval h2").inner_text()
    assert page.locator("#approval th", has_text="Comment").count() == 1
    shot(page, "33-expense-returned-en")
    # the trip plan: its stops and its records, approved
    page.goto(f"{bo.url}/admin/records/{w.plan}?lang=zh")
    assert page.locator("#stops tbody tr").count() == 2
    assert page.locator(".trip-expenses tr").count() == 2
    page.fill("#decide textarea[name=comment]", "同意出差")
    page.click("#decide button[value=approve]")
    page.wait_for_url("**decided=approve*")
    bo.call(services.edits.settle())
    page.reload()
    assert page.locator("#approval .badge.st-approved").count() == 1
    shot(page, "34-trip-plan-approved")
    page.goto(f"{bo.url}/admin/records/{w.report}")
    assert "¥1,322.56" in page.locator("#trip").inner_text()  # 1,234.56 + 88.00
    shot(page, "35-trip-report")
    page.goto(f"{bo.url}/admin/approvals")
    assert page.locator("#inbox tbody tr[data-doc]").count() == 1  # the meal is left
    # the calendar of the trip's month
    page.goto(f"{bo.url}/admin/trips?month={w.month}")
    bar = page.locator(f".trips a.bar[data-doc='{w.plan}']")
    assert bar.count() == 1 and "st-approved" in (bar.get_attribute("class") or "")
    shot(page, "36-trip-calendar")
    page.goto(f"{bo.url}/admin/trips?month={w.month}&lang=en")
    shot(page, "37-trip-calendar-en")
    # the expense report: the meal (in approval) counts; the returned expense does not
    page.goto(f"{bo.url}/admin/reports/expenses?lang=zh")
    page.locator("svg.chart").first.wait_for()
    assert page.locator(f"a[href='/admin/records/{w.meal}']").count() == 1
    assert page.locator(f"a[href='/admin/records/{w.expense}']").count() == 0
    shot(page, "38-report-expenses")
    page.goto(f"{bo.url}/admin/records/{bo.seeded.customer_a}")
    timeline = page.locator("ol.timeline")
    assert timeline.locator(f"a[href='/admin/records/{w.plan}']").count() == 1
    assert timeline.locator(f"a[href='/admin/records/{w.meal}']").count() == 1
    shot(page, "39-customer-timeline-trips")
    ctx.close()
    ctx = browser.new_context(viewport=DESKTOP, locale="zh-CN")
    page = ctx.new_page()
    _login(page, bo, "admin")
    page.goto(f"{bo.url}/admin/settings")
    page.fill("input[name=threshold]", "12.345")
    page.click("#threshold-form button")
    assert "最多两位小数" in page.locator(".error-box").inner_text()
    page.fill("input[name=threshold]", "8000")
    page.click("#threshold-form button")
    page.wait_for_url("**done=saved*")
    assert bo.call(services.approvals.threshold()) == 800_000
    shot(page, "40-settings")
    ctx.close()
