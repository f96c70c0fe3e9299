"""A command whose server edits are still running when its lifespan ends exits, instead of
hanging: asyncio.run cancelled what was left, and a task cancelled while aiosqlite closed its
connection never ended (seen once in CI in `waiqin import`; one run in three hung here)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.server.test_import import GOOD, xlsx

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """
import sys
import server.app
from server.cli import main

db = ["--database", sys.argv[1], "--data", sys.argv[2]]
server.app.SETTLE_ON_EXIT = 0.0  # the lifespan leaves every edit it finds running
for _ in range(15):  # refused (no --as): starts the services and stops them at once
    assert main(["import", sys.argv[3], *db]) == 2
print("exited")
"""


def test_an_import_command_with_edits_left_running_exits(tmp_path: Path) -> None:
    from server.cli import main

    url = f"sqlite+aiosqlite:///{tmp_path}/w.db"
    assert main(["demo", "--database", url, "--data", str(tmp_path)]) == 0
    path = tmp_path / "customers.xlsx"
    path.write_bytes(xlsx(GOOD))
    # its own process, so that a hang fails the test (after the timeout) instead of the run
    done = subprocess.run([sys.executable, "-c", SCRIPT, url, str(tmp_path), str(path)],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and "exited" in done.stdout, done.stderr[-2000:]
