"""The duplicate queue: side by side, merge or dismiss within the viewer's tree; undo for
admins. Candidates are put in the real queue table; merges, dismissals and undos go through
the real procedure (`server/duplicates.py`, whose rule has its own tests)."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import select, update

from schema import samples
from schema import tables as st
from schema.ydoc import write_record
from server import tables as tt
from sync.client import SyncClient
from sync.log import now_ms, upsert
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
        for i, name in enumerate(names):  # made one after the other: the first is earliest
            cid = samples.new_id("customer")
            write_record(dev.doc(cid), "customer", customer_record(
                user.id, name=name, credit_code=None, phone=None, contacts=[],
                created_at=dev.now_ms() + i))
            ids.append(cid)
        await dev.wait_flushed()
    await live.services.edits.settle()
    return ids


async def _candidate(live: LiveServer, a: str, b: str, reason: str, score: float) -> int:
    """A pair in the review queue as the server's finder puts it there, once the finder has
    looked at every card (it may have found the pair itself, for its own reason)."""
    await live.services.duplicates.finder.examined(live.services.log.head)
    dc = tt.duplicate_candidates
    doc_a, doc_b = min(a, b), max(a, b)
    row = {"reason": reason, "score": score, "created_at": now_ms(), "status": "open",
           "decided_by": None, "decided_at": None}
    async with live.services.engine.begin() as conn:
        await upsert(conn, dc, [{"doc_a": doc_a, "doc_b": doc_b, **row}], ["doc_a", "doc_b"])
        await conn.execute(update(dc).where(dc.c.doc_a == doc_a, dc.c.doc_b == doc_b)
                           .values(**row))
        return int((await conn.execute(select(dc.c.id).where(
            dc.c.doc_a == doc_a, dc.c.doc_b == doc_b))).scalar_one())


async def _merged_into(live: LiveServer, doc_id: str) -> str | None:
    c = st.rec_customer
    async with live.services.engine.connect() as conn:
        return (await conn.execute(select(c.c.merged_into).where(c.c.doc_id == doc_id))).scalar()


async def _merge_of(live: LiveServer, duplicate: str) -> int:
    """The id of the merge that folded `duplicate` into another card (ids are not reset
    between tests on PostgreSQL: never assume 1)."""
    m = tt.merges
    async with live.services.engine.connect() as conn:
        return int((await conn.execute(select(m.c.id).where(m.c.duplicate == duplicate)))
                   .scalar_one())


async def _status(live: LiveServer, candidate: int) -> str:
    dc = tt.duplicate_candidates
    async with live.services.engine.connect() as conn:
        return str((await conn.execute(select(dc.c.status).where(dc.c.id == candidate)))
                   .scalar_one())


async def test_queue_merge_dismiss_and_undo(live_server: LiveServer) -> None:
    # canonical names all differ, so the server's own rule merges none of them
    a1, a2, a3 = await _customers(live_server, "rep1", [
        "北京友好创达科技有限公司", "北京友好创新科技有限公司", "北京友好创达信息技术有限公司"])
    (b1,) = await _customers(live_server, "rep3", ["北京友好创达软件有限公司"])
    mine = await _candidate(live_server, a1, a2, "similar_name", 0.93)
    dismissable = await _candidate(live_server, a1, a3, "same_phone", 1.0)
    across = await _candidate(live_server, a1, b1, "similar_name", 0.9)  # spans two teams
    async with login(live_server.url, "manager", PASSWORD) as http:
        r = await http.get("/admin/duplicates")
        assert r.status_code == 200
        assert f'data-candidate="{mine}"' in r.text
        assert f'data-candidate="{dismissable}"' in r.text
        assert f'data-candidate="{across}"' not in r.text  # team B's card is not shown
        assert "北京友好创新科技有限公司" in r.text and "名称相似" in r.text
        assert "将保留" in r.text
        # not allowed on a candidate spanning another team; a made-up id; a stranger survivor
        assert (await _post(http, f"/admin/duplicates/{across}/merge",
                            survivor=a1)).status_code == 404
        assert (await _post(http, "/admin/duplicates/999/merge", survivor=a1)).status_code == 404
        assert (await _post(http, f"/admin/duplicates/{mine}/merge",
                            survivor=b1)).status_code == 404
        r = await http.post(f"/admin/duplicates/{mine}/merge", data={"survivor": a1})
        assert r.status_code == 403  # no CSRF token
        r = await _post(http, f"/admin/duplicates/{mine}/merge", survivor=a1)
        assert r.status_code == 303
        await live_server.services.edits.settle()
        # the earlier card survives (a1, made first), whichever the reviewer named
        assert (await _merged_into(live_server, a2), await _merged_into(live_server, a1)) \
            == (a1, None)
        assert await _status(live_server, mine) == "merged"
        undo = f"/admin/merges/{await _merge_of(live_server, a2)}/undo"
        r = await _post(http, f"/admin/duplicates/{dismissable}/dismiss")
        assert r.status_code == 303
        assert await _status(live_server, dismissable) == "dismissed"
        assert await _merged_into(live_server, a3) is None
        r = await http.get("/admin/duplicates")
        assert f'data-candidate="{mine}"' not in r.text
        assert f'data-candidate="{dismissable}"' not in r.text
        r = await http.get("/admin/merges")
        assert "北京友好创新科技有限公司" in r.text
        assert "/undo" not in r.text  # managers cannot undo
        page = await http.get("/admin/merges")
        r = await http.post(undo, data={"csrf": csrf_of(page.text)})
        assert r.status_code == 403
        r = await http.get("/admin/merges.csv?lang=en")
        text = r.content.decode("utf-8-sig")
        assert "北京友好创达科技有限公司,北京友好创新科技有限公司" in text and "manager" in text
    async with login(live_server.url, "manager_b", PASSWORD) as http:
        r = await http.get("/admin/duplicates")
        assert f'data-candidate="{across}"' not in r.text  # rep1's card is not team B's
        assert (await _post(http, f"/admin/duplicates/{across}/dismiss")).status_code == 404
        r = await http.get("/admin/merges.csv")
        assert "北京友好创新科技有限公司" not in r.content.decode("utf-8-sig")
    async with login(live_server.url, "admin", PASSWORD) as http:
        assert f'data-candidate="{across}"' in (await http.get("/admin/duplicates")).text
        page = await http.get("/admin/merges")
        assert undo in page.text
        r = await http.post(undo, data={"csrf": csrf_of(page.text)})
        assert r.status_code == 303
        await live_server.services.edits.settle()
        assert await _merged_into(live_server, a2) is None  # both cards are back
        r = await http.post(undo, data={"csrf": csrf_of(page.text)})
        assert r.status_code == 404  # already undone
        assert "已撤销" in (await http.get("/admin/merges")).text
