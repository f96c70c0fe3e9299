"""`waiqin serve` stops within 10 s of SIGTERM whatever it is doing: here, 20,000 customers
of near-identical names on file and a phone pushing more while the server examines them."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from schema.ydoc import write_record
from server.accounts import Accounts
from sync.client import SyncClient
from tests.conftest import PASSWORD, free_port
from tests.server.phones import customer
from tests.server.test_similar_names import seed_customers

pytestmark = pytest.mark.asyncio

WAIQIN = Path(sys.executable).parent / "waiqin"
BOUND = 10.0  # seconds from SIGTERM to exit: the promise
PARENT = "北京友好创达科技有限公司"
PUSHED = 2000


async def _until_up(url: str, proc: subprocess.Popen[bytes], log_path: Path) -> None:
    async with httpx.AsyncClient(base_url=url, timeout=5) as http:
        async with asyncio.timeout(120):
            while True:
                assert proc.poll() is None, _tail(log_path)
                try:
                    if (await http.get("/healthz")).status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.1)


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_sigterm_stops_a_busy_server_within_ten_seconds(
    database_url: str, engine: AsyncEngine, tmp_path: Path,
) -> None:
    rep = await Accounts(engine).add_user("rep1", PASSWORD, role="rep")
    await seed_customers(engine, [f"{PARENT}第{i}分公司" for i in range(1, 20_001)],
                         owner=rep.id)
    await engine.dispose()
    port = free_port()
    log_path = tmp_path / "server.log"
    proc = _serve(database_url, tmp_path, port, log_path)
    try:
        url = f"http://127.0.0.1:{port}"
        await _until_up(url, proc, log_path)
        async with httpx.AsyncClient(base_url=url) as http:
            r = await http.post("/api/session", json={"login": "rep1", "password": PASSWORD})
            token = r.json()["token"]
        # The phone creates more branches of the same company while the server examines the
        # 20,000 on file; half-way through its pushes, the operator stops the server.
        dev = SyncClient("phone-busy")
        async with dev.connect(f"ws://127.0.0.1:{port}/sync", token):
            await dev.wait_caught_up(timeout=120)
            for i in range(PUSHED):
                write_record(dev.doc(f"customer:{uuid.uuid4()}"), "customer", customer(
                    rep.id, f"{PARENT}第{20_001 + i}分公司", dev.now_ms(), phone=None,
                    address=None))
            await dev.wait_for(lambda: len(dev.outbox) <= PUSHED // 2, timeout=300)
            assert not dev.errors, dev.errors
            assert proc.poll() is None
            proc.send_signal(signal.SIGTERM)
            sent = time.monotonic()
            # A generous wait for the event; the bound is asserted on when it happened.
            code = await asyncio.to_thread(_wait, proc, 120)
            took = time.monotonic() - sent
        print(f"exited {took:.1f} s after SIGTERM with {code}")
        assert code is not None, f"still running 120 s after SIGTERM:\n{_tail(log_path)}"
        assert took <= BOUND, f"exited only {took:.1f} s after SIGTERM:\n{_tail(log_path)}"
        # uvicorn re-raises the signal it handled once it has shut down
        assert code in (0, -signal.SIGTERM), _tail(log_path)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _serve(database_url: str, data: Path, port: int, log_path: Path) -> subprocess.Popen[bytes]:
    """`waiqin serve` as an operator runs it, its output in `log_path`."""
    with open(log_path, "wb") as out:
        return subprocess.Popen(
            [str(WAIQIN), "serve", "--host", "127.0.0.1", "--port", str(port),
             "--database", database_url, "--data", str(data), "--log-level", "info"],
            stdout=out, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"})


def _wait(proc: subprocess.Popen[bytes], timeout: float) -> int | None:
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        return None


def _tail(path: Path, lines: int = 40) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
