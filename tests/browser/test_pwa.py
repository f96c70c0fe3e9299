"""The field app in a real browser: login, offline work, reload offline, sync back, refusals.

Each test gets a fresh browser context (its own IndexedDB, service worker and cache) against
one real server process. What reaches the server is checked with the Python sync client,
connected as the manager, who sees the reps' records.
"""

from __future__ import annotations

import hashlib
import json
import struct
import time
import urllib.parse
import urllib.request
import uuid
import zlib
from pathlib import Path
from typing import Any

import pytest

from sync.client import SyncClient

from .conftest import PASSWORD, SCREENS, LiveServer, run_async

pytestmark = pytest.mark.browser


# -- helpers ----------------------------------------------------------------------------------


def login(page: Any, server: LiveServer, user: str = "rep1") -> None:
    page.goto(server.url + "/app/")
    page.fill("#login", user)
    page.fill("#password", PASSWORD)
    page.click("#login-submit")
    page.wait_for_selector("body[data-ready='1']")
    wait_state(page, "live")
    # The service worker has precached the shell once it controls the page.
    page.wait_for_function("navigator.serviceWorker.controller !== null")


def wait_state(page: Any, state: str) -> None:
    page.wait_for_selector(f".syncbar .state[data-state='{state}']")


def wait_synced(page: Any) -> None:
    """Until the outbox holds nothing but refused entries (read from the app, not the DOM,
    which may still show the count from before the last action)."""
    page.wait_for_function("() => window.waiqin.briefcase.outbox.every((e) => e.refused)")
    page.wait_for_function(
        "() => document.querySelector('.syncbar .count[data-unsent]').dataset.unsent === '0'"
    )


def unsent(page: Any) -> int:
    return int(page.get_attribute(".syncbar .count[data-unsent]", "data-unsent"))


