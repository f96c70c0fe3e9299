"""What every benchmark needs: a server subprocess on a free port with its own temp data
dir (SQLite or a fresh PostgreSQL database), users and tokens, the server's memory and
CPU figures, and an optional py-spy profile of it. Everything started here is stopped here.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import resource
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent  # the venv's bin, where `waiqin` and `py-spy` live
PG_BASE = "postgresql://postgres@127.0.0.1:5432"
PASSWORD = "bench-password-1"


def raise_fd_limit() -> int:
    """Lift the soft open-file limit to the hard one (children inherit it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def machine_busy() -> tuple[float, float]:
    """(busy CPU seconds, total CPU seconds) of the whole machine since boot, all cores."""
    parts = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    ticks = os.sysconf("SC_CLK_TCK")
    vals = [int(x) for x in parts[:8]]
    idle = vals[3] + vals[4]
    return (sum(vals) - idle) / ticks, sum(vals) / ticks


def status_kb(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0


# -- databases ----------------------------------------------------------------------------


@contextlib.contextmanager
def database(kind: str, data_dir: Path) -> Iterator[str | None]:
    """Yield the `--database` URL for `kind` (None: the SQLite default under data_dir).

    For PostgreSQL a fresh database is created and dropped afterwards.
    """
    if kind == "sqlite":
        yield None
        return
    if kind != "postgres":
        raise ValueError(f"unknown database kind {kind!r}")
    name = f"waiqin_bench_{os.getpid()}_{secrets.token_hex(3)}"
    subprocess.run(["createdb", "-h", "127.0.0.1", "-U", "postgres", name], check=True)
    try:
        yield f"{PG_BASE}/{name}"
    finally:
        subprocess.run(
            ["dropdb", "-h", "127.0.0.1", "-U", "postgres", "--force", "--if-exists", name],
            check=False,
        )


def psql(database_url: str, sql: str) -> list[list[str]]:
    """Rows of one query through `psql` (fields split on |)."""
    out = subprocess.run(["psql", database_url, "-tAF|", "-c", sql], check=True,
                         capture_output=True, text=True).stdout
    return [line.split("|") for line in out.splitlines() if line]


def counts(database_url: str | None, data_dir: Path, sql: str) -> list[int]:
    """The one row of integers `sql` gives, read straight from the bench server's database
    after a run: its SQLite file in `data_dir`, or PostgreSQL at `database_url`."""
    if database_url is not None:
        return [int(v) for v in psql(database_url, sql)[0]]
    import sqlite3

    db = sqlite3.connect(data_dir / "waiqin.db")
    try:
        return [int(v) for v in db.execute(sql).fetchone()]
    finally:
        db.close()


def pg_backends_cpu(database_url: str) -> dict[int, float]:
    """CPU seconds so far of every PostgreSQL backend connected to this database (the
    server's pool and writer), by pid; PostgreSQL runs on this machine."""
    rows = psql(database_url, "SELECT pid FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()")
    out = {}
    for (pid,) in rows:
        with contextlib.suppress(OSError, IndexError, ValueError):
            out[int(pid)] = cpu_seconds(int(pid))
    return out


def pg_table_stats(database_url: str) -> dict[str, dict[str, int]]:
    """Per `sync_*` table: scans and rows read by sequential and index scans, rows inserted
    and updated (PostgreSQL's cumulative statistics; read once the server has stopped, so
    its backends have flushed them)."""
    cols = ["seq_scan", "seq_tup_read", "idx_scan", "idx_tup_fetch", "n_tup_ins", "n_tup_upd"]
    rows = psql(database_url, f"SELECT relname, {', '.join(cols)} FROM pg_stat_user_tables "
                "WHERE relname LIKE 'sync%' ORDER BY relname")
    return {r[0]: {c: int(v or 0) for c, v in zip(cols, r[1:], strict=True)} for r in rows}


def sqlalchemy_url(database_url: str | None, data_dir: Path) -> str:
    from server.config import Config

    cfg = Config(data_dir=data_dir, database_url=database_url or "")
    return cfg.database


@dataclass
class BenchUser:
    login: str
    user_id: str
    token: str


async def _create_users(url: str, specs: Sequence[tuple[str, str, str | None]]) -> list[str]:
    from server.accounts import Accounts
    from server.db import make_engine

    engine = make_engine(url)
    try:
        accounts = Accounts(engine)
        ids = []
        for login, role, manager in specs:
            user = await accounts.add_user(login, PASSWORD, role=role, manager_login=manager)
            ids.append(user.id)
        return ids
    finally:
        await engine.dispose()


def create_users(
    database_url: str | None, data_dir: Path, specs: Sequence[tuple[str, str, str | None]]
) -> None:
    """Create users (login, role, manager login) in the server's database, before it runs."""
    from server.db import migrate

    url = sqlalchemy_url(database_url, data_dir)
    migrate(url)
    asyncio.run(_create_users(url, specs))


# -- the server ---------------------------------------------------------------------------


@dataclass
class Server:
    proc: subprocess.Popen[bytes]
    port: int
    data_dir: Path
    log_path: Path
    profile: subprocess.Popen[bytes] | None = None
    profile_path: Path | None = None
    _log_file: object = None
    users: dict[str, BenchUser] = field(default_factory=dict)

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws(self) -> str:
        return f"ws://127.0.0.1:{self.port}/sync"

    def peak_rss_mb(self) -> float:
        return status_kb(self.pid, "VmHWM") / 1024

    def rss_mb(self) -> float:
        return status_kb(self.pid, "VmRSS") / 1024

    def cpu(self) -> float:
        return cpu_seconds(self.pid)

    def login(self, logins: Sequence[str], *, timeout: float = 120) -> dict[str, BenchUser]:
        """POST /api/session for each login; keeps and returns the tokens."""
        with httpx.Client(base_url=self.http, timeout=timeout) as client:
            for login in logins:
                r = client.post("/api/session", json={"login": login, "password": PASSWORD})
                r.raise_for_status()
                body = r.json()
                self.users[login] = BenchUser(login, body["user"]["id"], body["token"])
        return self.users

    def start_profile(self, path: Path, *, rate: int = 100) -> None:
        """py-spy (raw collapsed stacks) on the server until `stop_profile`."""
        self.profile_path = path
        self.profile = subprocess.Popen(
            [str(BIN / "py-spy"), "record", "--pid", str(self.pid), "--format", "raw",
             "--rate", str(rate), "--nonblocking", "-o", str(path)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(0.5)

    def stop_profile(self) -> None:
        if self.profile is None:
            return
        self.profile.send_signal(signal.SIGINT)
        try:
            self.profile.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.profile.kill()
            self.profile.wait()
        self.profile = None

    def stop(self) -> None:
        self.stop_profile()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        f = self._log_file
        if f is not None:
            f.close()  # type: ignore[attr-defined]
            self._log_file = None
            # Keep the server's log: the data dir is temporary.
            keep = Path(tempfile.gettempdir()) / "waiqin-bench-logs"
            keep.mkdir(exist_ok=True)
            shutil.copy(self.log_path, keep / f"{self.data_dir.name}.log")


def start_server(
    data_dir: Path,
    *,
    database_url: str | None = None,
    cmd: Sequence[str] | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 60,
    ready_path: str = "/healthz",
) -> Server:
    """Start `waiqin serve` (or `cmd`, given {port} and {data}) and wait until it answers."""
    port = free_port()
    data_dir.mkdir(parents=True, exist_ok=True)
    if cmd is None:
        argv = [str(BIN / "waiqin"), "serve", "--data", str(data_dir), "--port", str(port),
                "--log-level", "warning"]
        if database_url:
            argv += ["--database", database_url]
    else:
        argv = [a.format(port=port, data=data_dir) for a in cmd]
    log_path = data_dir / "server.log"
    log_file = open(log_path, "wb")  # noqa: SIM115 - closed in Server.stop
    proc = subprocess.Popen(
        argv, cwd=REPO, stdout=log_file, stderr=subprocess.STDOUT,
        env={**os.environ, **(env or {})},
    )
    server = Server(proc, port, data_dir, log_path, _log_file=log_file)
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            server.stop()
            raise RuntimeError(f"server exited with {proc.returncode}:\n{log_path.read_text()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                pass
            if ready_path:
                r = httpx.get(f"http://127.0.0.1:{port}{ready_path}", timeout=5)
                if r.status_code < 500:
                    break
            else:
                break
        except (OSError, httpx.HTTPError):
            pass
        if time.monotonic() > deadline:
            server.stop()
            raise RuntimeError(f"server did not answer in {timeout}s:\n{log_path.read_text()}")
        time.sleep(0.1)
    return server


@contextlib.contextmanager
def temp_dir(prefix: str) -> Iterator[Path]:
    d = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


# -- figures ------------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    k = min(len(s) - 1, max(0, round(q / 100 * (len(s) - 1))))
    return s[k]


def hot_spots(raw_path: Path, *, top: int = 25) -> list[tuple[str, float, float]]:
    """From py-spy's raw collapsed stacks: (function, inclusive share, self share), by
    inclusive share. py-spy leaves idle threads out unless asked, so shares are of the
    time the server was on a CPU."""
    incl: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for line in raw_path.read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        if not stack or not n.isdigit():
            continue
        count = int(n)
        frames = stack.split(";")
        total += count
        names = []
        for fr in frames:
            # "function (path/file.py:line)" -> "function (file.py)"
            fn, _, where = fr.partition(" (")
            where = where.rstrip(")").rsplit(":", 1)[0]
            where = where.split("site-packages/")[-1].replace(str(REPO) + "/", "")
            names.append(f"{fn} ({where})")
        leaf = names[-1] if names else "?"
        for name in set(names):
            incl[name] += count
        own[leaf] += count
    if not total:
        return []
    rows = [(name, incl[name] / total, own[name] / total) for name, _ in incl.most_common(top)]
    return rows


def print_hot_spots(raw_path: Path, *, top: int = 20) -> None:
    """The project's own functions by inclusive share, then every function by self share."""
    rows = hot_spots(raw_path, top=100_000)
    if not rows:
        print(f"  (no samples in {raw_path})")
        return
    ours = [r for r in rows if r[0].split(" (")[1].startswith(("sync/", "server/", "schema/"))]
    ours = [r for r in ours if not r[0].endswith(("(server/cli.py)", "(server/ws.py)"))]
    print(f"  py-spy profile of the server ({raw_path}); share of on-CPU samples")
    print(f"  {'incl':>6} {'self':>6}  function (file)")
    for name, inc, self_ in ours[:top]:
        print(f"  {inc:6.1%} {self_:6.1%}  {name}")
    print("  top self time, any code:")
    for name, _, self_ in sorted(rows, key=lambda r: r[2], reverse=True)[: top // 2]:
        print(f"         {self_:6.1%}  {name}")
