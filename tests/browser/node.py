"""Run a TypeScript script of the PWA's under Node: bundled with the PWA's own esbuild, fed
JSON on stdin, answering JSON on stdout. For unit-level checks of PWA modules."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

PWA = Path(__file__).resolve().parents[2] / "pwa"


def run_ts(tmp_path: Path, script: str, payload: Any, *, env: dict[str, str] | None = None) -> Any:
    """Bundle `script` (it imports PWA modules as `./src/…`) and run it with `payload`;
    skips the test when Node or the PWA's npm packages are missing."""
    node = shutil.which("node")
    esbuild = PWA / "node_modules" / ".bin" / "esbuild"
    if node is None or not esbuild.exists():
        pytest.skip("needs node and `npm --prefix pwa ci`")
    (tmp_path / "src").symlink_to(PWA / "src")
    (tmp_path / "node_modules").symlink_to(PWA / "node_modules")
    (tmp_path / "main.ts").write_text(script)
    subprocess.run(
        [
            str(esbuild),
            "main.ts",
            "--bundle",
            "--platform=node",
            "--outfile=out.cjs",
            "--log-level=warning",
        ],
        cwd=tmp_path,
        check=True,
    )
    run = subprocess.run(
        [node, "out.cjs"],
        cwd=tmp_path,
        check=True,
        capture_output=True,
        input=json.dumps(payload),
        text=True,
        env=env,
    )
    return json.loads(run.stdout)
