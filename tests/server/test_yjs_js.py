"""Real JS Yjs clients (npm `yjs` + `y-websocket` 3.x, the current release, and 2.x, run by
Node) create, read and write records through /yjs/<doc id>, and see changes others make."""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from schema import samples
from schema.ydoc import update_fields, write_record
from sync import protocol as p
from sync import tables as t
from sync.client import SyncClient
from tests.conftest import LiveServer
from tests.factories import new_customer

pytestmark = pytest.mark.asyncio

JS = Path(__file__).parent.parent / "js"
VERSIONS = ["v3", "v2"]  # y-websocket 3.x (what npm installs today) and 2.x


class Node:
    """One `yjs_client.mjs` process; `events` keeps every line it printed."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.events: list[dict[str, Any]] = []

    async def _next(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = await self.proc.stdout.readline()
        if not line:
            err = await self.proc.stderr.read() if self.proc.stderr else b""
            raise AssertionError(f"node exited: {err.decode()[-2000:]}")
        msg = dict(json.loads(line))
        self.events.append(msg)
        return msg

    async def event(self, name: str) -> dict[str, Any]:
        async with asyncio.timeout(20):
            while (msg := await self._next())["event"] != name:
                pass
            return msg

    async def record_where(self, ok: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        """The client's record once it satisfies `ok` (at sync, or after later changes)."""
        seen = iter(list(self.events))
        async with asyncio.timeout(20):
            while True:
                msg = next(seen, None) or await self._next()
                if msg["event"] == "stopped":
                    raise AssertionError(f"the client gave up: {self.closes()}")
                if msg["event"] in ("synced", "change") and ok(msg["record"]):
                    return dict(msg["record"])

    def closes(self) -> list[dict[str, Any]]:
        return [e for e in self.events if e["event"] in ("closed", "stopped")]

    async def close(self) -> None:
        """Stop the client and read what it printed up to its exit."""
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        async with asyncio.timeout(10):
            assert self.proc.stdout is not None
            while line := await self.proc.stdout.readline():
                self.events.append(json.loads(line))
            await self.proc.wait()


