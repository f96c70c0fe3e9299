"""The customer pool and sharing on the phone (issue 17 "Done when"), in Chromium at 390x844:
a rep claims a released customer from the pool screen and its card appears on their phone;
the new owner shares it from the card, the card shows who can see it, and the other rep's
phone receives it. Screenshots go to tests/artifacts/screens/pool-*.png."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from .conftest import PHONE, LiveServer
from .test_pwa import login, write_as

pytestmark = pytest.mark.browser


def post(server: LiveServer, path: str, token: str, body: Any = None) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else b""
    req = urllib.request.Request(server.url + path, data=data, method="POST", headers={
        "Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def released_customer(server: LiveServer, name: str) -> str:
    """A customer rep1 made on another device and then released to the pool."""
    doc = f"customer:{uuid.uuid4()}"
    write_as(server, "rep1", doc, {"name": name, "category": "direct", "city": "杭州",
                                   "province": "浙江", "status": "potential"})
    token = server.login("rep1")
    for _ in range(200):  # until the server has completed the card (code, owner)
        status, body = server.get(f"/api/records/customer/{doc}", token)
        if status == 200 and body["record"].get("owner") and body["record"].get("code"):
            break
    else:
        raise AssertionError(f"the card was not completed: {status} {body}")
    status, body = post(server, f"/api/pool/{doc}/release", token)
    assert status == 200, body
    return doc


def phone(browser: Any) -> Any:
    ctx = browser.new_context(viewport=PHONE, device_scale_factor=2, locale="zh-CN",
                              is_mobile=True, has_touch=True, service_workers="allow")
    ctx.set_default_timeout(15_000)
    return ctx


def test_a_rep_claims_from_the_pool_and_shares_it_with_another_rep(
        live_server: LiveServer, browser: Any, screenshot: Callable[[Any, str], Path]) -> None:
    name = f"杭州公海测试{uuid.uuid4().hex[:6]}有限公司"
    doc = released_customer(live_server, name)
    rep2_ctx, rep1_ctx = phone(browser), phone(browser)
    try:
        page = rep2_ctx.new_page()
        login(page, live_server, "rep2")
        assert not page.evaluate("(id) => window.waiqin.briefcase.has(id)", doc)
        page.click("#nav-pool")
        row = page.locator(f"#pool-list li[data-doc='{doc}']")
        row.wait_for()
        text = row.inner_text()
        assert name in text and "杭州" in text and "主动释放" in text
        screenshot(page, "pool-list")
        row.locator("button.claim").click()
        # the card arrives through sync, and the pool screen opens it
        page.wait_for_selector(f".page[data-doc='{doc}'] h1.customer-name")
        assert page.inner_text("h1.customer-name") == name
        assert page.evaluate("(id) => window.waiqin.briefcase.has(id)", doc)

        # the card says who can see it: its owner (rep2, 王芳) and their manager (张伟)
        page.wait_for_selector("#sharing-owner")
        assert page.inner_text("#sharing-owner") == "王芳"
        assert "张伟" in page.inner_text("#sharing-managers")

        other = rep1_ctx.new_page()
        login(other, live_server, "rep1")
        assert not other.evaluate("(id) => window.waiqin.briefcase.has(id)", doc)

        rep1_id = other.evaluate("() => window.waiqin.api.session.user.id")
        page.select_option("#share-user", rep1_id)
        page.click("#share-add")
        page.wait_for_selector(f"#shared-with li[data-user='{rep1_id}']")
        assert "李明" in page.inner_text("#shared-with")
        screenshot(page, "pool-card-shared")
        # the other rep's phone receives the card, live
        other.wait_for_function("(id) => window.waiqin.briefcase.has(id)", arg=doc)
        other.goto(live_server.url + f"/app/#/c/{doc}")
        other.wait_for_selector("h1.customer-name")
        assert other.inner_text("h1.customer-name") == name
        assert other.locator("#share-add").count() == 0  # shared, not theirs to share

        # the owner asks for an extension from the card, then releases it back to the pool
        page.click("#extend")
        page.fill("#extend-days", "10")
        page.fill("#extend-reason", "客户下月招标")
        page.click("#extend-send")
        page.wait_for_selector("#toast:has-text('延期申请已提交')")
        page.click("#extend")
        page.fill("#extend-reason", "再申请一次")
        page.click("#extend-send")
        page.wait_for_selector("#hold-problem:has-text('已有一个延期申请在等待批准')")
        page.once("dialog", lambda d: d.accept())
        page.click("#release")
        page.wait_for_function("(id) => !window.waiqin.briefcase.has(id)", arg=doc)
        other.wait_for_function("(id) => !window.waiqin.briefcase.has(id)", arg=doc)

        # rep1 claims it back from the pool; a second claim is refused, named
        status, body = post(live_server, f"/api/pool/{doc}/claim", live_server.login("rep1"))
        assert status == 200, body
        status, body = post(live_server, f"/api/pool/{doc}/claim", live_server.login("rep2"))
        assert (status, body["error"]["code"]) == (409, "pool.owned")
    finally:
        rep2_ctx.close()
        rep1_ctx.close()
