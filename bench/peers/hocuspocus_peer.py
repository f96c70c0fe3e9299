"""Hocuspocus (npm `@hocuspocus/server` + `@hocuspocus/extension-sqlite`, pinned by
`bench/peers/hocuspocus/package-lock.json`) under the throughput workload.

The server is `bench/peers/hocuspocus/server.mjs` under Node, installed with `npm ci` in that
directory when its `node_modules` is missing. The devices are the throughput bench's: K
processes, each with one websocket (Hocuspocus multiplexes docs over one socket, as its
provider does), sending the same precomputed pycrdt updates (`bench.throughput.plan_updates`:
10 new visits, then one-field edits round-robin over them), up to `window` unacked, in
Hocuspocus's own framing ([doc name][message type][y-protocols sync message]).

What counts as acked:

- `debounce 0` ("stored"): the server stores every change (its SQLite extension writes the
  doc's whole state per update). `server.mjs --ack-stored` sends a doc's connection
  `stored <n>` after the SQLite extension's store returns with the state of the doc's first
  n updates in it; an update counts when such an n covers it: durably in the database, as
  waiqin's ACK.
- its default debounce (2 s, at most 10 s) ("applied"): Hocuspocus's own SyncStatus reply,
  sent once the update is applied to the doc in memory (what `@hocuspocus/provider` counts as
  synced). The doc is written to SQLite up to 2-10 s later: nothing is durable when this ack
  arrives.

After each run the store is read back and every doc's stored state is compared with the
device's: "docs stored complete" (for the default debounce, stored by the shutdown flush).

    .venv/bin/python -m bench.peers.hocuspocus_peer -k 8 -m 300 [--debounce 0|2000]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent.parent))

from bench import harness as h
from sync.protocol import Reader, write_bytes

HERE = Path(__file__).resolve().parent / "hocuspocus"
DEFAULT_DEBOUNCE = 2000  # ms, Hocuspocus's default (maxDebounce 10,000)

# Hocuspocus message types (@hocuspocus/server types.ts) and y-protocols sync subtypes.
SYNC, AUTH, STATELESS, SYNC_STATUS = 0, 2, 5, 8
STEP1, STEP2, UPDATE = 0, 1, 2
AUTHENTICATED = 2


def installed(here: Path = HERE) -> bool:
    """Whether node_modules holds every package at the version the lockfile pins, and
    better-sqlite3's native module is built."""
    import json

    lock = json.loads((here / "package-lock.json").read_text())
    for path, entry in lock["packages"].items():
        if not path:
            continue
        pkg = here / path / "package.json"
        if not pkg.exists() or json.loads(pkg.read_text()).get("version") != entry["version"]:
            return False
    native = here / "node_modules" / "better-sqlite3" / "build" / "Release" / "better_sqlite3.node"
    return native.exists()


def ensure_installed() -> Path:
    """`npm ci` in bench/peers/hocuspocus unless its packages are there as pinned."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        raise RuntimeError("the Hocuspocus peer needs node and npm on PATH")
    if not installed():
        print(f"  (installing the Hocuspocus peer: npm ci in {HERE})", flush=True)
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"],
                       cwd=HERE, check=True)
        if not installed():
            raise RuntimeError(f"npm ci in {HERE} did not install the pinned packages")
    return HERE


def version() -> str:
    import json

    pkg = HERE / "node_modules" / "@hocuspocus" / "server" / "package.json"
    return str(json.loads(pkg.read_text())["version"])


# -- Hocuspocus messages (lib0, from sync.protocol) ------------------------------------


def auth_message(doc: str, token: str) -> bytes:
    return write_bytes(doc.encode()) + bytes([AUTH, 0]) + write_bytes(token.encode())


def sync_step1(doc: str) -> bytes:
    return write_bytes(doc.encode()) + bytes([SYNC, STEP1]) + write_bytes(b"\x00")  # empty SV


def update_message(doc: str, update: bytes) -> bytes:
    return write_bytes(doc.encode()) + bytes([SYNC, UPDATE]) + write_bytes(update)


# -- the devices --------------------------------------------------------------------------


def expected_states(updates: list[tuple[str, bytes]]) -> dict[str, bytes]:
    """Each doc's state vector once all its updates are applied: what the store must hold."""
    from pycrdt import Doc

    docs: dict[str, Doc[Any]] = {}
    for d, u in updates:
        docs.setdefault(d, Doc()).apply_update(u)
    return {d: doc.get_state() for d, doc in docs.items()}


