"""Browser tests: the built PWA in Debian's headless Chromium against a real server process.

Nothing is built here: run `npm --prefix pwa ci && npm --prefix pwa run build` first (the
tests skip, saying so, when server/static/app/index.html is missing). The server is the real
`waiqin serve --demo` on a free port of 127.0.0.1 with its own data directory.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest

from tests.conftest import in_thread

ROOT = Path(__file__).resolve().parents[2]
APP_INDEX = ROOT / "server" / "static" / "app" / "index.html"
SCREENS = ROOT / "tests" / "artifacts" / "screens"
CHROMIUM = os.environ.get("WAIQIN_CHROMIUM", "/usr/bin/chromium")
PASSWORD = "waiqin-demo"
PHONE = {"width": 390, "height": 844}

T = TypeVar("T")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class LiveServer:
    url: str
    data: Path
    log: Path

    def get(self, path: str, token: str | None = None) -> tuple[int, Any]:
        req = urllib.request.Request(self.url + path)
        if token:
            req.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                body = r.read()
                ctype = r.headers.get("content-type", "")
                return r.status, json.loads(body) if "json" in ctype else body
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    def login(self, login: str) -> str:
        body = json.dumps({"login": login, "password": PASSWORD, "device": "pytest"}).encode()
        req = urllib.request.Request(
            self.url + "/api/session", data=body, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(req, timeout=10) as r:
            return str(json.loads(r.read())["token"])

    def head(self) -> int:
        status, body = self.get("/healthz")
        assert status == 200, body
        return int(body["head"])


class ServerProcess:
    """`waiqin serve --demo` as a subprocess; can be stopped and started again on its port."""

    def __init__(self, data: Path, port: int | None = None) -> None:
        self.data = data
        self.port = port or _free_port()
        self.server = LiveServer(f"http://127.0.0.1:{self.port}", data, data / "server.log")
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> LiveServer:
        exe = Path(sys.executable).parent / "waiqin"
        cmd = [
            str(exe),
            "serve",
            "--demo",
            "--data",
            str(self.data),
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--log-level",
            "warning",
        ]
        with open(self.server.log, "ab") as out:
            self.proc = subprocess.Popen(cmd, cwd=self.data, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"server exited {self.proc.returncode}:\n{self.server.log.read_text()}"
                )
            try:
                if self.server.get("/healthz")[0] == 200:
                    return self.server
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"no answer on /healthz:\n{self.server.log.read_text()}")
            time.sleep(0.05)  # polling interval, not a wait for a condition

    def stop(self) -> None:
        if self.proc is None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc = None


def _need_app() -> None:
    if not APP_INDEX.exists():
        pytest.skip(f"the PWA is not built ({APP_INDEX} missing): run `npm --prefix pwa run build`")


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One server for the tests that do not stop it."""
    _need_app()
    proc = ServerProcess(tmp_path_factory.mktemp("browser-server"))
    try:
        yield proc.start()
    finally:
        proc.stop()


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[ServerProcess]:
    """A server of the test's own, started; the test may stop and restart it."""
    _need_app()
    (tmp_path / "server").mkdir()
    proc = ServerProcess(tmp_path / "server")
    proc.start()
    try:
        yield proc
    finally:
        proc.stop()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists() and not shutil.which(CHROMIUM):
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        yield b
        b.close()


@pytest.fixture
def context(browser: Any) -> Iterator[Any]:
    ctx = browser.new_context(
        viewport=PHONE,
        device_scale_factor=2,
        locale="zh-CN",
        is_mobile=True,
        has_touch=True,
        service_workers="allow",
    )
    ctx.set_default_timeout(15_000)
    yield ctx
    ctx.close()


@pytest.fixture
def screenshot() -> Callable[[Any, str], Path]:
    SCREENS.mkdir(parents=True, exist_ok=True)

    def shot(page: Any, name: str) -> Path:
        path = SCREENS / f"{name}.png"
        page.screenshot(path=str(path), full_page=False)
        return path

    return shot


def run_async(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine on its own loop in a thread (Playwright's sync API owns this one)."""
    return in_thread(coro)
