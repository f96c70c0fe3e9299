"""What `waiqin` prints when it starts: which migrations ran, where it serves, on which
database; not Alembic's own plugin chatter."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def waiqin(*args: str, data: Path) -> str:
    env = {**os.environ, "WAIQIN_DATA_DIR": str(data)}
    done = subprocess.run([sys.executable, "-m", "server.cli", *args], env=env,
                          capture_output=True, text=True, timeout=120, check=True)
    return done.stdout + done.stderr


def test_migrate_logs_what_it_applied_and_nothing_of_alembics_internals(tmp_path: Path) -> None:
    first = waiqin("migrate", data=tmp_path)
    assert "migrations applied: 0001" in first
    assert "alembic.runtime" not in first and "setup plugin" not in first
    again = waiqin("migrate", data=tmp_path)
    assert "the database schema is up to date" in again
    assert "migrations applied" not in again and "alembic" not in again.replace(
        "alembic_version", "")
