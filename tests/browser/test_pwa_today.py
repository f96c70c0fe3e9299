"""Today (今日), tasks and reminders in the field app, in Chromium at phone size: a task made
offline with a reminder rings and stays on Today across an offline reload; starting it records
the visit, completes the task and plans the next one; a manager's assignment reaches the rep's
open app; and the phone's overdue customers are the back office's contact report's."""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from pycrdt import Text
from sqlalchemy.ext.asyncio import create_async_engine

from server.accounts import Accounts
from server.backoffice.auth import Viewer
from server.backoffice.reports import run_report
from sync.client import SyncClient

from .conftest import LiveServer, ServerProcess, run_async
from .test_pwa import create_customer, login, server_records, wait_state, wait_synced, write_as

pytestmark = pytest.mark.browser

DAY = 86_400_000


def new_id(kind: str) -> str:
    return f"{kind}:{uuid.uuid4()}"


def local_input(page: Any, ms: int) -> str:
    """`ms` as the page's datetime-local value (the browser's own time zone)."""
    return str(page.evaluate(
        """(ms) => { const d = new Date(ms), p = (n) => String(n).padStart(2, "0");
        return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}`
            + `T${p(d.getHours())}:${p(d.getMinutes())}`; }""",
        ms))


def record(page: Any, doc: str) -> dict[str, Any]:
    return dict(page.evaluate("(id) => window.waiqin.briefcase.record(id)", doc))


def pick_customer(page: Any, name: str) -> None:
    page.fill("#f-customer_id", name[-6:])
    page.click("#customer-options button.option")
    page.wait_for_selector("#customer-chosen")


def test_task_offline_reminder_visit_next_task(
    context: Any, live_server: LiveServer, screenshot: Any
) -> None:
    context.grant_permissions(["notifications"], origin=live_server.url)
    page = context.new_page()
    login(page, live_server)
    name = f"苏州金科测控技术有限公司 {uuid.uuid4().hex[:6]}"
    customer = create_customer(page, name)
    wait_synced(page)

    context.set_offline(True)
    wait_state(page, "offline")
    page.click("#nav-today")
    page.click("#new-task")
    page.wait_for_selector(".editor[data-kind='task']")
    task = str(page.get_attribute(".editor[data-kind='task']", "data-doc"))
    page.fill("#f-subject", "拜访金科,演示高速扫描仪")
    page.select_option("#f-task_type", "visit")
    pick_customer(page, name)
    now = int(page.evaluate("Date.now()"))
    # The reminder at this minute: it rings as soon as the task is saved.
    page.fill("#f-planned_start", local_input(page, now))
    page.fill("#f-planned_end", local_input(page, now + 2 * 3600_000))
    page.select_option("#f-priority", "high")
    # A reminder after the planned end is refused on the device, naming the rule.
    page.fill("#f-remind_at", local_input(page, now + 3 * 3600_000))
    page.click("#save")
    problem = page.wait_for_selector("[data-field='remind_at'] .problem")
    assert problem.inner_text() == "提醒时间不能晚于计划结束时间"
    page.fill("#f-remind_at", local_input(page, now))
    screenshot(page, "today-02-task-form")
    page.click("#save")

    page.wait_for_selector(f"#today-tasks li[data-doc='{task}']")
    # The reminder: a notification through the service worker, and the in-app banner.
    page.wait_for_function(
        """async (id) => {
            const reg = await navigator.serviceWorker.getRegistration();
            return (await reg.getNotifications({ tag: id })).length === 1;
        }""",
        arg=task,
    )
    title = page.evaluate(
        """async (id) => (await (await navigator.serviceWorker.getRegistration())
            .getNotifications({ tag: id }))[0].title""",
        task,
    )
    assert title == "拜访金科,演示高速扫描仪"
    page.wait_for_selector(f"#reminder-banner .reminder[data-doc='{task}']")
    assert int(page.get_attribute("#today-count", "data-count")) >= 1
    screenshot(page, "today-01-today")

    # Snooze from the banner: the banner and the notification go, the task stays.
    page.click(f"#reminder-banner .reminder[data-doc='{task}'] button.snooze")
    page.wait_for_selector("#reminder-banner", state="detached")
    page.wait_for_function(
        """async (id) => (await (await navigator.serviceWorker.getRegistration())
            .getNotifications({ tag: id })).length === 0""",
        arg=task,
    )

    # Reloaded with no network, the task is still on Today and the snoozed reminder is quiet.
    page.reload()
    page.wait_for_selector("body[data-ready='1']")
    page.wait_for_selector(f"#today-tasks li[data-doc='{task}']")
    assert page.locator("#reminder-banner").count() == 0

    # Start the visit from the task: pre-filled; saved, it completes the task and plans the next.
    page.click(f"#today-tasks li[data-doc='{task}'] a.act")
    page.wait_for_selector(f".editor[data-kind='visit'] #customer-chosen[data-doc='{customer}']")
    visit = str(page.get_attribute(".editor[data-kind='visit']", "data-doc"))
    assert page.input_value("#f-visit_type") == "visit_out"
    page.fill("#f-met_name", "陈静")
    page.fill("#f-result", "演示顺利,客户要求报价")
    page.fill("#f-next_step", "周五前发送报价单")
    page.check("#next-task-on")
    in_3_days = local_input(page, now + 3 * DAY)[:10]
    page.fill("#next-task-day", in_3_days)
    page.click("#save")
    page.wait_for_selector("#today")
    done = record(page, task)
    assert done["status"] == "done" and done["done_with"] == visit
    assert isinstance(done["completed_at"], int)
    assert page.locator(f"#today-tasks li[data-doc='{task}']").count() == 0
    nxt = page.evaluate(
        """(visit) => [...window.waiqin.briefcase.infos.values()]
            .filter((i) => i.kind === "task" && i.record.visit_id === visit).map((i) => i.id)""",
        visit,
    )
    assert len(nxt) == 1
    next_task = nxt[0]
    planned = record(page, next_task)
    assert planned["subject"] == "周五前发送报价单" and planned["customer_id"] == customer
    assert planned["status"] == "open" and planned["planned_start"] > now + 2 * DAY

    # Back online, all of it reaches the server.
    context.set_offline(False)
    wait_state(page, "live")
    wait_synced(page)
    assert not page.evaluate("window.waiqin.briefcase.refused().length")
    got = server_records(live_server, "manager", [task, visit, next_task])
    assert got[task]["status"] == "done" and got[task]["done_with"] == visit
    assert got[task]["priority"] == "high" and got[task]["customer_id"] == customer
    assert got[visit]["customer_id"] == customer and got[visit]["submitted_at"]
    assert got[next_task]["visit_id"] == visit and got[next_task]["status"] == "open"


