"""Durable acks: an acked update survives SIGKILL of the server; an unacked one, kept by a
device that itself restarted from disk, is resent and lands exactly once."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from schema import samples
from schema.ydoc import update_fields, write_record
from server.db import make_engine
from sync import tables as t
from sync.client import SyncClient
from tests.conftest import free_port

pytestmark = pytest.mark.asyncio

WAIQIN = str(Path(sys.executable).with_name("waiqin"))


class ServerProcess:
    def __init__(self, data: Path, database_url: str) -> None:
        self.data = data
        self.database_url = database_url
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def cli(self, *args: str, stdin: str | None = None) -> None:
        subprocess.run(
            [WAIQIN, *args, "--data", str(self.data), "--database", self.database_url],
            input=stdin.encode() if stdin else None,
            check=True,
            capture_output=True,
        )

    async def start(self) -> None:
        self.spawn()
        await self.ready()

    def spawn(self) -> None:
        log = open(self.data / "server.log", "ab")
        self.proc = subprocess.Popen(
            [WAIQIN, "serve", "--data", str(self.data), "--database", self.database_url,
             "--port", str(self.port), "--log-level", "warning"],
            stdout=log, stderr=subprocess.STDOUT,
        )
        log.close()

    async def ready(self) -> None:
        assert self.proc is not None
        async with asyncio.timeout(60), httpx.AsyncClient() as http:
            while True:
                assert self.proc.poll() is None, (self.data / "server.log").read_text()
                try:
                    if (await http.get(f"{self.url}/healthz")).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.05)

    def kill(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=30)


async def log_rows(database_url: str, doc_ids: list[str]) -> dict[str, int]:
    engine = make_engine(database_url)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(
                select(t.changes.c.doc_id, func.count())
                .where(t.changes.c.doc_id.in_(doc_ids))
                .group_by(t.changes.c.doc_id)
            )
            return {r[0]: r[1] for r in rows}
    finally:
        await engine.dispose()


def visit(user_id: str, n: int) -> dict[str, Any]:
    rec = samples.visit(created_by=user_id)
    rec["purpose"] = f"第{n}次拜访"
    return rec


async def test_acked_survives_sigkill_and_unacked_lands_once(
    database_url: str, tmp_path: Path
) -> None:
    server = ServerProcess(tmp_path, database_url)
    server.cli("migrate")
    server.cli("user", "add", "rep1", "--role", "rep", stdin="long enough password\n")
    await server.start()
    try:
        async with httpx.AsyncClient(base_url=server.url) as http:
            r = await http.post("/api/session",
                                json={"login": "rep1", "password": "long enough password"})
            token, user_id = r.json()["token"], r.json()["user"]["id"]
        state = tmp_path / "phone.json"
        phone = SyncClient("phone-1", state_file=state)
        acked = [samples.new_id("visit") for _ in range(20)]
        async with phone.connect(f"{server.url.replace('http', 'ws')}/sync", token):
            await phone.wait_caught_up()
            for i, d in enumerate(acked):
                write_record(phone.doc(d), "visit", visit(user_id, i))
            await phone.wait_flushed()
        server.kill()  # SIGKILL right after the acks: no graceful shutdown of anything

        # offline now: more edits wait in the outbox, and the phone app itself restarts
        pending = [samples.new_id("visit") for _ in range(5)]
        for i, d in enumerate(pending):
            write_record(phone.doc(d), "visit", visit(user_id, 100 + i))
        update_fields(phone.doc(acked[0]), "visit", {"result": "客户同意试用"})
        assert len(phone.outbox) == 6
        del phone
        phone = SyncClient("phone-1", state_file=state)
        assert len(phone.outbox) == 6

        await server.start()
        fresh = SyncClient("laptop")
        async with fresh.connect(f"{server.url.replace('http', 'ws')}/sync", token):
            await fresh.wait_caught_up()
            for i, d in enumerate(acked):
                assert fresh.read(d)["purpose"] == f"第{i}次拜访"
            assert not any(d in fresh.docs for d in pending)
            async with phone.connect(f"{server.url.replace('http', 'ws')}/sync", token):
                await phone.wait_caught_up()
                await phone.wait_flushed()
                assert phone.outbox == []
            await fresh.wait_for(lambda: all(d in fresh.docs for d in pending))
            await fresh.wait_for(lambda: fresh.read(acked[0]).get("result") == "客户同意试用")

        # each resent update landed exactly once in the log
        rows = await log_rows(database_url, acked + pending)
        assert all(rows[d] == 1 for d in pending)
        assert rows[acked[0]] == 2  # its creation, and the edit made offline
    finally:
        server.stop()
