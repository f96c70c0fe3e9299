"""A real JS Yjs client (npm `yjs` + `y-websocket`, run by Node) reads and writes a record
through /yjs/<doc id>, and sees a change another device makes."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from schema import samples
from schema.ydoc import update_fields, write_record
from sync import protocol as p
from sync.client import SyncClient
from tests.conftest import LiveServer
from tests.factories import new_customer

pytestmark = pytest.mark.asyncio

JS = Path(__file__).parent.parent / "js"


class Node:
    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc

    async def event(self, name: str) -> dict[str, Any]:
        assert self.proc.stdout is not None
        async with asyncio.timeout(20):
            while True:
                line = await self.proc.stdout.readline()
                if not line:
                    err = await self.proc.stderr.read() if self.proc.stderr else b""
                    raise AssertionError(f"node exited: {err.decode()[-2000:]}")
                msg = json.loads(line)
                if msg["event"] == name:
                    return dict(msg)

    async def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        async with asyncio.timeout(10):
            await self.proc.wait()


async def node_client(server: LiveServer, doc_id: str, token: str, fields: dict[str, Any]) -> Node:
    if shutil.which("node") is None or not (JS / "node_modules" / "y-websocket").exists():
        pytest.fail("tests/js needs `npm ci` (scripts/install --dev does it) and node on PATH")
    proc = await asyncio.create_subprocess_exec(
        "node", str(JS / "yjs_client.mjs"), f"{server.ws}/yjs", doc_id, token, json.dumps(fields),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    return Node(proc)


async def test_stock_yjs_client_reads_and_writes_a_record(live_server: LiveServer) -> None:
    rep = live_server.team.rep1
    doc_id = samples.new_id("customer")
    phone = SyncClient("phone")
    async with phone.connect(f"{live_server.ws}/sync", live_server.tokens["rep1"]):
        await phone.wait_caught_up()
        write_record(phone.doc(doc_id), "customer", new_customer(rep.id))
        await phone.wait_flushed()

        node = await node_client(live_server, doc_id, live_server.tokens["rep1"],
                                 {"short_name": "YHCD"})
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
            while (await node.event("change"))["record"].get("postcode") != "100081":
                pass
        finally:
            await node.close()
    live = await live_server.services.hub.open(doc_id, "customer")
    assert live.record["short_name"] == "YHCD"


async def test_stock_yjs_client_is_refused_what_its_user_may_not_see(
    live_server: LiveServer,
) -> None:
    doc_id = samples.new_id("customer")
    phone = SyncClient("phone")
    async with phone.connect(f"{live_server.ws}/sync", live_server.tokens["rep1"]):
        await phone.wait_caught_up()
        write_record(phone.doc(doc_id), "customer", new_customer(live_server.team.rep1.id))
        await phone.wait_flushed()
    node = await node_client(live_server, doc_id, live_server.tokens["rep3"], {"name": "抢占"})
    try:
        closed = await node.event("closed")
        assert closed["code"] == p.CloseCode.NOT_FOUND
    finally:
        await node.close()
    live = await live_server.services.hub.open(doc_id, "customer")
    assert live.record["name"] == "北京友好创达科技有限公司"