def photo_png(path: Path, w: int = 640, h: int = 480) -> Path:
    """A real PNG photo stand-in (a colour gradient) to pick with the file input."""
    rows = b"".join(
        b"\x00" + bytes(v for x in range(w) for v in (x * 255 // w, y * 255 // h, 128))
        for y in range(h)
    )

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )
    return path


def server_records(
    server: LiveServer, login_as: str, doc_ids: list[str]
) -> dict[str, dict[str, Any]]:
    """The records as the server holds them, read by a fresh Python device."""
    token = server.login(login_as)

    async def read() -> dict[str, dict[str, Any]]:
        client = SyncClient(f"pytest-{uuid.uuid4().hex[:8]}")
        ws = server.url.replace("http://", "ws://") + "/sync"
        async with client.connect(ws, token):
            await client.wait_caught_up()
            await client.wait_for(lambda: all(d in client.docs for d in doc_ids), timeout=20)
            return {d: client.read(d) for d in doc_ids}

    return run_async(read())


def write_as(server: LiveServer, login_as: str, doc: str, fields: dict[str, Any]) -> str:
    """Write a record from another device (a Python sync client) as `login_as`; returns
    that user's id."""
    body = json.dumps({"login": login_as, "password": PASSWORD, "device": "laptop"}).encode()
    req = urllib.request.Request(
        server.url + "/api/session", data=body, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(req, timeout=10) as r:
        session = json.loads(r.read())
    token, user_id = session["token"], session["user"]["id"]

    async def write() -> None:
        client = SyncClient(f"laptop-{uuid.uuid4().hex[:8]}")
        async with client.connect(server.url.replace("http://", "ws://") + "/sync", token):
            await client.wait_caught_up()
            now = int(time.time() * 1000)
            client.set_fields(doc, {"created_at": now, "created_by": user_id, **fields})
            await client.wait_flushed()
            assert not client.outbox, client.outbox

    run_async(write())
    return str(user_id)


def create_customer(page: Any, name: str, *, profile: str = "老客户,主要采购扫描仪") -> str:
    page.click("#nav-customers")
    page.click("#new-customer")
    page.fill("#f-name", name)
    page.select_option("#f-category", "direct")
    page.select_option("#f-tier", "core")
    page.click("#more-fields > summary")  # the essentials come first, the rest folded
    page.select_option("#f-status", "potential")
    page.fill("#f-phone", "021-63539330-1010")
    page.fill("#f-address", "上海市黄浦区南京东路 100 号")
    page.fill("#f-postcode", "200001")
    page.fill("#f-profile", profile)
    page.fill("[id='f-contacts.0.name']", "陈静")
    page.fill("[id='f-contacts.0.title']", "采购经理")
    page.fill("[id='f-contacts.0.mobile']", "13812345678")
    page.click("#save")
    page.wait_for_selector("h1.customer-name")
    assert page.inner_text("h1.customer-name") == name
    return str(page.get_attribute(".page[data-doc]", "data-doc"))


# -- scenarios --------------------------------------------------------------------------------


def test_login_shows_my_customers(context: Any, live_server: LiveServer, screenshot: Any) -> None:
    page = context.new_page()
    page.goto(live_server.url + "/app/")
    page.wait_for_selector("#login")
    screenshot(page, "01-login")
    page.fill("#login", "rep1")
    page.fill("#password", "wrong password")
    page.click("#login-submit")
    assert page.wait_for_selector("#login-error").is_visible()
    login(page, live_server)
    assert unsent(page) == 0
    assert "李明" in page.inner_text("header.top")
    page.click("#nav-customers")
    screenshot(page, "02-customers-empty")


def test_offline_work_survives_reload_and_syncs(
    context: Any, live_server: LiveServer, screenshot: Any, tmp_path: Path
) -> None:
    context.grant_permissions(["geolocation"])
    context.set_geolocation({"latitude": 31.2304, "longitude": 121.4737, "accuracy": 12})
    page = context.new_page()
    login(page, live_server)
    head_before = live_server.head()

    context.set_offline(True)
    wait_state(page, "offline")
    name = f"北京友好创达科技有限公司 {uuid.uuid4().hex[:6]}"
    customer = create_customer(page, name)
    screenshot(page, "03-customer-card")

    page.click("#card-new-visit")
    screenshot(page, "04a-visit-form-top")
    page.select_option("#f-visit_type", "visit_out")
    page.fill("#f-met_name", "陈静")
    page.fill("#f-met_title", "采购经理")
    page.fill("#f-purpose", "介绍新款高速扫描仪")
    page.fill("#f-result", "客户有意向,要求下周报价")
    page.fill("#f-next_step", "周五前发送报价单")
    page.click("#gps button")
    fix = page.wait_for_selector("#gps-fix")
    assert "±12" in fix.inner_text(), "the check-in shows its accuracy"
    page.set_input_files("#photo-input", str(photo_png(tmp_path / "site.png")))
    page.wait_for_selector(".thumb[data-sha]")
    visit_sha = page.get_attribute(".thumb[data-sha]", "data-sha")
    screenshot(page, "04-visit-form")
    page.click("#save")
    page.wait_for_selector("#timeline li[data-kind='visit']")
    visit = page.get_attribute("#timeline li[data-kind='visit']", "data-doc")

    page.click("#card-new-service")
    page.select_option("#f-service_type", "installation")
    page.select_option("#f-status", "in_progress")
    subject = page.input_value("#f-subject")
    assert subject.endswith("初始安装服务") and "年" in subject
    page.fill("#f-content", "安装调试扫描仪两台")
    page.set_input_files("#photo-input", str(photo_png(tmp_path / "sheet.png", 480, 640)))
    page.wait_for_selector(".thumb[data-sha]")
    screenshot(page, "05-service-form")
    page.click("#save")
    page.wait_for_selector("#timeline li[data-kind='service']")
    service = page.get_attribute("#timeline li[data-kind='service']", "data-doc")

    queued = unsent(page)
    assert queued >= 3, "customer, visit and service sheet wait in the outbox"
    assert page.get_attribute(".syncbar .state", "data-state") == "offline"
    assert live_server.head() == head_before, "nothing reached the server while offline"

    # A reload with no network: the service worker serves the shell, IndexedDB the data.
    page.reload()
    page.wait_for_selector("body[data-ready='1']")
    assert unsent(page) == queued
    page.click("#nav-customers")
    page.click(f"#customer-list a[data-doc='{customer}']")
    page.wait_for_selector("#timeline li[data-kind='service']")
    assert page.inner_text("h1.customer-name") == name
    assert page.query_selector(f"#timeline li[data-doc='{visit}']") is not None
    screenshot(page, "06-card-after-offline-reload")

    # Closing the app and opening it again, still with no network (a phone restart).
    page.close()
    page = context.new_page()
    page.goto(live_server.url + f"/app/#/c/{customer}")
    page.wait_for_selector("h1.customer-name")
    assert page.inner_text("h1.customer-name") == name
    assert unsent(page) == queued

    # Back online: the indicator counts down to zero.
    seen: list[int] = []
    page.expose_function("reportUnsent", lambda n: seen.append(int(n)))
    page.evaluate(
        """() => new MutationObserver(() => {
             const el = document.querySelector('.syncbar .count[data-unsent]');
             if (el) window.reportUnsent(el.dataset.unsent);
           }).observe(document.body, {subtree: true, attributes: true, childList: true})"""
    )
    context.set_offline(False)
    page.wait_for_selector(".syncbar .count[data-unsent='0']", timeout=30_000)
    wait_state(page, "live")
    assert seen and seen[-1] == 0
    screenshot(page, "07-synced")

    records = server_records(live_server, "manager", [customer, visit, service])
    assert records[customer]["name"] == name
    assert records[customer]["contacts"][0]["name"] == "陈静"
    assert records[visit]["customer_id"] == customer
    assert records[visit]["result"] == "客户有意向,要求下周报价"
    assert records[visit]["attachments"][0]["sha256"] == visit_sha
    assert (records[visit]["gps_lat"], records[visit]["gps_accuracy"]) == (31.2304, 12)
    assert records[visit]["attachments"][0]["gps_lon"] == 121.4737
    assert records[service]["subject"] == subject

    # Both photos reach the server whole: the indicator's photo count goes, the bytes hash
    # to what the record says.
    page.wait_for_selector(".syncbar .count[data-photos]", state="detached", timeout=30_000)
    token = live_server.login("rep1")
    for sha in (visit_sha, records[service]["attachments"][0]["sha256"]):
        status, body = live_server.get(f"/api/blobs/{sha}", token)
        assert status == 200, body
        assert hashlib.sha256(body).hexdigest() == sha
    page.click("#nav-sync")
    assert (
        page.get_attribute(f".photo-states li[data-sha='{visit_sha}']", "data-state") == "uploaded"
    )
    screenshot(page, "07b-sync-page")


def test_refused_change_shows_reason_and_can_be_fixed(
    context: Any, live_server: LiveServer, screenshot: Any
) -> None:
    page = context.new_page()
    login(page, live_server)
    customer = create_customer(page, f"上海精科仪器有限公司 {uuid.uuid4().hex[:6]}")
    page.wait_for_selector(".syncbar .count[data-unsent='0']")

    # A profile over 50 characters (schema/validate.py max_length), written past the form's
    # own check as an older app version might.
    too_long = "这是一家成立于一九九八年的老牌仪器公司" * 4
    page.evaluate(
        """([id, text]) => window.waiqin.briefcase.edit(id, (rec) => {
             const Y = window.waiqin.Y;
             const t = new Y.Text(); t.insert(0, text); rec.set('profile', t);
           })""",
        [customer, too_long],
    )
    wait_synced(page)
    refused = page.query_selector(".syncbar .count[data-refused]")
    if refused is None:
        # This server does not validate fields yet; an extra root is refused by the layout rule.
        page.evaluate(
            """(id) => window.waiqin.briefcase.edit(
                   id, (rec, doc) => doc.getMap('junk').set('x', 1))""",
            customer,
        )
        page.wait_for_selector(".syncbar .count[data-refused]")
        page.click("#syncbar")
        item = page.wait_for_selector(f".refused-item[data-doc='{customer}']")
        assert "record" in item.inner_text()
        screenshot(page, "08-refused")
        return

    page.click("#syncbar")
    item = page.wait_for_selector(f".refused-item[data-doc='{customer}']")
    assert "profile" in item.inner_text()
    assert item.query_selector(".reason").inner_text().strip()
    screenshot(page, "08-refused")

    # The record says why, stays editable, and the fix goes out together with what it fixes.
    item.query_selector("a").click()
    page.wait_for_selector(".refused-banner")
    page.click("#edit-customer")
    assert page.input_value("#f-profile") == too_long
    page.fill("#f-profile", "老牌仪器公司,主要采购扫描仪")
    screenshot(page, "09-fixing")
    page.click("#save")
    page.wait_for_selector("h1.customer-name")
    page.wait_for_selector(".syncbar .count[data-unsent='0']")
    assert page.query_selector(".syncbar .count[data-refused]") is None
    assert page.query_selector(".refused-banner") is None
    records = server_records(live_server, "manager", [customer])
    assert records[customer]["profile"] == "老牌仪器公司,主要采购扫描仪"


def test_english_switch_and_deal_with_progress(
    context: Any, live_server: LiveServer, screenshot: Any
) -> None:
    page = context.new_page()
    login(page, live_server)
    customer = create_customer(page, f"广州华南数码科技有限公司 {uuid.uuid4().hex[:6]}")
    page.click("#card-new-deal")
    screenshot(page, "09b-deal-form")
    page.fill("#f-title", "2025 扫描仪集采")
    page.select_option("#f-deal_class", "short")
    page.select_option("#f-stage", "5")
    assert page.input_value("#f-probability") == "50"
    page.select_option("#f-intent", "scanner")
    page.click("#save-draft")
    page.wait_for_selector("#new-progress")
    deal = page.get_attribute(".page[data-doc]", "data-doc")
    page.click("#new-progress")
    page.fill("#f-detail", "客户确认预算已批,下周招标")
    page.fill("#f-next_step", "准备投标文件")
    page.click("#save")
    page.wait_for_selector(".timeline li[data-doc]")
    page.click("#lang-switch")
    page.wait_for_selector("text=Progress records")
    screenshot(page, "10-deal-en")
    page.wait_for_selector(".syncbar .count[data-unsent='0']")
    records = server_records(live_server, "manager", [deal])
    assert records[deal]["probability"] == 50
    assert records[deal]["customer_id"] == customer


def test_revoked_session_asks_to_log_in_and_keeps_the_outbox(
    context: Any, live_server: LiveServer, screenshot: Any
) -> None:
    page = context.new_page()
    login(page, live_server, "rep2")
    token = page.evaluate("window.waiqin.api.session.token")
    req = urllib.request.Request(
        live_server.url + "/api/session",
        method="DELETE",
        headers={"Authorization": f"Bearer {token}"},
    )
    with urllib.request.urlopen(req, timeout=10) as r:
        assert r.status == 204
    # The server closes the socket with BAD_TOKEN; the app asks to log in, and keeps working.
    page.wait_for_selector(".relogin-banner")
    wait_state(page, "login")
    name = f"深圳南山智能设备有限公司 {uuid.uuid4().hex[:6]}"
    customer = create_customer(page, name)
    assert unsent(page) == 1
    screenshot(page, "11-relogin-banner")
    page.reload()  # the outbox is in IndexedDB, not only in memory
    page.wait_for_selector(".relogin-banner")
    assert unsent(page) == 1
    page.click("#relogin")
    page.fill("#password", PASSWORD)
    assert page.input_value("#login") == "rep2"
    page.click("#login-submit")
    page.wait_for_selector(".syncbar .count[data-unsent='0']")
    wait_state(page, "live")
    assert server_records(live_server, "manager", [customer])[customer]["name"] == name


def test_a_briefcase_of_5000_records_opens_fast(
    context: Any, live_server: LiveServer, screenshot: Any
) -> None:
    page = context.new_page()
    login(page, live_server, "engineer")
    seeded = page.evaluate(
        """async (n) => {
             const {Y, store} = window.waiqin;
             const rows = [];
             for (let i = 0; i < n; i++) {
               const doc = new Y.Doc();
               const rec = doc.getMap('record');
               const id = 'customer:' + crypto.randomUUID();
               doc.transact(() => {
                 rec.set('name', '测试客户' + String(i).padStart(5, '0') + '有限公司');
                 rec.set('category', i % 3 ? 'direct' : 'distributor');
                 rec.set('tier', ['core', 'high_growth', 'ordinary'][i % 3]);
                 rec.set('status', 'potential');
                 rec.set('phone', '021-6353' + String(1000 + i % 9000) + '-1');
                 rec.set('created_at', Date.now() - i * 3600e3);
                 rec.set('created_by', 'seed');
                 const t = new Y.Text();
                 t.insert(0, '主要采购扫描仪和存储系统');
                 rec.set('profile', t);
               });
               rows.push({id, kind: 'customer', state: Y.encodeStateAsUpdate(doc),
                          summary: rec.toJSON(), updatedAt: Date.now()});
             }
             await store.write(['docs'], (s) => rows.forEach((r) => s('docs').put(r)));
             return rows.length;
           }""",
        5000,
    )
    assert seeded == 5000
    page.evaluate("location.hash = '#/customers'")  # the list (Today is the first screen)
    page.reload()
    page.wait_for_selector("#customer-list li >> nth=99")
    ready_ms = int(page.get_attribute("body", "data-ready-ms"))
    listed_ms = page.evaluate("performance.now()")
    SCREENS.parent.joinpath("briefcase-open.txt").write_text(
        f"5000 customers: app ready {ready_ms} ms after navigation, "
        f"list shown by {listed_ms:.0f} ms\n"
    )
    screenshot(page, "12-5000-customers")
    page.fill("#search", "测试客户04999")
    page.wait_for_selector("#customer-list li >> nth=0")
    assert page.locator("#customer-list li").count() == 1  # the time is a figure, above


def test_two_reps_offline_create_the_same_customer(
    browser: Any, live_server: LiveServer, screenshot: Any
) -> None:
    status, _ = live_server.get("/api/duplicates", live_server.login("admin"))
    if status == 404:
        pytest.skip("this server does not resolve duplicate customers yet (no /api/duplicates)")
    from .conftest import PHONE

    tag = uuid.uuid4().hex[:4].upper()
    name = f"北京友好创达科技有限公司{tag}分公司"
    spelled = {"rep1": name, "rep2": name.replace("北京", "北京 ").replace("有限公司", "有限公司 ")}
    contexts = {u: browser.new_context(viewport=PHONE, locale="zh-CN") for u in ("rep1", "rep2")}
    try:
        pages = {u: c.new_page() for u, c in contexts.items()}
        docs = {}
        for user in ("rep1", "rep2"):  # rep1 creates first
            login(pages[user], live_server, user)
            contexts[user].set_offline(True)
            wait_state(pages[user], "offline")
            docs[user] = create_customer(pages[user], spelled[user])
        for user in ("rep2", "rep1"):  # the later creator reconnects first
            contexts[user].set_offline(False)
            pages[user].wait_for_selector(".syncbar .count[data-unsent='0']", timeout=30_000)
        pages["rep2"].wait_for_function(
            "(id) => window.waiqin.briefcase.redirects[id] !== undefined",
            arg=docs["rep2"],
            timeout=30_000,
        )
        assert (
            pages["rep2"].evaluate("(id) => window.waiqin.briefcase.resolve(id)", docs["rep2"])
            == docs["rep1"]
        )
        # rep2 was looking at the card that lost: the screen follows to the survivor.
        pages["rep2"].wait_for_url(f"**#/c/{docs['rep1']}")
        pages["rep2"].wait_for_selector(f".page[data-doc='{docs['rep1']}'] h1.customer-name")
        for user, page in pages.items():
            page.click("#nav-customers")
            page.fill("#search", tag)
            cards = page.locator("#customer-list a[data-doc]")
            assert cards.count() <= 1
            if cards.count():
                assert cards.first.get_attribute("data-doc") == docs["rep1"]
            screenshot(page, f"13-duplicate-{user}")
        assert pages["rep1"].locator("#customer-list a[data-doc]").count() == 1
        records = server_records(live_server, "manager", [docs["rep1"]])
        rep1_id = pages["rep1"].evaluate("window.waiqin.api.session.user.id")
        assert records[docs["rep1"]].get("owner", rep1_id) == rep1_id
    finally:
        for c in contexts.values():
            c.close()


def test_saving_a_form_keeps_what_others_changed_meanwhile(
    context: Any, live_server: LiveServer
) -> None:
    page = context.new_page()
    login(page, live_server)
    customer = create_customer(page, f"杭州西湖软件有限公司 {uuid.uuid4().hex[:6]}")
    page.wait_for_selector(".syncbar .count[data-unsent='0']")
    page.click("#edit-customer")
    page.wait_for_selector("#f-phone")

    # While the form is open, the manager fills in the industry from the back office.
    token = live_server.login("manager")

    async def manager_edits() -> None:
        client = SyncClient(f"pytest-{uuid.uuid4().hex[:8]}")
        async with client.connect(live_server.url.replace("http://", "ws://") + "/sync", token):
            await client.wait_caught_up()
            await client.wait_for(lambda: customer in client.docs)
            client.set_fields(customer, {"industry": "软件"})
            await client.wait_flushed()
            assert not any(e.refused for e in client.outbox), client.outbox

    run_async(manager_edits())
    page.wait_for_function(
        "(id) => window.waiqin.briefcase.record(id).industry === '软件'", arg=customer
    )
    page.fill("#f-phone", "0571-88886666")
    page.click("#save")
    page.wait_for_selector("h1.customer-name")
    wait_synced(page)
    record = server_records(live_server, "manager", [customer])[customer]
    assert record["phone"] == "0571-88886666"
    assert record["industry"] == "软件", "the open form did not write back its stale copy"


def test_a_failed_photo_upload_is_shown_and_retried(
    context: Any, live_server: LiveServer, screenshot: Any, tmp_path: Path
) -> None:
    store_down = [True]
    failures: list[str] = []

    def flaky(route: Any) -> None:
        if route.request.method == "PUT" and store_down[0]:
            failures.append(route.request.url)
            route.fulfill(
                status=503,
                content_type="application/json",
                body='{"error": {"code": "unavailable", "message": "blob store is down"}}',
            )
        else:
            route.continue_()

    page = context.new_page()
    page.route("**/api/blobs/*", flaky)
    login(page, live_server, "engineer")
    create_customer(page, f"成都天府医疗器械有限公司 {uuid.uuid4().hex[:6]}")
    page.click("#card-new-service")
    page.select_option("#f-service_type", "warranty_repair")
    page.select_option("#f-status", "in_progress")
    page.set_input_files("#photo-input", str(photo_png(tmp_path / "signed.png")))
    sha = page.get_attribute(".thumb[data-sha]", "data-sha")
    page.click("#save")
    page.wait_for_selector("#timeline li[data-kind='service']")
    page.click("#nav-sync")
    row = f".photo-states li[data-sha='{sha}']"
    page.wait_for_selector(f"{row}[data-state='failed']")
    assert "blob store is down" in page.inner_text(row)
    assert page.get_attribute(".syncbar .count[data-photos]", "data-photos") == "1"
    screenshot(page, "14-photo-failed")
    # The second attempt has failed too (not merely started: its PUT may not be out yet).
    page.wait_for_function(
        "(n) => { const p = window.waiqin.photos.photos.get(n);"
        " return p.attempts >= 2 && p.state === 'failed'; }",
        arg=sha,
    )

    store_down[0] = False  # the retry with backoff goes through; "sync now" hurries it
    page.click("text=立即同步")
    page.wait_for_selector(f"{row}[data-state='uploaded']")
    page.wait_for_selector(".syncbar .count[data-photos]", state="detached")
    assert len(failures) >= 2
    status, body = live_server.get(f"/api/blobs/{sha}", live_server.login("engineer"))
    assert status == 200 and hashlib.sha256(body).hexdigest() == sha


def test_duplicate_warning_online_and_from_the_offline_index(
    context: Any, live_server: LiveServer, screenshot: Any
) -> None:
    """Another rep's customer is named while typing: by the server's lookup when online, by
    the keyed offline index (issue 5) when not; a branch of it is not flagged offline."""
    status, _ = live_server.get("/api/customers/lookup?name=x", live_server.login("rep1"))
    if status == 404:
        pytest.skip("this server has no duplicate lookup yet (/api/customers/lookup)")
    tag = uuid.uuid4().hex[:4].upper()
    existing = f"北京友好创达{tag}科技有限公司"
    owner = write_as(live_server, "rep2", f"customer:{uuid.uuid4()}", {"name": existing})
    assert owner
    # The server gives the card its code, and only then publishes it in the index.
    token = live_server.login("rep1")
    deadline = time.monotonic() + 20
    while True:
        status, body = live_server.get(
            "/api/customers/lookup?" + urllib.parse.urlencode({"name": existing}), token
        )
        codes = [m.get("code") for m in body["matches"]] if status == 200 else []
        if any(codes) or time.monotonic() > deadline:
            break
        time.sleep(0.1)  # polling interval
    code = next(c for c in codes if c)

    page = context.new_page()
    login(page, live_server)
    page.wait_for_function(
        "async (c) => (await window.waiqin.store.all('dupindex')).some((e) => e.code === c)",
        arg=code,
    )
    page.click("#nav-customers")
    page.click("#new-customer")
    page.fill("#f-name", existing)
    warning = page.wait_for_selector("#dup-warning")
    assert code in warning.inner_text() and "王芳" in warning.inner_text()
    screenshot(page, "15-duplicate-warning-online")

    context.set_offline(True)
    wait_state(page, "offline")
    page.click("#nav-customers")
    page.click("#new-customer")
    # Full-width brackets and a space: the same canonical name, hence the same key.
    page.fill("#f-name", f"（北京）友好创达{tag} 科技有限公司")
    warning = page.wait_for_selector("#dup-warning")
    assert code in warning.inner_text() and "离线" in warning.inner_text()
    page.fill("#f-name", f"{existing}上海分公司")
    page.wait_for_selector("#dup-warning", state="detached")
    screenshot(page, "16-duplicate-warning-offline")


def test_catch_up_on_a_new_device_then_live_updates(
    context: Any, live_server: LiveServer, screenshot: Any
) -> None:
    """Records made elsewhere arrive on login (catch-up), and later ones while the app is open."""
    customer = f"customer:{uuid.uuid4()}"
    visit = f"visit:{uuid.uuid4()}"
    name = f"南京紫金山电子有限公司 {uuid.uuid4().hex[:6]}"
    write_as(live_server, "rep2", customer, {"name": name, "category": "direct"})
    page = context.new_page()
    login(page, live_server, "rep2")
    page.click("#nav-customers")
    page.fill("#search", name[-6:])
    page.click(f"#customer-list a[data-doc='{customer}']")
    page.wait_for_selector("h1.customer-name")
    assert page.inner_text("h1.customer-name") == name

    write_as(
        live_server,
        "rep2",
        visit,
        {"customer_id": customer, "visit_type": "call_out", "met_name": "周磊"},
    )
    item = page.wait_for_selector(f"#timeline li[data-doc='{visit}']")
    assert "周磊" in item.inner_text()
    screenshot(page, "17-live-update")


def test_reconnects_with_backoff_after_the_server_was_down(
    context: Any, own_server: Any, screenshot: Any
) -> None:
    server = own_server.server
    page = context.new_page()
    login(page, server)
    own_server.stop()  # the network is up, the server is not: retries with backoff
    page.wait_for_selector(".syncbar .state[data-state='waiting']")
    name = f"天津滨海物流设备有限公司 {uuid.uuid4().hex[:6]}"
    customer = create_customer(page, name)
    page.wait_for_function("() => window.waiqin.sync.status.closeCode !== null")
    attempts_before = page.evaluate("window.waiqin.sync.status.retryAt")
    screenshot(page, "18-server-down")
    own_server.start()
    wait_state(page, "live")
    wait_synced(page)
    assert attempts_before is not None
    assert server_records(server, "manager", [customer])[customer]["name"] == name


def test_another_user_on_the_same_device_does_not_see_the_last_briefcase(
    context: Any, live_server: LiveServer
) -> None:
    page = context.new_page()
    login(page, live_server, "rep1")
    customer = create_customer(page, f"重庆山城机电有限公司 {uuid.uuid4().hex[:6]}")
    wait_synced(page)
    page.click("#logout")
    page.wait_for_selector("#login")
    page.fill("#login", "rep2")
    page.fill("#password", PASSWORD)
    page.click("#login-submit")
    page.wait_for_selector("body[data-ready='1']")
    wait_state(page, "live")
    assert page.evaluate("(id) => window.waiqin.briefcase.has(id)", customer) is False
    assert page.query_selector(f"#customer-list a[data-doc='{customer}']") is None