def test_a_managers_assignment_reaches_the_reps_open_today(
    context: Any, live_server: LiveServer
) -> None:
    page = context.new_page()
    login(page, live_server, "rep2")
    rep2 = page.evaluate("window.waiqin.api.session.user.id")
    task = f"task:{uuid.uuid4()}"
    now = int(time.time() * 1000)
    assert page.locator(f"[data-doc='{task}']").count() == 0
    write_as(live_server, "manager", task, {
        "subject": "电话回访南京客户", "task_type": "call", "assignee": rep2,
        "planned_start": now, "planned_end": now + 3600_000, "priority": "normal",
        "status": "open",
    })
    # No reload: the assignment arrives over the open socket and Today shows it.
    page.wait_for_selector(f"#today-tasks li[data-doc='{task}']")
    assert page.get_attribute("#nav-today", "class") == "on"


# -- the phone and the back office agree ---------------------------------------------------------


def write_many(server: LiveServer, login_as: str, docs: dict[str, dict[str, Any]]) -> str:
    """Write several records as `login_as` from one Python device (str values of the kinds'
    text fields as Y texts); returns that user's id."""
    token = server.login(login_as)
    _, me = server.get("/api/me", token)
    user_id = str(me["user"]["id"])

    async def write() -> None:
        client = SyncClient(f"seed-{uuid.uuid4().hex[:8]}")
        async with client.connect(server.url.replace("http://", "ws://") + "/sync", token):
            await client.wait_caught_up()
            for doc, fields in docs.items():
                def fill(rec: Any, fields: dict[str, Any] = fields) -> None:
                    rec["created_by"] = user_id
                    for k, v in fields.items():
                        rec[k] = Text(v) if k in ("purpose", "result", "next_step", "detail") else v
                client.edit(doc, fill)
            await client.wait_flushed()
            assert not client.outbox, client.outbox

    run_async(write())
    return user_id


