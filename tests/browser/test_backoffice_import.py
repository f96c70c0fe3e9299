"""Issue 17 "Done when": an admin imports a spreadsheet in the back office, in Chromium: the
upload, the dry run's counts and rows (nothing written yet), then the import for real with
its progress bar until it says it finished, and the customers are on the server. 300 rows,
so that the progress is seen moving through batches. Screenshots go to
tests/artifacts/screens/import-*.png."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.server.test_import import HEADERS, xlsx

from .conftest import PASSWORD, ServerProcess

pytestmark = pytest.mark.browser
DESKTOP = {"width": 1440, "height": 900}
ROWS = 300


def test_an_admin_dry_runs_then_imports_and_watches_progress(
        own_server: ServerProcess, browser: Any, tmp_path: Path,
        screenshot: Callable[[Any, str], Path]) -> None:
    server = own_server.server
    tag = uuid.uuid4().hex[:6]
    rows: list[list[Any]] = [HEADERS]
    for i in range(ROWS):
        rows.append([f"导入测试{tag}第{i}号科技有限公司", f"010-6234{i:04d}", f"联系人{i}",
                     f"138{i:08d}", "北京", "rep1" if i % 2 else "rep2", "2019-03-01"])
    sheet = tmp_path / "customers.xlsx"
    sheet.write_bytes(xlsx(rows))
    token = server.login("admin")
    assert server.get("/api/records/customer?limit=1", token)[1]["items"] == []

    ctx = browser.new_context(viewport=DESKTOP, locale="zh-CN")
    ctx.set_default_timeout(30_000)
    try:
        page = ctx.new_page()
        page.goto(server.url + "/admin/login")
        page.fill("input[name='login']", "admin")
        page.fill("input[name='password']", PASSWORD)
        page.click("button[type='submit']")
        page.click("nav a[href$='/import']")
        page.set_input_files("#upload-form input[type='file']", str(sheet))
        page.select_option("#upload-form select[name='on_match']", "skip")
        page.click("#upload-form button")

        # the dry run: counts and rows, and nothing on the server yet
        page.wait_for_selector("#import-counts")
        assert f"新建: {ROWS}" in page.inner_text("#import-counts")
        assert page.locator("#dry-run tr.row-create").count() > 0
        assert page.locator("#refused").count() == 0
        screenshot(page, "import-dry-run")
        assert server.get("/api/records/customer?limit=1", token)[1]["items"] == []

        page.click("#run-form button")
        page.wait_for_selector("#import-progress progress")
        page.wait_for_selector("#import-done:not([hidden])", timeout=120_000)
        bar = page.locator("#import-progress progress")
        assert bar.get_attribute("value") == bar.get_attribute("max")
        assert page.inner_text("#import-progress .progress-text").startswith(f"{ROWS}/{ROWS}")
        screenshot(page, "import-done")
    finally:
        ctx.close()
    status, body = server.get("/api/records/customer?limit=500", token)
    assert status == 200
    names = {r["name"] for r in body["items"]}
    assert len([n for n in names if tag in n]) == ROWS
