"""Shared fixtures: a database per backend, running services, a live server on a free port.

Every database test runs on SQLite and on PostgreSQL. PostgreSQL tests are skipped when
no server answers, unless WAIQIN_REQUIRE_POSTGRES=1 (set by .ci/run), where they fail.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import os
import shutil
import socket
import uuid
from collections.abc import AsyncIterator, Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
import pytest_asyncio
import uvicorn
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from server.accounts import Accounts, User, set_password_cost
from server.app import create_app
from server.config import Config
from server.db import make_engine, migrate
from server.metadata import all_metadata

T = TypeVar("T")

PG_ADMIN_URL = os.environ.get(
    "WAIQIN_TEST_POSTGRES", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)
REQUIRE_PG = os.environ.get("WAIQIN_REQUIRE_POSTGRES") == "1"

# argon2 at its default cost takes most of a second per hash on a busy 2-core machine, and
# the suite creates hundreds of users; the hashing code path stays the same.
set_password_cost(time_cost=1, memory_cost=1024)


def in_thread(coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
    """Run a coroutine on a fresh loop in another thread: for sync tests whose own thread's
    loop is Playwright's."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result(timeout=timeout)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _pg_answers() -> str | None:
    eng = create_async_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        async with eng.connect() as conn:
            await conn.execute(text("select 1"))
        return None
    except Exception as e:  # noqa: BLE001 - any failure means "not available"
        return f"{type(e).__name__}: {e}"
    finally:
        await eng.dispose()


async def _pg_create(name: str) -> None:
    eng = create_async_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        async with eng.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
            await conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        await eng.dispose()


async def _pg_drop(name: str) -> None:
    eng = create_async_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        async with eng.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        await eng.dispose()


@dataclass
class Backend:
    name: str
    template: str  # migrated once per session

    def url_for(self, tmp: Path) -> str:
        if self.name == "sqlite":
            path = tmp / "waiqin.db"
            shutil.copy(self.template, path)
            return f"sqlite+aiosqlite:///{path}"
        return self.template


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def backend(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Backend]:
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("template") / "template.db"
        migrate(f"sqlite+aiosqlite:///{path}")
        yield Backend("sqlite", str(path))
        return
    problem = asyncio.run(_pg_answers())
    if problem is not None:
        if REQUIRE_PG:
            pytest.fail(f"PostgreSQL is required (WAIQIN_REQUIRE_POSTGRES=1) but: {problem}")
        pytest.skip(f"PostgreSQL not available: {problem}")
    name = f"waiqin_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    asyncio.run(_pg_create(name))
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    migrate(url)
    yield Backend("postgresql", url)
    asyncio.run(_pg_drop(name))


async def _truncate_pg(url: str) -> None:
    eng = create_async_engine(url)
    try:
        async with eng.begin() as conn:
            names = [t.name for md in all_metadata() for t in md.sorted_tables]
            await conn.execute(text("TRUNCATE " + ", ".join(f'"{n}"' for n in names)))
    finally:
        await eng.dispose()


@pytest.fixture
def database_url(backend: Backend, tmp_path: Path) -> str:
    if backend.name == "postgresql":
        asyncio.run(_truncate_pg(backend.template))
    return backend.url_for(tmp_path)


@pytest.fixture
def config(database_url: str, tmp_path: Path) -> Config:
    return Config(
        data_dir=tmp_path,
        database_url=database_url,
        secret_key="test-secret",
        compact_interval=3600,
    )


@pytest_asyncio.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    eng = make_engine(database_url)
    yield eng
    await eng.dispose()


PASSWORD = "correct horse battery"


@dataclass
class Team:
    admin: User
    manager: User
    rep1: User
    rep2: User
    engineer: User
    other_manager: User
    rep3: User  # reports to other_manager: outside the first team


async def make_team(accounts: Accounts) -> Team:
    admin = await accounts.add_user("admin", PASSWORD, role="admin")
    manager = await accounts.add_user("manager", PASSWORD, role="manager")
    rep1 = await accounts.add_user("rep1", PASSWORD, role="rep", manager_login="manager")
    rep2 = await accounts.add_user("rep2", PASSWORD, role="rep", manager_login="manager")
    eng = await accounts.add_user("engineer", PASSWORD, role="engineer", manager_login="manager")
    other = await accounts.add_user("manager_b", PASSWORD, role="manager")
    rep3 = await accounts.add_user("rep3", PASSWORD, role="rep", manager_login="manager_b")
    return Team(admin, manager, rep1, rep2, eng, other, rep3)


@dataclass
class LiveServer:
    url: str  # http://127.0.0.1:port
    app: Any
    team: Team
    tokens: dict[str, str]

    @property
    def ws(self) -> str:
        return self.url.replace("http://", "ws://")

    @property
    def services(self) -> Any:
        return self.app.state.services


@contextlib.asynccontextmanager
async def serve(config: Config) -> AsyncIterator[tuple[str, Any]]:
    """The real app under uvicorn, in this event loop, on a free 127.0.0.1 port."""
    port = free_port()
    app = create_app(config)
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                       lifespan="on", ws_max_size=config.max_frame + 1024)
    )
    task = asyncio.create_task(server.serve())
    async with asyncio.timeout(30):
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}", app
    finally:
        server.should_exit = True
        with contextlib.suppress(Exception):
            async with asyncio.timeout(15):
                await task


@pytest_asyncio.fixture
async def live_server(config: Config) -> AsyncIterator[LiveServer]:
    async with serve(config) as (url, app):
        services = app.state.services
        team = await make_team(services.accounts)
        tokens = {}
        for login in ("admin", "manager", "rep1", "rep2", "engineer", "manager_b", "rep3"):
            tokens[login], _ = await services.accounts.login(login, PASSWORD)
        yield LiveServer(url, app, team, tokens)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Browser tests last: they are the slowest, and Playwright's sync API keeps an event
    loop running in the main thread for as long as its fixtures live (a test after them that
    runs a loop of its own in this thread would fail). A test that uses the browser fixture
    is a browser test whether or not its module says so."""
    for item in items:
        if "browser" in getattr(item, "fixturenames", ()) and not item.get_closest_marker(
            "browser"
        ):
            item.add_marker(pytest.mark.browser)
    items.sort(key=lambda item: item.get_closest_marker("browser") is not None)