def _device(
    stored: bool, idx: int, url: str, m: int, docs: int, window: int,
    ready: Any, go: Any, results: Any,
) -> None:
    from bench.throughput import _loop_policy, plan_updates

    _loop_policy()
    from websockets.asyncio.client import connect

    updates = plan_updates(f"user-{idx}", m, docs)
    raw = sum(len(u) for _, u in updates)
    doc_ids = list(dict.fromkeys(d for d, _ in updates))
    expect = expected_states(updates)
    messages = [(d, update_message(d, u)) for d, u in updates]

    async def run() -> dict[str, Any]:
        ws = await connect(url, max_size=None, compression=None, ping_interval=None,
                           open_timeout=60)
        pending_auth, pending_sync = set(doc_ids), set(doc_ids)
        for d in doc_ids:
            await ws.send(auth_message(d, "bench"))
            await ws.send(sync_step1(d))
        while pending_auth or pending_sync:
            msg = await ws.recv()
            assert isinstance(msg, bytes)
            r = Reader(msg)
            doc, kind = r.str(), r.uint()
            if kind == AUTH:
                if r.uint() != AUTHENTICATED:
                    raise RuntimeError(f"{doc}: not authenticated ({msg[r.pos:]!r})")
                pending_auth.discard(doc)
            elif kind in (SYNC, 4) and msg[r.pos] == STEP2:  # 4: SyncReply
                pending_sync.discard(doc)
        ready.put(idx)
        await asyncio.get_running_loop().run_in_executor(None, go.wait)

        sent: dict[str, collections.deque[float]] = {d: collections.deque() for d in doc_ids}
        acked = dict.fromkeys(doc_ids, 0)
        lat: list[float] = []
        inflight = [0]
        room, finished = asyncio.Event(), asyncio.Event()
        room.set()
        total = len(messages)

        def ack(doc: str, upto: int) -> None:
            now = time.perf_counter()
            while acked[doc] < upto and sent[doc]:
                lat.append(now - sent[doc].popleft())
                acked[doc] += 1
                inflight[0] -= 1
            room.set()
            if len(lat) >= total:
                finished.set()

        async def reader() -> None:
            async for msg in ws:
                if not isinstance(msg, bytes):
                    continue
                r = Reader(msg)
                doc, kind = r.str(), r.uint()
                if stored and kind == STATELESS:
                    text = r.str()
                    if text.startswith("stored "):
                        ack(doc, int(text.split()[1]))
                elif not stored and kind == SYNC_STATUS:
                    if not r.uint():
                        raise RuntimeError(f"{doc}: update refused (SyncStatus false)")
                    ack(doc, acked[doc] + 1)

        read_task = asyncio.create_task(reader())
        t0 = time.perf_counter()
        for d, message in messages:
            while inflight[0] >= window:
                room.clear()
                await room.wait()
            sent[d].append(time.perf_counter())
            inflight[0] += 1
            await ws.send(message)
        waiter = asyncio.create_task(finished.wait())
        await asyncio.wait([waiter, read_task], timeout=900,
                           return_when=asyncio.FIRST_COMPLETED)
        t1 = time.perf_counter()
        waiter.cancel()
        if read_task.done() and read_task.exception() is not None:
            raise read_task.exception()  # type: ignore[misc]
        read_task.cancel()
        await ws.close()
        missing = total - len(lat)
        return {"idx": idx, "t0": t0, "t1": t1, "lat": lat, "n": len(lat),
                "errors": [f"{missing} updates never acked"] if missing else [],
                "n_errors": missing, "raw": raw, "cpu": 0.0, "extra": {"expect": expect}}

    try:
        c0 = time.process_time()
        res = asyncio.run(run())
        res["cpu"] = time.process_time() - c0
        results.put(res)
    except Exception as e:  # reported by the coordinator
        results.put({"idx": idx, "fail": f"{type(e).__name__}: {e}"})