async def node_client(server: LiveServer, doc_id: str, token: str, fields: dict[str, Any],
                      version: str = "v3") -> Node:
    if shutil.which("node") is None or not (JS / "node_modules" / "y-websocket").exists():
        pytest.fail("tests/js needs `npm ci` (scripts/install --dev does it) and node on PATH")
    proc = await asyncio.create_subprocess_exec(
        "node", str(JS / "yjs_client.mjs"), f"{server.ws}/yjs", doc_id, token, json.dumps(fields),
        version, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    return Node(proc)


@pytest.mark.parametrize("version", VERSIONS)
async def test_stock_yjs_client_creates_a_customer_that_it_and_a_manager_read_back(
    live_server: LiveServer, version: str,
) -> None:
    rep = live_server.team.rep1
    doc_id = samples.new_id("customer")
    card = new_customer(rep.id)
    nodes: list[Node] = []
    try:
        writer = await node_client(live_server, doc_id, live_server.tokens["rep1"], card, version)
        nodes.append(writer)
        assert (await writer.event("synced"))["record"] == {}
        await writer.event("wrote")
        # the server's own edit (the customer code) comes back to the writer: committed
        written = await writer.record_where(lambda r: bool(r.get("code")))
        assert written["name"] == card["name"]

        again = await node_client(live_server, doc_id, live_server.tokens["rep1"], {}, version)
        nodes.append(again)
        back = await again.record_where(lambda r: bool(r.get("code")))
        assert back["name"] == card["name"]
        assert back["contacts"][0]["name"] == "张宏"

        manager = await node_client(live_server, doc_id, live_server.tokens["manager"], {},
                                    version)
        nodes.append(manager)
        seen = await manager.record_where(lambda r: bool(r.get("code")))
        assert seen["name"] == card["name"]
        assert seen["owner"] == rep.id
    finally:
        for node in nodes:
            await node.close()
    assert [n.closes() for n in nodes] == [[], [], []]
    live = await live_server.services.hub.open(doc_id, "customer")
    assert live.record["name"] == card["name"]
    assert live.created_by == rep.id


@pytest.mark.parametrize("version", VERSIONS)
async def test_stock_yjs_client_waits_on_a_doc_that_does_not_exist_yet(
    live_server: LiveServer, version: str,
) -> None:
    doc_id = samples.new_id("customer")
    reader = await node_client(live_server, doc_id, live_server.tokens["manager"], {}, version)
    try:
        assert (await reader.event("synced"))["record"] == {}
        phone = SyncClient("phone")
        async with phone.connect(f"{live_server.ws}/sync", live_server.tokens["rep1"]):
            await phone.wait_caught_up()
            write_record(phone.doc(doc_id), "customer", new_customer(live_server.team.rep1.id))
            await phone.wait_flushed()
        record = await reader.record_where(lambda r: bool(r.get("name")))
        assert record["name"] == "北京友好创达科技有限公司"
    finally:
        await reader.close()
    assert reader.closes() == []
    async with live_server.services.engine.connect() as conn:
        refused = await conn.scalar(
            select(func.count()).select_from(t.refusals).where(t.refusals.c.doc_id == doc_id))
    assert refused == 0  # the reader's empty step 2 was no attempt to create anything


@pytest.mark.parametrize("version", VERSIONS)
async def test_stock_yjs_client_reads_and_writes_a_record(
    live_server: LiveServer, version: str,
) -> None:
    rep = live_server.team.rep1
    doc_id = samples.new_id("customer")
    phone = SyncClient("phone")
    async with phone.connect(f"{live_server.ws}/sync", live_server.tokens["rep1"]):
        await phone.wait_caught_up()
        write_record(phone.doc(doc_id), "customer", new_customer(rep.id))
        await phone.wait_flushed()

        node = await node_client(live_server, doc_id, live_server.tokens["rep1"],
                                 {"short_name": "YHCD"}, version)
        try:
            synced = await node.event("synced")
            assert synced["record"]["name"] == "北京友好创达科技有限公司"
            assert synced["record"]["contacts"][0]["name"] == "张宏"
            await node.event("wrote")
            # the JS write arrives on the phone through the server
            await phone.wait_for(lambda: phone.read(doc_id).get("short_name") == "YHCD")
            # and the phone's write arrives in the JS client
            update_fields(phone.doc(doc_id), "customer", {"postcode": "100081"})
            await phone.wait_flushed()
            await node.record_where(lambda r: r.get("postcode") == "100081")
        finally:
            await node.close()
    assert node.closes() == []
    live = await live_server.services.hub.open(doc_id, "customer")
    assert live.record["short_name"] == "YHCD"


@pytest.mark.parametrize("version", VERSIONS)
async def test_stock_yjs_client_is_refused_what_its_user_may_not_see(
    live_server: LiveServer, version: str,
) -> None:
    doc_id = samples.new_id("customer")
    phone = SyncClient("phone")
    async with phone.connect(f"{live_server.ws}/sync", live_server.tokens["rep1"]):
        await phone.wait_caught_up()
        write_record(phone.doc(doc_id), "customer", new_customer(live_server.team.rep1.id))
        await phone.wait_flushed()
    node = await node_client(live_server, doc_id, live_server.tokens["rep3"], {"name": "抢占"},
                             version)
    try:
        closed = await node.event("closed")
        assert closed["code"] == p.CloseCode.NOT_FOUND
        if version == "v3":
            await node.event("stopped")  # a 44xx code is final for y-websocket 3.x
    finally:
        await node.close()
    live = await live_server.services.hub.open(doc_id, "customer")
    assert live.record["name"] == "北京友好创达科技有限公司"


@pytest.mark.parametrize("version", VERSIONS)
async def test_stock_yjs_client_is_told_which_card_a_merged_one_went_into(
    live_server: LiveServer, version: str,
) -> None:
    team = live_server.team
    kept, merged = samples.new_id("customer"), samples.new_id("customer")
    phone = SyncClient("phone")
    async with phone.connect(f"{live_server.ws}/sync", live_server.tokens["rep1"]):
        await phone.wait_caught_up()
        write_record(phone.doc(kept), "customer",
                     new_customer(team.rep1.id, credit_code=None, created_at=phone.now_ms()))
        await phone.wait_flushed()
    # rep2 creates the same customer later, through /yjs, and keeps it open: the server
    # merges it into rep1's card, which was first
    later = new_customer(team.rep2.id, credit_code=None, created_at=phone.now_ms() + 1)
    nodes = [await node_client(live_server, merged, live_server.tokens["rep2"], later, version)]
    try:
        await nodes[0].event("wrote")
        closed = await nodes[0].event("closed")
        assert (closed["code"], closed["reason"]) == (p.CloseCode.MERGED, f"merged into {kept}")
        if version == "v3":
            await nodes[0].event("stopped")  # final: it does not knock again
        # opened after the merge: the manager who saw it is told too, another team is not
        for login, code in (("manager", p.CloseCode.MERGED), ("rep3", p.CloseCode.NOT_FOUND)):
            node = await node_client(live_server, merged, live_server.tokens[login], {}, version)
            nodes.append(node)
            closed = await node.event("closed")
            assert closed["code"] == code, (login, closed)
            if code == p.CloseCode.MERGED:
                assert closed["reason"] == f"merged into {kept}"
    finally:
        for node in nodes:
            await node.close()
    survivor = await live_server.services.hub.open(kept, "customer")
    assert team.rep2.id in survivor.record["shared_with"]
