"""Reconnect storm: 1,000 devices (50 reps x 20 devices) with 20 unsent records each
reconnect at once; prints the time until every update is acked and until every device
holds everything in its scope (its rep's 400 records), with the server's peak memory.

    .venv/bin/python -m bench.storm
    .venv/bin/python -m bench.storm --reps 10 --devices 10 --db postgres
    .venv/bin/python -m bench.storm --db postgres --instances 2

On PostgreSQL it also prints the CPU its backends used and, per sync table, the rows read and
scans per device (PostgreSQL's statistics), which show what grows faster than the devices.
With --instances N, N server processes share the devices (device i on instance i % N).

Devices are spread over a few processes (default 4, this is a 2-core machine); each
device is a lean `/sync` client (bench/device.py). Before the storm every device has
connected once, so the server knows it and it has a cursor, as a real device would.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import sys
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import harness as h


def worker(
    idx: int, devices: list[tuple[str, str, str, str]], per_user: int, records: int,
    ready: Any, go: Any, results: Any, timeout: float,
) -> None:
    """devices: (device id, token, user id, /sync url). `per_user`: docs every device must
    end with."""
    from bench.throughput import _loop_policy

    _loop_policy()
    h.raise_fd_limit()
    from bench.device import Device, create_visit, new_id, update_frame

    plans = []
    for device_id, token, user_id, url in devices:
        customer = new_id("customer")
        own, frames = set(), []
        for i in range(records):
            v, upd = create_visit(user_id, customer, i)
            own.add(v.doc_id)
            frames.append(update_frame(v.doc_id, i + 1, upd))
        plans.append((device_id, token, url, own, frames))

    async def register() -> dict[str, int]:
        sem = asyncio.Semaphore(25)
        cursors: dict[str, int] = {}

        async def one(device_id: str, token: str, url: str) -> None:
            async with sem:
                d = Device(url, token, device_id)
                await d.open()
                await d.until_caught_up()
                cursors[device_id] = d.cursor
                await d.close()

        await asyncio.gather(*(one(d, t, u) for d, t, u, _, _ in plans))
        return cursors

    async def storm(cursors: dict[str, int]) -> dict[str, Any]:
        t_go = time.perf_counter()
        out: dict[str, Any] = {"acked_at": [], "done_at": [], "caught_up_at": [],
                               "fail": [], "errors": 0, "recv": 0, "sent": 0,
                               "by_type": {}}

        async def one(
            device_id: str, token: str, url: str, own: set[str], frames: list[bytes]
        ) -> None:
            d = Device(url, token, device_id, cursor=cursors[device_id])
            step = "connect"
            try:
                async with asyncio.timeout(timeout):
                    await d.open(open_timeout=timeout)
                    step = "catch-up"
                    await d.until_caught_up()
                    out["caught_up_at"].append(time.perf_counter() - t_go)
                    step = "acks"
                    await d.send_pipelined(frames, window=len(frames), timeout=timeout)
                    out["acked_at"].append(time.perf_counter() - t_go)
                    step = "scope"
                    d.docs_seen |= own  # once: a union per frame was 400 x 400 per device
                    while len(d.docs_seen) < per_user:
                        await d.recv()
                    out["done_at"].append(time.perf_counter() - t_go)
            except Exception as e:  # noqa: BLE001 - counted and reported as a failure
                why = f"{type(e).__name__}: {e}".split(";")[0][:120]
                out["fail"].append(f"waiting for {step}: {why}")
            finally:
                out["errors"] += len(d.errors)
                out["recv"] += d.stats.bytes_received
                out["sent"] += d.stats.bytes_sent
                for k, v in d.stats.by_type.items():
                    out["by_type"][k] = out["by_type"].get(k, 0) + v
                try:
                    await d.close()
                except Exception:  # noqa: BLE001 - closing a broken socket
                    pass

        c0 = time.process_time()
        await asyncio.gather(*(one(*pl) for pl in plans))
        out["cpu"] = time.process_time() - c0
        return out

    try:
        cursors = asyncio.run(register())
        ready.put(idx)
        go.wait()
        results.put(asyncio.run(storm(cursors)))
    except Exception as e:  # reported by the coordinator
        results.put({"fail": [f"worker {idx}: {type(e).__name__}: {e}"]})
        ready.put(idx)


def run(args: argparse.Namespace) -> dict[str, Any]:
    import secrets

    with h.temp_dir("waiqin-bench-storm-") as tmp, h.database(args.db, tmp) as url:
        reps = [f"storm{i}" for i in range(args.reps)]
        h.create_users(url, tmp, [("stormmgr", "manager", None)]
                       + [(r, "rep", "stormmgr") for r in reps])
        env = {"WAIQIN_SECRET_KEY": secrets.token_urlsafe(48)}
        servers: list[h.Server] = []
        try:
            for i in range(args.instances):
                data = tmp if args.instances == 1 else tmp / f"{tmp.name}-instance{i}"
                servers.append(h.start_server(data, database_url=url, env=env))
            users = servers[0].login(reps)
            devices = [(f"{r}-dev{j}", users[r].token, users[r].user_id,
                        servers[(i * args.devices + j) % len(servers)].ws)
                       for i, r in enumerate(reps) for j in range(args.devices)]
            ctx = mp.get_context("spawn")
            ready, results, go = ctx.Queue(), ctx.Queue(), ctx.Event()
            slices = [devices[i :: args.procs] for i in range(args.procs)]
            procs = [
                ctx.Process(target=worker, args=(i, sl, args.devices * args.records,
                                                 args.records, ready, go, results, args.timeout))
                for i, sl in enumerate(slices)
            ]
            for pr in procs:
                pr.start()
            try:
                for _ in procs:
                    ready.get(timeout=args.timeout)
                stats0: dict[str, dict[str, int]] = {}
                pg0: dict[int, float] = {}
                if url is not None:
                    # PostgreSQL flushes an idle backend's statistics within 10 s: wait, so
                    # that the registration's scans are not counted as the storm's.
                    time.sleep(11)
                    stats0, pg0 = h.pg_table_stats(url), h.pg_backends_cpu(url)
                cpu0, busy0 = sum(s.cpu() for s in servers), h.machine_busy()
                if args.profile:
                    servers[0].start_profile(args.profile)
                t0 = time.perf_counter()
                go.set()
                outs = [results.get(timeout=args.timeout + 60) for _ in procs]
                wall = time.perf_counter() - t0
                servers[0].stop_profile()
                busy1 = h.machine_busy()
                pg1 = h.pg_backends_cpu(url) if url is not None else {}
                res: dict[str, Any] = {
                    "wall": wall,
                    "server_cpu": sum(s.cpu() for s in servers) - cpu0,
                    "machine_busy": busy1[0] - busy0[0],
                    "machine_total": busy1[1] - busy0[1],
                    "peak_rss_mb": [s.peak_rss_mb() for s in servers],
                    # backends alive at the end (pool overflow closed meanwhile is missed)
                    "pg_cpu": sum(c - pg0.get(pid, 0.0) for pid, c in pg1.items()),
                }
            finally:
                for pr in procs:
                    pr.join(timeout=30)
                    if pr.is_alive():
                        pr.terminate()
                        pr.join()
        finally:
            for s in servers:
                s.stop()
        res["log_rows"] = storm_rows(url, tmp)
        if url is not None:
            stats1 = h.pg_table_stats(url)
            res["pg_tables"] = {
                t: {c: v - stats0.get(t, {}).get(c, 0) for c, v in cols.items()}
                for t, cols in stats1.items()
            }
    for key in ("acked_at", "done_at", "caught_up_at", "fail"):
        res[key] = [x for o in outs for x in o.get(key, [])]
    for key in ("errors", "recv", "sent", "cpu"):
        res[key] = sum(o.get(key, 0) for o in outs)
    res["by_type"] = {}
    for o in outs:
        for k, v in o.get("by_type", {}).items():
            res["by_type"][k] = res["by_type"].get(k, 0) + v
    return res


def storm_rows(database_url: str | None, data_dir: Path) -> tuple[int, int]:
    """(rows, distinct (device, clock)) the storm's devices wrote into the change log, read
    straight from the database after the run: every update sent should be there once."""
    rows, distinct = h.counts(
        database_url, data_dir,
        "SELECT count(*), count(DISTINCT device_id || ':' || clock) FROM sync_changes "
        "WHERE device_id LIKE 'storm%-dev%'")
    return rows, distinct


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=50)
    ap.add_argument("--devices", type=int, default=20, help="devices per rep")
    ap.add_argument("--records", type=int, default=20, help="unsent records per device")
    ap.add_argument("--procs", type=int, default=4, help="client processes")
    ap.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    ap.add_argument("--instances", type=int, default=1,
                    help="server processes sharing the devices (PostgreSQL only)")
    ap.add_argument("--timeout", type=float, default=300,
                    help="seconds a device waits, from the storm's start, before giving up")
    ap.add_argument("--profile", type=Path, help="py-spy raw profile of the server")
    args = ap.parse_args(argv)
    if args.instances > 1 and args.db != "postgres":
        ap.error("--instances above 1 needs --db postgres (SQLite serves one instance)")
    limit = h.raise_fd_limit()
    n = args.reps * args.devices
    print(f"storm: {n} devices ({args.reps} reps x {args.devices}) with {args.records} unsent "
          f"records each reconnect at once, over {args.procs} client processes; {args.db}"
          f"{f', {args.instances} server instances' if args.instances > 1 else ''}; "
          f"open-file limit {limit}; load average "
          f"{', '.join(Path('/proc/loadavg').read_text().split()[:3])}")
    res = run(args)
    total = n * args.records
    acked, done = sorted(res["acked_at"]), sorted(res["done_at"])
    cu = sorted(res["caught_up_at"])
    print(f"  all {len(cu)} devices CAUGHT_UP by {cu[-1] if cu else float('nan'):.1f}s "
          f"(p50 {h.percentile(cu, 50):.1f}s)")
    print(f"  every update acked: {len(acked) * args.records}/{total} updates, last at "
          f"{acked[-1] if acked else float('nan'):.1f}s (p50 device {h.percentile(acked, 50):.1f}s)"
          f" = {len(acked) * args.records / acked[-1] if acked else 0:.0f} updates/s")
    rows, distinct = res["log_rows"]
    print(f"  the change log holds {rows} of the {total} updates sent, {distinct} distinct"
          + ("" if rows == distinct == total else "  <-- MISMATCH"))
    print(f"  every device has its scope ({args.devices * args.records} records): "
          f"{len(done)}/{n} devices, last at {done[-1] if done else float('nan'):.1f}s "
          f"(p50 {h.percentile(done, 50):.1f}s)")
    print(f"  delivered to devices: {res['recv'] / 1e6:.1f} MB; sent by devices "
          f"{res['sent'] / 1e6:.1f} MB; ERROR frames: {res['errors']}; received by frame "
          f"type: { {k: f'{v / 1e6:.1f} MB' for k, v in res['by_type'].items()} }")
    rss = " + ".join(f"{r:.0f}" for r in res["peak_rss_mb"])
    print(f"  server: peak RSS {rss} MB, CPU {res['server_cpu']:.1f}s in "
          f"{res['wall']:.1f}s; devices' CPU {res['cpu']:.1f}s; machine busy "
          f"{res['machine_busy']:.1f} of {res['machine_total']:.1f} CPU-s (other processes "
          f"~{max(0.0, res['machine_busy'] - res['server_cpu'] - res['cpu']):.1f})")
    if "pg_tables" in res:
        print(f"  PostgreSQL: its backends (those alive at the end) used {res['pg_cpu']:.1f} "
              f"CPU-s; rows read per device during the storm (sequential + index scans):")
        for table, st in res["pg_tables"].items():
            read = st["seq_tup_read"] + st["idx_tup_fetch"]
            if read or st["seq_scan"] or st["idx_scan"] or st["n_tup_ins"] or st["n_tup_upd"]:
                scans = st["seq_scan"] + st["idx_scan"]
                print(f"    {table:<20} {read / n:9.0f} rows read/device ({st['seq_scan']} seq "
                      f"+ {st['idx_scan']} index scans = {scans / n:.1f}/device); "
                      f"{st['n_tup_ins']} inserted, {st['n_tup_upd']} updated")
    if res["fail"]:
        from collections import Counter

        print(f"  FAILED devices: {len(res['fail'])}:")
        for why, count in Counter(res["fail"]).most_common(6):
            print(f"    {count:5d} x {why}")
    if args.profile:
        h.print_hot_spots(args.profile)
    return 0  # failed devices are a finding, printed above, not a failure of the bench


if __name__ == "__main__":
    sys.exit(main())
