"""Supervisors reassign customers within their team, from a customer's page or all of one
member's at once; the move reaches devices through /sync. Rights, CSRF and the audit trail."""

from __future__ import annotations

import csv
import io
import re

import httpx
import pytest
from sqlalchemy import select

from schema import tables as st
from sync.client import SyncClient
from tests.backoffice.seed import csrf_of, login, seed
from tests.conftest import PASSWORD, LiveServer

pytestmark = pytest.mark.asyncio


async def _post(http: httpx.AsyncClient, path: str, **data: str) -> httpx.Response:
    page = await http.get("/admin/")
    return await http.post(path, data={"csrf": csrf_of(page.text), **data})


async def _owner(live: LiveServer, doc_id: str) -> str | None:
    await live.services.edits.settle()
    async with live.services.engine.connect() as conn:
        owner: str | None = (await conn.execute(
            select(st.rec_customer.c.owner).where(st.rec_customer.c.doc_id == doc_id)
        )).scalar()
    return owner


async def _audit(live: LiveServer, action: str) -> list[list[str]]:
    async with login(live.url, "admin", PASSWORD) as http:
        r = await http.get(f"/admin/audit.csv?action={action}&lang=en")
    return list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))[1:]


def _options(html: str, select_name: str) -> set[str]:
    """The user ids offered by one <select> of the page."""
    m = re.search(rf'<select name="{select_name}"[^>]*>(.*?)</select>', html, re.S)
    assert m, f"no select {select_name!r} in the page"
    return set(re.findall(r'<option value="([^"]+)"', m.group(1)))


async def test_a_supervisor_hands_a_customer_to_a_subordinate(live_server: LiveServer) -> None:
    s = await seed(live_server)
    team = live_server.team
    old_phone, new_phone = SyncClient("rep1-phone"), SyncClient("rep2-phone")
    async with old_phone.connect(f"{live_server.ws}/sync", live_server.tokens["rep1"]), \
            new_phone.connect(f"{live_server.ws}/sync", live_server.tokens["rep2"]):
        await old_phone.wait_caught_up()
        await new_phone.wait_caught_up()
        assert s.customer_a in old_phone.docs and s.customer_a not in new_phone.docs

        async with login(live_server.url, "manager", PASSWORD) as http:
            page = await http.get(f"/admin/records/{s.customer_a}")
            assert page.status_code == 200
            # The form offers the team (not rep1, who owns it already), never team B.
            offered = _options(page.text, "to")
            assert {team.rep2.id, team.engineer.id, team.manager.id} <= offered
            assert team.rep3.id not in offered and team.rep1.id not in offered
            r = await http.post(f"/admin/records/{s.customer_a}/reassign",
                                data={"csrf": csrf_of(page.text), "to": team.rep2.id})
            assert r.status_code == 303, r.text
            assert r.headers["location"].endswith(f"/admin/records/{s.customer_a}?done=reassigned")
            assert await _owner(live_server, s.customer_a) == team.rep2.id
            shown = await http.get(r.headers["location"] + "&lang=en")
            assert "now belongs to rep2" in shown.text

        # Through the change log: the new owner's phone gets the customer, the old owner's
        # phone lets it go; the server re-grants the visit, so rep2 sees it too.
        await new_phone.wait_for(
            lambda: new_phone.read(s.customer_a).get("owner") == team.rep2.id)
        assert new_phone.read(s.customer_a)["name"] == "北京友好创达科技有限公司"
        await old_phone.wait_for(lambda: s.customer_a not in old_phone.docs)
        await new_phone.wait_for(lambda: s.visit_a in new_phone.docs)

    async with login(live_server.url, "rep2", PASSWORD) as http:
        assert (await http.get(f"/admin/records/{s.customer_a}")).status_code == 200
    entries = await _audit(live_server, "reassign.customer")
    assert len(entries) == 1
    _, action, who, doc, detail = entries[0]
    assert (action, who, doc) == ("reassign.customer", "manager", s.customer_a)
    assert f"owner_was={team.rep1.id}" in detail and f"to={team.rep2.id}" in detail


async def test_a_target_outside_the_team_is_refused(live_server: LiveServer) -> None:
    s = await seed(live_server)
    team = live_server.team
    async with login(live_server.url, "manager", PASSWORD) as http:
        r = await _post(http, f"/admin/records/{s.customer_a}/reassign?lang=en", to=team.rep3.id)
        assert r.status_code == 403
        assert "rep3 is not in your team" in r.text
        r = await _post(http, f"/admin/records/{s.customer_a}/reassign", to="no-such-user")
        assert r.status_code == 400
    assert await _owner(live_server, s.customer_a) == team.rep1.id
    assert await _audit(live_server, "reassign") == []


