"""Baseline: the throughput workload against pycrdt-websocket with its SQLite store.

One socket per doc, as its users run it (`WebsocketServer` + `YRoom` + `SQLiteYStore`,
served by uvicorn like waiqin, squashing off). pycrdt-websocket has no acks, so the
server here is instrumented with one addition: after `SQLiteYStore.write` returns for an
update (its transaction committed), the server sends the doc's socket a two-part message
[0x7F][var-uint: updates of this doc written so far]; a write that failed (the store logs
and swallows SQLite errors) is answered [0x7E][...] instead and counted as lost. The
device treats 0x7F as its ack, so both systems run the same windowed workload and "acked"
means "durably in the database" on both. A stock y-websocket client would get no such
signal at all: this is the most favourable reading of the baseline.

    .venv/bin/python -m bench.baseline_pycrdt_websocket -k 8 -m 500
    (the server half: .venv/bin/python -m bench.baseline_pycrdt_websocket serve ...)
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import sqlite3
import sys
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import harness as h

ACK = 0x7F
NACK = 0x7E


# -- the server ---------------------------------------------------------------------------


def serve(port: int, data: Path) -> None:
    import anyio
    import uvicorn
    from pycrdt import write_var_uint
    from pycrdt.store import SQLiteYStore, YDocNotFound
    from pycrdt.websocket import ASGIServer, WebsocketServer, YRoom

    db_path = str(data / "ystore.db")

    class Store(SQLiteYStore):
        squash_after_inactivity_of = None  # squashing off: 0.1.5 loses data when squashing
        squash_history_older_than = None

        def __init__(self, path: str, room: YRoom) -> None:
            super().__init__(path)
            self.db_path = db_path
            self.room = room
            self.written = 0
            self.failed = 0
            self.ack_lock = anyio.Lock()

        async def _init_db(self) -> None:
            await super()._init_db()
            # The store logs and swallows SQLite errors (the update is then not stored);
            # count them so the device hears of the loss instead of waiting forever.
            original = self._db._exception_handler

            def handler(*exc: Any) -> bool:
                self.failed += 1
                return bool(original(*exc)) if original else True

            self._db._exception_handler = handler

        async def write(self, data: bytes) -> None:
            # The store serialises a doc's writes on its own lock anyway; this outer one
            # only ties a failure to the write that had it.
            async with self.ack_lock:
                failed = self.failed
                await super().write(data)
                self.written += 1
                tag = ACK if self.failed == failed else NACK
                msg = bytes([tag]) + write_var_uint(self.written)
            for client in list(self.room.clients):
                try:
                    await client.send(msg)
                except Exception:  # noqa: BLE001 - a gone client needs no ack
                    pass

    class Server(WebsocketServer):
        async def get_room(self, name: str) -> YRoom:
            if name not in self.rooms:
                room = YRoom(ready=False, log=self.log)
                store = Store(name, room)
                room.ystore = store
                self.rooms[name] = room
                await self.start_room(room)
                async with store.start_lock:
                    if not store.started.is_set():
                        assert self._task_group is not None
                        await self._task_group.start(store.start)
                try:
                    await store.apply_updates(room.ydoc)  # load the doc, as users do
                except YDocNotFound:
                    pass
                room.ready = True
            room = self.rooms[name]
            await self.start_room(room)
            return room

    async def main() -> None:
        # Create the database once, before rooms race to create its tables.
        warm = SQLiteYStore("warm-up")
        warm.db_path = db_path
        async with warm:
            await warm.write(b"\x00\x00")
        websocket_server = Server(auto_clean_rooms=False)
        app = ASGIServer(websocket_server)
        config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                ws_ping_interval=20, ws_ping_timeout=20)
        async with websocket_server:
            await uvicorn.Server(config).serve()

    asyncio.run(main())


# -- the devices --------------------------------------------------------------------------


def y_update(update: bytes) -> bytes:
    from pycrdt import write_var_uint

    return bytes([0, 2]) + write_var_uint(len(update)) + update


def read_uint(data: bytes, pos: int) -> int:
    n = shift = 0
    while True:
        b = data[pos]
        pos += 1
        n |= (b & 0x7F) << shift
        if b < 0x80:
            return n
        shift += 7


def device_worker(
    idx: int, url: str, token: str, user_id: str, m: int, docs: int, window: int,
    ready: Any, go: Any, results: Any,
) -> None:
    from bench.throughput import _loop_policy, plan_updates

    _loop_policy()
    from websockets.asyncio.client import connect

    updates = plan_updates(user_id, m, docs)
    raw = sum(len(u) for _, u in updates)
    doc_ids = list(dict.fromkeys(d for d, _ in updates))

    async def run() -> dict[str, Any]:
        socks = {}
        for d in doc_ids:
            ws = await connect(f"{url}/{d}", max_size=None, compression=None,
                               ping_interval=None, open_timeout=60)
            first = await ws.recv()  # the server's SYNC_STEP1
            assert isinstance(first, bytes) and first[:2] == b"\x00\x00", first
            await ws.send(b"\x00\x01\x02\x00\x00")  # SYNC_STEP2: our (empty) doc
            socks[d] = ws
        ready.put(idx)
        await asyncio.get_running_loop().run_in_executor(None, go.wait)
        sent: dict[str, collections.deque[float]] = {d: collections.deque() for d in doc_ids}
        acked = {d: 0 for d in doc_ids}
        lat: list[float] = []
        lost = [0]
        inflight = [0]
        room = asyncio.Event()
        room.set()
        finished = asyncio.Event()
        total = len(updates)

        async def reader(d: str) -> None:
            ws = socks[d]
            async for msg in ws:
                if not isinstance(msg, bytes) or msg[0] not in (ACK, NACK):
                    continue  # echoes of our own updates, awareness
                n = read_uint(msg, 1)
                now = time.perf_counter()
                while acked[d] < n:
                    t = sent[d].popleft()
                    acked[d] += 1
                    inflight[0] -= 1
                    if msg[0] == ACK:
                        lat.append(now - t)
                    else:
                        lost[0] += 1
                room.set()
                if len(lat) + lost[0] >= total:
                    finished.set()

        readers = [asyncio.create_task(reader(d)) for d in doc_ids]
        t0 = time.perf_counter()
        for d, u in updates:
            while inflight[0] >= window:
                room.clear()
                await room.wait()
            sent[d].append(time.perf_counter())
            inflight[0] += 1
            await socks[d].send(y_update(u))
        try:
            await asyncio.wait_for(finished.wait(), timeout=900)
        except TimeoutError:
            pass
        t1 = time.perf_counter()
        for r in readers:
            r.cancel()
        for ws in socks.values():
            await ws.close()
        return {"idx": idx, "t0": t0, "t1": t1, "lat": lat, "n": len(lat),
                "errors": [f"{lost[0]} updates not stored"] if lost[0] else [],
                "n_errors": lost[0], "raw": raw, "cpu": 0.0}

    try:
        c0 = time.process_time()
        res = asyncio.run(run())
        res["cpu"] = time.process_time() - c0
        results.put(res)
    except Exception as e:  # reported by the coordinator
        results.put({"idx": idx, "fail": f"{type(e).__name__}: {e}"})


def run_baseline(*, k: int, m: int, docs: int, window: int,
                 profile: Path | None = None) -> dict[str, Any]:
    from bench.throughput import drive

    with h.temp_dir("waiqin-bench-pycrdt-") as tmp:
        server = h.start_server(
            tmp,
            cmd=[sys.executable, "-m", "bench.baseline_pycrdt_websocket", "serve",
                 "--port", "{port}", "--data", "{data}"],
            ready_path="",
        )
        try:
            cpu0 = [0.0]

            def started() -> None:
                cpu0[0] = server.cpu()
                if profile is not None:
                    server.start_profile(profile)

            tokens = [("", f"user-{i}") for i in range(k)]
            res = drive(f"ws://127.0.0.1:{server.port}", tokens, m=m, docs=docs,
                        window=window, worker=device_worker, on_start=started)
            res["server_cpu_s"] = server.cpu() - cpu0[0]
            server.stop_profile()
            res["peak_rss_mb"] = server.peak_rss_mb()
        finally:
            server.stop()
        db = sqlite3.connect(tmp / "ystore.db")
        stored = db.execute("SELECT count(*) FROM yupdates WHERE path != 'warm-up'").fetchone()[0]
        db.close()
    res["system"] = "pycrdt-websocket 0.16.5 + SQLiteYStore"
    res["note"] = (f"rows in its store afterwards: {stored} of {k * m} sent "
                   f"({k * docs} sockets, one per doc)")
    return res


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd")
    s = sub.add_parser("serve")
    s.add_argument("--port", type=int, required=True)
    s.add_argument("--data", type=Path, required=True)
    ap.add_argument("-k", "--devices", type=int, default=8)
    ap.add_argument("-m", "--updates", type=int, default=500)
    ap.add_argument("--docs", type=int, default=10)
    ap.add_argument("--window", type=int, default=256)
    ap.add_argument("--profile", type=Path)
    args = ap.parse_args(argv)
    if args.cmd == "serve":
        serve(args.port, args.data)
        return 0
    from bench.throughput import print_result

    h.raise_fd_limit()
    res = run_baseline(k=args.devices, m=args.updates, docs=args.docs, window=args.window,
                       profile=args.profile)
    print_result(res)
    if args.profile:
        h.print_hot_spots(args.profile)
    return 0


if __name__ == "__main__":
    sys.exit(main())
