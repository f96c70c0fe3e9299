"""The back office's import page: upload, the mapping shown and edited, the dry run's table
with refusals named by row and column, then the import and its progress (status endpoint)."""

from __future__ import annotations

import re

import anyio
import httpx
import pytest
from sqlalchemy import select

from schema import tables as st
from tests.backoffice.seed import csrf_of, login
from tests.conftest import PASSWORD, LiveServer
from tests.server.test_import import GOOD, HEADERS, xlsx

pytestmark = pytest.mark.asyncio
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


async def upload(http: httpx.AsyncClient, data: bytes, name: str = "c.xlsx") -> httpx.Response:
    page = await http.get("/admin/import")
    assert page.status_code == 200
    return await http.post("/admin/import", data={"csrf": csrf_of(page.text),
                                                  "on_match": "merge"},
                           files={"file": (name, data, XLSX)})


async def test_admin_dry_run_then_import_with_progress(live_server: LiveServer) -> None:
    async with login(live_server.url, "admin", PASSWORD) as http:
        r = await upload(http, xlsx(GOOD))
        assert r.status_code == 303
        job = r.headers["location"]
        page = await http.get(job)
        assert page.status_code == 200
        assert "表头在第 3 行" in page.text and "新建: 2" in page.text
        assert 'name="col0"' in page.text and '<option value="name" selected>' in page.text
        async with live_server.services.engine.connect() as conn:
            assert list(await conn.execute(select(st.rec_customer))) == []  # a dry run

        # the admin unmaps the city column: the dry run again, then the import
        form = {"csrf": csrf_of(page.text), "on_match": "merge"}
        for i, target in enumerate(["name", "phone", "contact.name", "contact.mobile", "",
                                    "owner", "created"]):
            form[f"col{i}"] = target
        r = await http.post(job + "/mapping", data=form)
        assert r.status_code == 303
        page = await http.get(job)
        assert '<select name="col4"><option value="">—</option>' in page.text
        assert not re.search(r'name="col4">.*?selected', page.text.split("col5")[0], re.S)
        r = await http.post(job + "/run", data={"csrf": csrf_of(page.text)})
        assert r.status_code == 303
        page = await http.get(job)
        assert 'id="import-progress"' in page.text and "<progress" in page.text
        with anyio.fail_after(30):
            while True:
                status = (await http.get(job + "/status")).json()
                assert not status["error"], status
                if status["finished"]:
                    break
                await anyio.sleep(0.05)
        assert status["done"] == status["total"] == 2 and status["created"] == 2
    await live_server.services.edits.settle()
    async with live_server.services.engine.connect() as conn:
        rows = list(await conn.execute(select(st.rec_customer)))
    assert {r.name for r in rows} == {"北京友好创达科技有限公司", "上海金科电子有限公司"}
    assert all(r.city is None for r in rows)  # the unmapped column was not imported
    assert {r.owner for r in rows} == {live_server.team.rep1.id, live_server.team.rep2.id}


async def test_refused_rows_are_listed_and_the_import_refused(live_server: LiveServer) -> None:
    bad = [HEADERS, ["北京友好创达科技有限公司", "电话坏了", "", "", "", "nobody", ""]]
    async with login(live_server.url, "admin", PASSWORD) as http:
        r = await upload(http, xlsx(bad))
        job = r.headers["location"]
        page = await http.get(job)
        assert 'id="refused"' in page.text and 'id="run-form"' not in page.text
        assert "第 4 行,B 电话 列" in page.text and "第 4 行,F 客户经理 列" in page.text
        r = await http.post(job + "/run", data={"csrf": csrf_of(page.text)})
        assert r.status_code == 422 and "未导入任何数据" in r.text
        r = await upload(http, b"\x89PNG\r\n\x1a\n\x00\x00 not a sheet", "photo.csv")
        assert r.status_code == 422 and "二进制" in r.text
    async with live_server.services.engine.connect() as conn:
        assert list(await conn.execute(select(st.rec_customer))) == []


async def test_the_page_is_for_admins_only(live_server: LiveServer) -> None:
    async with login(live_server.url, "manager", PASSWORD) as http:
        assert (await http.get("/admin/import")).status_code == 403
