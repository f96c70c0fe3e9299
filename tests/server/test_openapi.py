"""The OpenAPI document is kept true by schemathesis: every check, every phase (examples,
coverage, fuzzing, stateful links) against a live server with a seeded team, as an admin
and as a rep, must report no failure."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import anyio
import httpx
import pytest
from sqlalchemy import func, select

from schema import samples
from schema import tables as st
from schema.ydoc import write_record
from server.openapi import document
from sync.client import SyncClient
from tests.backoffice.seed import customer_record, seed
from tests.conftest import LiveServer

# Enough similar cards that the run's dismissals do not use up every candidate.
BRANCHES = ("上海", "广州", "深圳", "成都", "武汉", "西安")


async def seed_duplicates(live: LiveServer) -> None:
    """Open candidates (similar names, a shared phone) and one automatic merge, so that the
    stateful links GET /api/duplicates -> merge/dismiss and GET /api/merges -> undo have
    something to follow."""
    await seed(live)
    team = live.team
    dev = SyncClient("phone-rep2")
    now = samples.T0 + 500 * 86_400_000
    async with dev.connect(f"{live.ws}/sync", live.tokens["rep2"]):
        await dev.wait_caught_up()
        names = ["北京友好创达科技有限公司",  # the same as rep1's: merged at once
                 *(f"北京友好创达科技有限公司 {city}分公司" for city in BRANCHES)]
        for i, name in enumerate(names):
            write_record(dev.doc(samples.new_id("customer")), "customer", customer_record(
                team.rep2.id, name=name, credit_code=None, attachments=[],
                created_at=now + i, submitted_at=now + i + 1000))
        await dev.wait_flushed()
    await live.services.edits.settle()
    assert not live.services.edits.errors
    async with live.services.engine.connect() as conn:
        last = await conn.scalar(select(func.max(st.rec_customer.c.seq)))
    with anyio.fail_after(30):  # the background finder has looked at every card
        await live.services.duplicates.finder.examined(last)


HOOKS = Path(__file__).with_name("schemathesis_hooks.py")
CONFIG = Path(__file__).with_name("schemathesis.toml")
ROOT = Path(__file__).parents[2]
MAX_EXAMPLES = 10  # per operation and phase: bounded, and deterministic
SPARE_TOKENS = 200  # one for each DELETE /api/session of the run


async def schemathesis(live: LiveServer, login: str, workdir: Path, *only: str) -> str:
    """Run schemathesis as `login`; fail the test with its report unless it found nothing."""
    await anyio.Path(workdir).mkdir()
    args = [
        sys.executable, "-m", "schemathesis.cli", "--config-file", str(CONFIG), "run",
        f"{live.url}/api/openapi.json", "--checks", "all", "--max-examples", str(MAX_EXAMPLES),
        "--generation-deterministic", "--workers", "1", "--no-color", "--request-timeout", "30",
        *only,
    ]
    user = getattr(live.team, login)
    tokens = [await live.services.accounts.issue_token(user.id, label="schemathesis")
              for _ in range(SPARE_TOKENS + 1)]
    await anyio.Path(workdir / "tokens.txt").write_text("\n".join(tokens))
    env = {**os.environ, "SCHEMATHESIS_HOOKS": str(HOOKS),
           "WAIQIN_TOKENS": str(workdir / "tokens.txt"),
           "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    proc = await asyncio.create_subprocess_exec(
        *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        env=env, cwd=workdir)
    out, _ = await proc.communicate()
    report = out.decode()
    assert proc.returncode == 0, report
    return report


@pytest.mark.asyncio
@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_schemathesis_finds_nothing(live_server: LiveServer, tmp_path: Path) -> None:
    await seed_duplicates(live_server)
    duplicates = live_server.services.duplicates
    assert len(await duplicates.candidates("open")) >= 10
    # The review queue alone first, so that its links are followed while candidates are
    # open: GET /api/duplicates -> merge / dismiss, POST merge and GET /api/merges -> undo.
    await schemathesis(live_server, "admin", tmp_path / "queue",
                       "--include-path-regex", "^/api/(duplicates|merges)")
    admin = live_server.team.admin.id
    merges = await duplicates.merges()
    assert any(m.actor == admin for m in merges), merges
    assert any(m.undone_at is not None for m in merges), merges
    assert await duplicates.candidates("dismissed")
    # Then every operation, as an admin and as a rep (who is refused the review queue).
    for login in ("admin", "rep1"):
        await schemathesis(live_server, login, tmp_path / login)


HUGE = str(2**64)  # past any database integer


@pytest.mark.asyncio
async def test_huge_and_bad_ids_are_400_naming_the_parameter(live_server: LiveServer) -> None:
    async with httpx.AsyncClient(base_url=live_server.url, headers={
            "Authorization": f"Bearer {live_server.tokens['admin']}"}) as http:
        for method, path, field in (
                ("POST", f"/api/duplicates/{HUGE}/merge", "id"),
                ("POST", f"/api/duplicates/{HUGE}/dismiss", "id"),
                ("POST", f"/api/merges/{HUGE}/undo", "id"),
                ("POST", "/api/merges/0/undo", "id"),
                ("POST", "/api/duplicates/x/merge", "id"),
                ("GET", f"/api/records/visit?since={HUGE}", "since"),
                ("GET", f"/api/records/customer?updated_since=-{HUGE}", "updated_since"),
                ("GET", f"/api/customers/index?cursor={HUGE}", "cursor"),
                ("GET", "/api/customers/lookup?name=x&limit=51", "limit")):
            r = await http.request(method, path)
            assert r.status_code == 400, (path, r.text)
            assert r.json()["error"]["field"] == field, path


@pytest.mark.asyncio
async def test_a_method_a_path_does_not_take_is_405_with_every_allowed_one(
    live_server: LiveServer,
) -> None:
    sha = "a" * 64
    async with httpx.AsyncClient(base_url=live_server.url, headers={
            "Authorization": f"Bearer {live_server.tokens['admin']}"}) as http:
        for method, path, allow in (
                ("TRACE", "/api/me", "GET, HEAD"),
                ("PUT", "/api/session", "DELETE, POST"),  # two routes, one per method
                ("DELETE", f"/api/blobs/{sha}", "GET, HEAD, PUT"),
                ("PUT", f"/api/uploads/{'b' * 32}", "DELETE, GET, HEAD, PATCH"),
                ("GET", "/api/duplicates/1/merge", "POST")):
            r = await http.request(method, path)
            assert r.status_code == 405, (method, path, r.text)
            assert r.headers["allow"] == allow, (method, path)
            assert r.json()["error"]["code"] == "method_not_allowed"
        # a malformed id is still named as such, whatever the method
        r = await http.request("DELETE", "/api/blobs/not-a-hash")
        assert r.status_code == 400 and r.json()["error"]["code"] == "bad_id"


def test_every_error_response_is_the_one_error_shape() -> None:
    doc = document(max_blob_size=1024)
    responses = doc["components"]["responses"]
    for path, item in doc["paths"].items():
        for method, op in item.items():
            if method == "parameters":
                continue
            for status, response in op["responses"].items():
                if int(status) >= 400:
                    assert response == {"$ref": f"#/components/responses/E{status}"}, (
                        method, path, status)
    for response in responses.values():
        assert response["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/Error"}
