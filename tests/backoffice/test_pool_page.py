"""The back office's pool page: a manager releases a customer by its code, sees it in the
pool (and not its contacts), assigns it within the team, grants a rep's extension, and
restores a binned customer; refusals (outside the team, a code not seen) are named pages."""

from __future__ import annotations

import pytest

from tests.backoffice.seed import csrf_of, login
from tests.conftest import PASSWORD, LiveServer
from tests.server.test_pool import make_customer, post, record

pytestmark = pytest.mark.asyncio


async def test_release_assign_extend_and_restore_from_the_pool_page(
        live_server: LiveServer) -> None:
    team = live_server.team
    c = await make_customer(live_server, "rep1", name="公海页面测试有限公司")
    rec = await record(live_server, c)
    async with login(live_server.url, "manager", PASSWORD) as http:
        page = await http.get("/admin/pool")
        assert page.status_code == 200 and "公海中没有客户" in page.text
        r = await http.post("/admin/pool/release", data={"csrf": csrf_of(page.text),
                                                         "code": rec["code"]})
        assert r.status_code == 303, r.text
        await live_server.services.edits.settle()
        page = await http.get("/admin/pool")
        row = page.text.split(f'data-doc="{c}"')[1].split("</tr>")[0]
        assert "公海页面测试有限公司" in row and "主动释放" in row and "北京" in row
        assert "张宏" not in page.text  # the sample's contact: never shown for the pool
        # rep3 is in another team: not offered, and refused if posted
        assert f'value="{team.rep3.id}"' not in row
        r = await http.post(f"/admin/pool/{c}/assign", data={"csrf": csrf_of(page.text),
                                                               "to": team.rep3.id})
        assert r.status_code == 403 and "not in your team" in r.text
        r = await http.post(f"/admin/pool/{c}/assign", data={"csrf": csrf_of(page.text),
                                                               "to": team.rep2.id})
        assert r.status_code == 303
        assert (await record(live_server, c))["owner"] == team.rep2.id
        r = await http.post("/admin/pool/release", data={"csrf": csrf_of(page.text),
                                                         "code": "NOPE"})
        assert r.status_code == 404 and "NOPE" in r.text

        # rep2 asks for an extension; the manager grants it on the page
        r = await post(live_server, "rep2", f"/api/pool/{c}/extension",
                       {"days": 7, "reason": "客户下月招标"})
        assert r.status_code == 201
        page = await http.get("/admin/pool")
        assert "客户下月招标" in page.text
        ext = r.json()["id"]
        r = await http.post(f"/admin/pool/extensions/{ext}/decide",
                            data={"csrf": csrf_of(page.text), "grant": "1"})
        assert r.status_code == 303
        page = await http.get("/admin/pool")
        assert "客户下月招标" not in page.text and "已批准延期" in (
            await http.get("/admin/pool?done=granted")).text

        # an invalid customer binned by its owner is restored here
        d = await make_customer(live_server, "rep1", status="invalid", name="无效客户测试公司")
        assert (await post(live_server, "rep1", f"/api/bin/{d}")).status_code == 200
        await live_server.services.edits.settle()
        page = await http.get("/admin/pool")
        assert f'data-doc="{d}"' in page.text.split('id="bin"')[1]
        r = await http.post(f"/admin/bin/{d}/restore", data={"csrf": csrf_of(page.text)})
        assert r.status_code == 303
        assert not (await record(live_server, d)).get("binned_at")
