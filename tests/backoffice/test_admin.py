"""Administration through the back office: users, passwords, roles, managers, disabling
(with live sockets closed), revoking a device, reassigning customers, the audit trail."""

from __future__ import annotations

import csv
import io

import openpyxl
import pytest
from sqlalchemy import select

from schema import tables as st
from sync import protocol as p
from sync.client import SyncClient
from tests.backoffice.seed import login, post_form, seed
from tests.conftest import PASSWORD, LiveServer

pytestmark = pytest.mark.asyncio


async def test_only_admins_administer(live_server: LiveServer) -> None:
    rep2 = live_server.team.rep2
    for who in ("manager", "rep1"):
        async with login(live_server.url, who, PASSWORD) as http:
            assert (await http.get("/admin/users")).status_code == 403
            assert (await http.get(f"/admin/users/{rep2.id}")).status_code == 403
            assert (await http.get("/admin/users.csv")).status_code == 403
            r = await post_form(http, f"/admin/users/{rep2.id}/disable")
            assert r.status_code == 403
            r = await post_form(http, "/admin/users", login="x1", password="x" * 10, role="admin")
            assert r.status_code == 403
    assert (await live_server.services.accounts.get(rep2.id)).disabled_at is None
    async with login(live_server.url, "rep1", PASSWORD) as http:
        assert (await http.get("/admin/audit")).status_code == 403
        assert (await http.get("/admin/audit.csv")).status_code == 403


async def test_users_passwords_roles_managers_and_the_audit_trail(
    live_server: LiveServer,
) -> None:
    accounts = live_server.services.accounts
    team = live_server.team
    async with login(live_server.url, "admin", PASSWORD) as http:
        r = await http.get("/admin/users")
        assert r.status_code == 200 and "rep1" in r.text and "manager_b" in r.text
        r = await post_form(http, "/admin/users", login="rep9", name="新人",
                            password="first-pass-9", role="rep", manager_id=team.manager.id)
        assert r.status_code == 303
        new = await accounts.by_login("rep9")
        assert new is not None and new.manager_id == team.manager.id and new.name == "新人"
        assert (await http.get(f"/admin/users/{new.id}")).status_code == 200
        r = await post_form(http, "/admin/users", login="rep9", password="first-pass-9", role="rep")
        assert r.status_code == 409  # the login is taken
        r = await post_form(http, f"/admin/users/{new.id}/password", password="second-pass-9")
        assert r.status_code == 303
        with pytest.raises(Exception):  # noqa: B017 - Unauthorized
            await accounts.login("rep9", "first-pass-9")
        await accounts.login("rep9", "second-pass-9")
        r = await post_form(http, f"/admin/users/{new.id}/password", password="short")
        assert r.status_code == 400
        r = await post_form(http, f"/admin/users/{new.id}/role", role="engineer")
        assert (await accounts.get(new.id)).role == "engineer"
        r = await post_form(http, f"/admin/users/{new.id}/role", role="king")
        assert r.status_code == 400
        r = await post_form(http, f"/admin/users/{new.id}/manager",
                            manager_id=team.other_manager.id)
        assert (await accounts.get(new.id)).manager_id == team.other_manager.id
        # a cycle in the tree is refused
        r = await post_form(http, f"/admin/users/{team.manager.id}/manager",
                            manager_id=team.rep1.id)
        assert r.status_code == 400
        assert (await http.get("/admin/users/nobody")).status_code == 404
        r = await http.get("/admin/users.csv?lang=en")
        rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
        assert rows[0] == ["Login", "Name", "Role", "Manager", "Customers owned", "Status"]
        assert ["rep9", "新人", "Service engineer", "manager_b", "0", "Active"] in rows
        x = await http.get("/admin/users.xlsx")
        wb = openpyxl.load_workbook(io.BytesIO(x.content), read_only=True)
        assert len(list(wb.active.iter_rows(values_only=True))) == len(rows)
        # the audit trail, filtered, with who did it
        r = await http.get("/admin/audit?action=admin.user")
        assert "<code>admin.user.create</code>" in r.text
        assert "<code>admin.user.password</code>" in r.text
        assert "<code>login.fail</code>" not in r.text
        r = await http.get(f"/admin/audit?member={new.id}")
        assert "<code>user.role</code>" in r.text
        assert "<code>admin.user.create</code>" not in r.text
        r = await http.get("/admin/audit.csv?action=admin.user.role&lang=en")
        rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
        assert rows[0] == ["When", "Action", "Who", "Doc", "Detail"]
        assert len(rows) == 2 and rows[1][1] == "admin.user.role" and rows[1][2] == "admin"
        assert "role=engineer" in rows[1][4]
        x = await http.get("/admin/audit.xlsx?action=login")
        wb = openpyxl.load_workbook(io.BytesIO(x.content), read_only=True)
        assert len(list(wb.active.iter_rows(values_only=True))) > 5
    # a manager reads the entries of their own tree only
    async with login(live_server.url, "manager_b", PASSWORD) as http:
        r = await http.get("/admin/audit.csv")
        text = r.content.decode("utf-8-sig")
        assert "user.role" in text  # rep9 now reports to manager_b
        assert "admin.user.create" not in text  # written under the admin's name