def contact_report_overdue(server: LiveServer, viewer_login: str, member: str) -> set[str]:
    """The overdue customers of `member` in the back office's contact report (as of today),
    read from the live server's database."""

    async def read() -> set[str]:
        engine = create_async_engine(f"sqlite+aiosqlite:///{Path(server.data) / 'waiqin.db'}")
        try:
            accounts = Accounts(engine)
            user = await accounts.by_login(viewer_login)
            assert user is not None
            viewer = Viewer(user, await accounts.principal(user), "t")
            async with engine.connect() as conn:
                report, _ = await run_report(conn, "contact", viewer, {"member": member}, "en")
            rows = next(t.rows for t in report.tables if t.name == "overdue")
            return {str(r[0]) for r in rows}
        finally:
            await engine.dispose()

    return run_async(read())


def test_today_and_the_contact_report_agree(context: Any, own_server: ServerProcess) -> None:
    # A server of its own: these back-dated records would be other tests' "recent" ones.
    live_server = own_server.server
    now = int(time.time() * 1000)
    tag = uuid.uuid4().hex[:6]
    c = {k: f"customer:{uuid.uuid4()}" for k in "ABCDEFGH"}
    deal_b, deal_c, deal_f = (f"deal:{uuid.uuid4()}" for _ in range(3))

    def cust(key: str, tier: str, days_old: float, category: str = "direct") -> dict[str, Any]:
        return {"name": f"常州{key}精密仪器有限公司 {tag}", "category": category, "tier": tier,
                "created_at": now - int(days_old * DAY)}

    def visit(cid: str, days_ago: float, submitted: bool = True) -> dict[str, Any]:
        at = now - int(days_ago * DAY)
        v: dict[str, Any] = {"customer_id": cid, "visit_type": "visit_out", "started_at": at,
                             "created_at": at, "met_name": "陈静", "purpose": "了解需求",
                             "result": "客户确认了采购计划", "next_step": "下周报价"}
        if submitted:
            v["submitted_at"] = at
        return v

    docs: dict[str, dict[str, Any]] = {
        c["A"]: cust("A", "core", 30), new_id("visit"): visit(c["A"], 16),
        c["B"]: cust("B", "core", 30), new_id("visit"): visit(c["B"], 5),
        deal_b: {"customer_id": c["B"], "deal_class": "short", "title": "B 扫描仪",
                 "created_at": now - 20 * DAY},
        c["C"]: cust("C", "core", 30), new_id("visit"): visit(c["C"], 9),
        deal_c: {"customer_id": c["C"], "deal_class": "short", "title": "C 存储",
                 "created_at": now - 20 * DAY},
        c["D"]: cust("D", "high_growth", 40),
        new_id("visit"): visit(c["D"], 1, submitted=False),
        c["E"]: cust("E", "high_growth", 60, category="distributor"),
        c["F"]: cust("F", "core", 30),
        deal_f: {"customer_id": c["F"], "deal_class": "medium", "title": "F 软件",
                 "created_at": now - 20 * DAY},
        new_id("progress"): {
            "customer_id": c["F"], "deal_id": deal_f, "detail": "客户确认了技术方案",
            "next_step": "安排测试", "count_as_contact": True, "created_at": now - 2 * DAY,
            "submitted_at": now - 2 * DAY},
        c["G"]: cust("G", "core", 3),
        c["H"]: cust("H", "ordinary", 90),
    }
    rep = write_many(live_server, "rep2", docs)
    expected = {c["A"], c["C"], c["D"]}

    page = context.new_page()
    login(page, live_server, "rep2")
    page.wait_for_function(
        "(ids) => ids.every((id) => window.waiqin.briefcase.has(id))", arg=list(docs))
    page.wait_for_selector("#today-customers")
    phone = set(page.eval_on_selector_all(
        "#today-customers li[data-doc]", "(els) => els.map((e) => e.dataset.doc)"))
    office = contact_report_overdue(live_server, "manager", rep)
    assert expected <= phone, phone
    assert phone == office
    assert not phone & {c["B"], c["E"], c["F"], c["G"], c["H"]}
    # Deals late for their follow-up (short, 20 days without progress) are on Today too; the
    # medium one followed up 2 days ago is not.
    deals = set(page.eval_on_selector_all(
        "#today-deals li[data-doc]", "(els) => els.map((e) => e.dataset.doc)"))
    assert {deal_b, deal_c} <= deals and deal_f not in deals
