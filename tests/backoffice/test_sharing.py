"""Sharing a customer from its record page: the owner's manager or an admin adds and removes
users; the shared user then sees the customer (grants); others are refused; audited."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from schema import tables as st
from server import tables as tt
from server.importer import Importer, read_file
from sync import tables as sync_t
from tests.backoffice.seed import csrf_of, login
from tests.conftest import PASSWORD, LiveServer
from tests.server.test_import import GOOD, xlsx

pytestmark = pytest.mark.asyncio


async def rep1_customer(server: LiveServer) -> str:
    importer = Importer(server.services.edits)
    sheet = read_file("c.xlsx", xlsx(GOOD[:2]))  # one customer, owned by rep1
    plan = await importer.plan(sheet, await importer.mapping_for(sheet))
    await importer.run(plan, server.team.admin.id)
    await server.services.edits.settle()
    return plan.rows[0].doc_id


async def grantees(server: LiveServer, doc_id: str) -> set[str]:
    async with server.services.engine.connect() as conn:
        return set((await conn.execute(select(sync_t.grants.c.user_id).where(
            sync_t.grants.c.doc_id == doc_id))).scalars())


async def test_a_manager_shares_and_unshares_a_customer(live_server: LiveServer) -> None:
    team = live_server.team
    doc_id = await rep1_customer(live_server)
    assert team.rep3.id not in await grantees(live_server, doc_id)
    async with login(live_server.url, "manager", PASSWORD) as http:
        page = await http.get(f"/admin/records/{doc_id}")
        assert 'id="share-form"' in page.text and "谁能看到这个客户" in page.text
        r = await http.post(f"/admin/records/{doc_id}/share",
                            data={"csrf": csrf_of(page.text), "add": team.rep3.id})
        assert r.status_code == 303
        await live_server.services.edits.settle()
        assert team.rep3.id in await grantees(live_server, doc_id)
        page = await http.get(f"/admin/records/{doc_id}")
        sharing = page.text.split('id="sharing"')[1].split("</section>")[0]
        assert f'name="remove" value="{team.rep3.id}"' in sharing
        r = await http.post(f"/admin/records/{doc_id}/share",
                            data={"csrf": csrf_of(page.text), "remove": team.rep3.id})
        assert r.status_code == 303
        await live_server.services.edits.settle()
    assert team.rep3.id not in await grantees(live_server, doc_id)
    async with live_server.services.engine.connect() as conn:
        shares = list(await conn.execute(select(st.CHILD_TABLES["customer"]["shared_with"])))
        actions = [(r.action, r.user_id) for r in await conn.execute(
            select(tt.audit).where(tt.audit.c.action == "customer.share"))]
    assert shares == []
    assert actions == [("customer.share", team.manager.id)] * 2


async def test_a_manager_of_another_team_may_not_share(live_server: LiveServer) -> None:
    team = live_server.team
    doc_id = await rep1_customer(live_server)
    async with login(live_server.url, "admin", PASSWORD) as http:
        page = await http.get(f"/admin/records/{doc_id}")
        csrf = csrf_of(page.text)
        r = await http.post(f"/admin/records/{doc_id}/share", data={"csrf": csrf, "add": "nobody"})
        assert r.status_code == 400
    async with login(live_server.url, "manager_b", PASSWORD) as http:
        page = await http.get("/admin/")
        r = await http.post(f"/admin/records/{doc_id}/share",
                            data={"csrf": csrf_of(page.text), "add": team.rep3.id})
        assert r.status_code == 403
    assert team.rep3.id not in await grantees(live_server, doc_id)