async def test_another_teams_customer_is_refused(live_server: LiveServer) -> None:
    s = await seed(live_server)
    team = live_server.team
    async with login(live_server.url, "manager", PASSWORD) as http:
        r = await _post(http, f"/admin/records/{s.customer_b}/reassign?lang=en", to=team.rep1.id)
        assert r.status_code == 403
        assert "not among the customers you can see" in r.text
        # A made-up id gets the very same answer: ids cannot be probed this way.
        made_up = await _post(http, "/admin/records/customer:0000/reassign?lang=en",
                              to=team.rep1.id)
        assert made_up.status_code == 403
        assert made_up.text.replace("customer:0000", s.customer_b) == r.text.replace(
            "customer:0000", s.customer_b)
    async with login(live_server.url, "manager_b", PASSWORD) as http:
        r = await _post(http, f"/admin/records/{s.customer_a}/reassign", to=team.rep3.id)
        assert r.status_code == 403
    assert await _owner(live_server, s.customer_b) == team.rep3.id
    assert await _owner(live_server, s.customer_a) == team.rep1.id


async def test_reps_cannot_reassign(live_server: LiveServer) -> None:
    s = await seed(live_server)
    team = live_server.team
    async with login(live_server.url, "rep1", PASSWORD) as http:
        page = await http.get(f"/admin/records/{s.customer_a}")
        assert page.status_code == 200 and f"{s.customer_a}/reassign" not in page.text
        r = await _post(http, f"/admin/records/{s.customer_a}/reassign?lang=en", to=team.rep2.id)
        assert r.status_code == 403
        assert "Only supervisors and administrators" in r.text
        assert (await http.get("/admin/team")).status_code == 403
        r = await _post(http, "/admin/team/reassign", **{"from": team.rep1.id, "to": team.rep2.id})
        assert r.status_code == 403
    assert await _owner(live_server, s.customer_a) == team.rep1.id


async def test_the_form_needs_its_csrf_token(live_server: LiveServer) -> None:
    s = await seed(live_server)
    team = live_server.team
    async with login(live_server.url, "manager", PASSWORD) as http:
        await http.get("/admin/")
        r = await http.post(f"/admin/records/{s.customer_a}/reassign", data={"to": team.rep2.id})
        assert r.status_code == 403
        r = await http.post("/admin/team/reassign",
                            data={"csrf": "0" * 64, "from": team.rep1.id, "to": team.rep2.id})
        assert r.status_code == 403
    assert await _owner(live_server, s.customer_a) == team.rep1.id


async def test_a_supervisor_hands_all_of_one_members_customers_to_another(
    live_server: LiveServer,
) -> None:
    s = await seed(live_server)
    team = live_server.team
    async with login(live_server.url, "manager", PASSWORD) as http:
        page = await http.get("/admin/team")
        assert page.status_code == 200
        assert _options(page.text, "from") == {team.rep1.id}  # the only one owning customers
        assert _options(page.text, "to") == {
            team.manager.id, team.rep1.id, team.rep2.id, team.engineer.id}
        assert "rep3" not in page.text

        for src, dst, status in ((team.rep3.id, team.rep2.id, 403),  # not their member
                                 (team.rep1.id, team.rep3.id, 403),  # nor their member
                                 (team.rep1.id, team.rep1.id, 400)):
            r = await _post(http, "/admin/team/reassign", **{"from": src, "to": dst})
            assert r.status_code == status
        assert await _owner(live_server, s.customer_b) == team.rep3.id

        r = await _post(http, "/admin/team/reassign", **{"from": team.rep1.id, "to": team.rep2.id})
        assert r.status_code == 303 and r.headers["location"].endswith("done=reassign%3A1")
    assert await _owner(live_server, s.customer_a) == team.rep2.id
    async with login(live_server.url, "rep2", PASSWORD) as http:
        assert s.visit_a in (await http.get("/admin/visits")).text
    entries = await _audit(live_server, "reassign.member")
    assert len(entries) == 1 and entries[0][2] == "manager"
    assert f"target={team.rep1.id}" in entries[0][4] and "moved=1" in entries[0][4]


async def test_an_admin_reassigns_across_teams(live_server: LiveServer) -> None:
    s = await seed(live_server)
    team = live_server.team
    async with login(live_server.url, "admin", PASSWORD) as http:
        page = await http.get(f"/admin/records/{s.customer_b}")
        assert team.rep1.id in _options(page.text, "to")
        r = await http.post(f"/admin/records/{s.customer_b}/reassign",
                            data={"csrf": csrf_of(page.text), "to": team.rep1.id})
        assert r.status_code == 303
    assert await _owner(live_server, s.customer_b) == team.rep1.id