def device_stored(idx: int, url: str, token: str, user_id: str, m: int, docs: int,
                  window: int, ready: Any, go: Any, results: Any) -> None:
    """A device whose updates count once stored (`server.mjs --ack-stored`, debounce 0)."""
    _device(True, idx, url, m, docs, window, ready, go, results)


def device_applied(idx: int, url: str, token: str, user_id: str, m: int, docs: int,
                   window: int, ready: Any, go: Any, results: Any) -> None:
    """A device whose updates count at Hocuspocus's SyncStatus (applied in memory)."""
    _device(False, idx, url, m, docs, window, ready, go, results)


def stored_complete(db_path: Path, expect: dict[str, bytes]) -> int:
    """How many docs the store holds with every update the device sent."""
    from pycrdt import Doc

    if not db_path.exists():
        return 0
    db = sqlite3.connect(db_path)
    try:
        rows = dict(db.execute("SELECT name, data FROM documents").fetchall())
    finally:
        db.close()
    ok = 0
    for doc_id, state in expect.items():
        if doc_id in rows:
            doc: Doc[Any] = Doc()
            doc.apply_update(rows[doc_id])
            ok += doc.get_state() == state
    return ok


def run_hocuspocus(*, debounce: int, k: int, m: int, docs: int, window: int,
                   profile: Path | None = None) -> dict[str, Any]:
    from bench.throughput import drive

    here = ensure_installed()
    stored = debounce == 0
    with h.temp_dir("waiqin-bench-hocuspocus-") as tmp:
        cmd = ["node", str(here / "server.mjs"), "--port", "{port}", "--data", "{data}",
               "--debounce", str(debounce)] + (["--ack-stored"] if stored else [])
        server = h.start_server(tmp, cmd=cmd, ready_path="")
        try:
            cpu0 = [0.0]

            def started() -> None:
                cpu0[0] = server.cpu()

            tokens = [("", f"user-{i}") for i in range(k)]
            res = drive(f"ws://127.0.0.1:{server.port}", tokens, m=m, docs=docs, window=window,
                        worker=device_stored if stored else device_applied, on_start=started)
            res["server_cpu_s"] = server.cpu() - cpu0[0]
            res["peak_rss_mb"] = server.peak_rss_mb()
        finally:
            server.stop()  # SIGINT: Hocuspocus stores what is still debounced, then exits
        expect: dict[str, bytes] = {}
        for e in res.pop("extra", []):
            expect.update(e.get("expect", {}))
        complete = stored_complete(tmp / "hocuspocus.db", expect)
    what = "stored (debounce 0)" if stored else f"applied (debounce {debounce} ms)"
    res["system"] = f"hocuspocus {version()} sqlite, {what}"
    res["note"] = (f"docs stored complete afterwards: {complete} of {len(expect)}"
                   + ("" if stored else " (written by the debounce and the shutdown flush, "
                      "after the acks)") + f"; {k} sockets, {docs} docs each")
    return res


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-k", "--devices", type=int, default=8)
    ap.add_argument("-m", "--updates", type=int, default=300)
    ap.add_argument("--docs", type=int, default=10)
    ap.add_argument("--window", type=int, default=256)
    ap.add_argument("--debounce", type=int, action="append",
                    help=f"ms; repeatable (default: 0 and {DEFAULT_DEBOUNCE})")
    args = ap.parse_args(argv)
    from bench.throughput import print_result

    h.raise_fd_limit()
    for debounce in args.debounce or [0, DEFAULT_DEBOUNCE]:
        print_result(run_hocuspocus(debounce=debounce, k=args.devices, m=args.updates,
                                    docs=args.docs, window=args.window))
    return 0


if __name__ == "__main__":
    sys.exit(main())
