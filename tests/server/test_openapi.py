"""The OpenAPI document is kept true by schemathesis: every check, every phase (examples,
coverage, fuzzing, stateful links) against a live server with a seeded team, as an admin
and as a rep, must report no failure."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import anyio
import pytest

from schema import samples
from schema.ydoc import write_record
from sync.client import SyncClient
from tests.backoffice.seed import customer_record, seed
from tests.conftest import LiveServer

pytestmark = pytest.mark.asyncio

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
    with anyio.fail_after(30):  # the background finder has looked at every card
        await live.services.duplicates.finder.examined(live.services.log.head)


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
        "--generation-deterministic", "--workers", "1", "--no-color", "--request-timeout", "10",
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
    assert any(m.actor == admin and m.undone_at is None for m in merges), merges
    assert any(m.actor == admin and m.undone_at is not None for m in merges), merges
    assert await duplicates.candidates("dismissed")
    # Then every operation, as an admin and as a rep (who is refused the review queue).
    for login in ("admin", "rep1"):
        await schemathesis(live_server, login, tmp_path / login)