async def test_disable_and_revoke_device_close_live_sockets(live_server: LiveServer) -> None:
    team = live_server.team
    phone = SyncClient("phone-rep2")
    tablet = SyncClient("tablet-engineer")
    other = SyncClient("laptop-engineer")
    async with phone.connect(f"{live_server.ws}/sync", live_server.tokens["rep2"]), \
            tablet.connect(f"{live_server.ws}/sync", live_server.tokens["engineer"]), \
            other.connect(f"{live_server.ws}/sync", live_server.tokens["engineer"]):
        for d in (phone, tablet, other):
            await d.wait_caught_up()
        async with login(live_server.url, "admin", PASSWORD) as http:
            page = await http.get(f"/admin/users/{team.engineer.id}")
            assert "tablet-engineer" in page.text and "laptop-engineer" in page.text
            r = await post_form(http, f"/admin/users/{team.engineer.id}/revoke-device",
                                device_id="tablet-engineer")
            assert r.status_code == 303
            await tablet.wait_closed()
            assert tablet.close_code == p.CloseCode.DEVICE_REVOKED
            assert other.connected  # only that device
            r = await post_form(http, f"/admin/users/{team.engineer.id}/revoke-device",
                                device_id="tablet-engineer")
            assert r.status_code == 404  # already revoked
            r = await post_form(http, f"/admin/users/{team.rep2.id}/disable")
            assert r.status_code == 303
            await phone.wait_closed()
            assert phone.close_code == p.CloseCode.BAD_TOKEN
            r = await http.get("/admin/audit?action=admin.")
            assert "<code>admin.device.revoke</code>" in r.text
            assert "<code>admin.user.disable</code>" in r.text
    again = SyncClient("tablet-engineer")
    async with again.connect(f"{live_server.ws}/sync", live_server.tokens["engineer"]):
        await again.wait_closed()
    assert again.close_code == p.CloseCode.DEVICE_REVOKED


async def test_reassign_a_departed_reps_customers(live_server: LiveServer) -> None:
    s = await seed(live_server)
    team = live_server.team
    async with login(live_server.url, "admin", PASSWORD) as http:
        r = await post_form(http, f"/admin/users/{team.rep1.id}/reassign", to=team.rep1.id)
        assert r.status_code == 400
        r = await post_form(http, f"/admin/users/{team.rep1.id}/disable")
        r = await post_form(http, f"/admin/users/{team.rep1.id}/reassign", to=team.rep2.id)
        assert r.status_code == 303 and "reassign%3A1" in r.headers["location"]
    await live_server.services.edits.settle()
    engine = live_server.services.engine
    async with engine.connect() as conn:
        owner = (await conn.execute(select(st.rec_customer.c.owner)
                                    .where(st.rec_customer.c.doc_id == s.customer_a))).scalar()
        assert owner == team.rep2.id
        rows = (await conn.execute(select(st.rec_visit.c.doc_id))).all()
        assert len(rows) == 2  # nothing deleted
    # rep2 now sees the customer and the visit under it
    async with login(live_server.url, "rep2", PASSWORD) as http:
        assert (await http.get(f"/admin/records/{s.customer_a}")).status_code == 200
        r = await http.get("/admin/visits")
        assert s.visit_a in r.text
    async with login(live_server.url, "admin", PASSWORD) as http:
        r = await http.get("/admin/audit.csv?action=admin.reassign")
        rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
        assert len(rows) == 2 and "moved=1" in rows[1][4]
        r = await http.get(f"/admin/records/{s.customer_a}")
        assert "owner" in r.text or "客户经理" in r.text


async def test_refused_changes_are_listed_within_the_tree(live_server: LiveServer) -> None:
    from schema import samples
    from schema.ydoc import update_fields, write_record
    from tests.backoffice.seed import customer_record

    docs = {}
    for who, name in (("rep1", "北京友好创达科技有限公司"), ("rep3", "上海远景数码设备有限公司")):
        dev = SyncClient(f"refused-{who}")
        doc_id = samples.new_id("customer")
        docs[who] = doc_id
        async with dev.connect(f"{live_server.ws}/sync", live_server.tokens[who]):
            await dev.wait_caught_up()
            write_record(dev.doc(doc_id), "customer", customer_record(
                getattr(live_server.team, who).id, name=name, credit_code=None))
            await dev.wait_flushed()
            update_fields(dev.doc(doc_id), "customer", {"phone": "12345"})
            await dev.wait_flushed()
            assert dev.errors and dev.errors[-1].rule == "format.phone"
    async with login(live_server.url, "manager", PASSWORD) as http:
        r = await http.get("/admin/refusals")
        assert r.status_code == 200
        assert docs["rep1"] in r.text and "format.phone" in r.text and "refused-rep1" in r.text
        assert docs["rep3"] not in r.text
        r = await http.get("/admin/refusals.csv?lang=en")
        rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
        assert rows[0][:3] == ["When", "Who", "Device"]
        assert [(x[1], x[3], x[4], x[5]) for x in rows[1:]] == [
            ("rep1", docs["rep1"], "phone", "format.phone")]
        x = await http.get("/admin/refusals.xlsx")
        wb = openpyxl.load_workbook(io.BytesIO(x.content), read_only=True)
        assert len(list(wb.active.iter_rows(values_only=True))) == 2
    async with login(live_server.url, "manager_b", PASSWORD) as http:
        r = await http.get("/admin/refusals")
        assert docs["rep3"] in r.text and docs["rep1"] not in r.text
