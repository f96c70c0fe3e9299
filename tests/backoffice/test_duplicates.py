"""The duplicate queue: side by side, merge or dismiss within the viewer's tree; undo for
admins. The page logic is tested against a stand-in with the interface of
`services.duplicates` (the real procedure has its own tests)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from schema import samples
from schema.ydoc import write_record
from sync.client import SyncClient
from tests.backoffice.fake_duplicates import FakeDuplicates
from tests.backoffice.seed import csrf_of, customer_record, login
from tests.conftest import PASSWORD, LiveServer

pytestmark = pytest.mark.asyncio


async def _post(http: httpx.AsyncClient, path: str, **data: str) -> httpx.Response:
    page = await http.get("/admin/duplicates")
    return await http.post(path, data={"csrf": csrf_of(page.text), **data})


async def _customers(live: LiveServer, login_: str, names: list[str]) -> list[str]:
    user = getattr(live.team, login_)
    dev = SyncClient(f"dup-{login_}")
    ids = []
    async with dev.connect(f"{live.ws}/sync", live.tokens[login_]):
        await dev.wait_caught_up()
        for name in names:
            cid = samples.new_id("customer")
            write_record(dev.doc(cid), "customer", customer_record(
                user.id, name=name, credit_code=None, phone=None, contacts=[]))
            ids.append(cid)
        await dev.wait_flushed()
    await live.services.edits.settle()
    return ids


def _fake(live: LiveServer) -> Any:
    fake = FakeDuplicates()
    live.services.duplicates = fake
    return fake


async def test_queue_merge_dismiss_and_undo(live_server: LiveServer) -> None:
    # canonical names all differ, so the server's own rule merges none of them
    a1, a2, a3 = await _customers(live_server, "rep1", [
        "北京友好创达科技有限公司", "北京友好创新科技有限公司", "北京友好创达信息技术有限公司"])
    (b1,) = await _customers(live_server, "rep3", ["北京友好创达软件有限公司"])
    fake = _fake(live_server)
    mine = fake.add(a1, a2, "similar_name", 0.93)
    dismissable = fake.add(a1, a3, "same_phone", 1.0)
    across = fake.add(a1, b1, "similar_name", 0.9)  # spans two teams
    async with login(live_server.url, "manager", PASSWORD) as http:
        r = await http.get("/admin/duplicates")
        assert r.status_code == 200
        assert f'data-candidate="{mine.id}"' in r.text
        assert f'data-candidate="{dismissable.id}"' in r.text
        assert f'data-candidate="{across.id}"' not in r.text  # team B's card is not shown
        assert "北京友好创新科技有限公司" in r.text and "名称相似" in r.text
        assert "将保留" in r.text
        # not allowed on a candidate spanning another team; a made-up id; a stranger survivor
        assert (await _post(http, f"/admin/duplicates/{across.id}/merge",
                            survivor=a1)).status_code == 404
        assert (await _post(http, "/admin/duplicates/999/merge", survivor=a1)).status_code == 404
        assert (await _post(http, f"/admin/duplicates/{mine.id}/merge",
                            survivor=b1)).status_code == 404
        r = await http.post(f"/admin/duplicates/{mine.id}/merge", data={"survivor": a1})
        assert r.status_code == 403  # no CSRF token
        r = await _post(http, f"/admin/duplicates/{mine.id}/merge", survivor=a1)
        assert r.status_code == 303
        assert fake.calls[-1] == ("merge", a1, a2, live_server.team.manager.id)
        r = await _post(http, f"/admin/duplicates/{dismissable.id}/dismiss")
        assert r.status_code == 303
        assert fake.calls[-1] == ("dismiss", dismissable.id, None, live_server.team.manager.id)
        r = await http.get("/admin/duplicates")
        assert "data-candidate=" not in r.text
        r = await http.get("/admin/merges")
        assert "北京友好创新科技有限公司" in r.text
        assert "/undo" not in r.text  # managers cannot undo
        page = await http.get("/admin/merges")
        r = await http.post("/admin/merges/1/undo", data={"csrf": csrf_of(page.text)})
        assert r.status_code == 403
        r = await http.get("/admin/merges.csv?lang=en")
        text = r.content.decode("utf-8-sig")
        assert "北京友好创达科技有限公司,北京友好创新科技有限公司" in text and "manager" in text
    async with login(live_server.url, "manager_b", PASSWORD) as http:
        r = await http.get("/admin/duplicates")
        assert "data-candidate=" not in r.text
        assert (await _post(http, f"/admin/duplicates/{across.id}/dismiss")).status_code == 404
        r = await http.get("/admin/merges.csv")
        assert "北京友好创新科技有限公司" not in r.content.decode("utf-8-sig")
    async with login(live_server.url, "admin", PASSWORD) as http:
        assert f'data-candidate="{across.id}"' in (await http.get("/admin/duplicates")).text
        page = await http.get("/admin/merges")
        assert "/admin/merges/1/undo" in page.text
        r = await http.post("/admin/merges/1/undo", data={"csrf": csrf_of(page.text)})
        assert r.status_code == 303 and fake.calls[-1][:2] == ("undo", 1)
        r = await http.post("/admin/merges/1/undo", data={"csrf": csrf_of(page.text)})
        assert r.status_code == 404  # already undone
        assert "已撤销" in (await http.get("/admin/merges")).text


async def test_queue_says_so_when_the_server_has_no_duplicate_service(
    live_server: LiveServer,
) -> None:
    live_server.services.duplicates = None  # as before server/duplicates.py is wired
    async with login(live_server.url, "manager", PASSWORD) as http:
        r = await http.get("/admin/duplicates")
        assert r.status_code == 200 and "尚未启用" in r.text
        assert (await _post(http, "/admin/duplicates/1/merge", survivor="x")).status_code == 404
