"""Throughput: K devices (separate processes) each send M small record updates, pipelined
as fast as acks allow; prints acked updates/s, p50/p99 ack latency and the server's peak
memory, on SQLite and/or PostgreSQL (with --instances N, N server processes sharing the
devices), and with --compare the same workload, in the same run, against pycrdt-websocket
with its SQLite store (bench/baseline_pycrdt_websocket.py) and Hocuspocus with its SQLite
extension at debounce 0 (acked when stored) and at its default 2 s (acked when applied;
bench/peers/hocuspocus_peer.py), then the ratios against each.

    .venv/bin/python -m bench.throughput --db both --compare
    .venv/bin/python -m bench.throughput --db postgres --instances 2
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


def _loop_policy() -> None:
    try:
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    except ImportError:
        pass


def plan_updates(user_id: str, m: int, docs: int) -> list[tuple[str, bytes]]:
    """M updates of one device: D new visits, then one-field edits round-robin over them."""
    from bench.device import create_visit, new_id, set_place

    customer = new_id("customer")
    visits = []
    out = []
    for i in range(m):
        if i < docs:
            v, upd = create_visit(user_id, customer, i)
            visits.append(v)
        else:
            v = visits[i % len(visits)]
            upd = set_place(v, i)
        out.append((v.doc_id, upd))
    return out


def device_worker(
    idx: int, url: str, token: str, user_id: str, m: int, docs: int, window: int,
    ready: Any, go: Any, results: Any,
) -> None:
    _loop_policy()
    from bench.device import Device, update_frame

    updates = plan_updates(user_id, m, docs)
    frames = [update_frame(d, i + 1, u) for i, (d, u) in enumerate(updates)]
    raw = sum(len(u) for _, u in updates)

    async def run() -> dict[str, Any]:
        dev = Device(url, token, f"bench-{idx}")
        await dev.open()
        await dev.until_caught_up()
        ready.put(idx)
        await asyncio.get_running_loop().run_in_executor(None, go.wait)
        c0 = time.process_time()
        t0, t1, lat = await dev.send_pipelined(frames, window=window)
        cpu = time.process_time() - c0
        errors = [f"{e.code}: {e.message}" for e in dev.errors[:3]]
        await dev.close()
        return {"idx": idx, "t0": t0, "t1": t1, "lat": lat, "n": len(lat),
                "errors": errors, "n_errors": len(dev.errors), "raw": raw, "cpu": cpu}

    try:
        results.put(asyncio.run(run()))
    except Exception as e:  # reported by the coordinator, which then fails loudly
        results.put({"idx": idx, "fail": f"{type(e).__name__}: {e}"})


def drive(
    url: str | list[str], tokens: list[tuple[str, str]], *, m: int, docs: int, window: int,
    worker: Any = device_worker, timeout: float = 900, on_start: Any = None,
) -> dict[str, Any]:
    """Run one worker process per (token, user id); returns the merged figures. With a list
    of urls (several server instances) device i connects to urls[i % len(urls)]."""
    urls = [url] if isinstance(url, str) else url
    ctx = mp.get_context("spawn")
    ready, results, go = ctx.Queue(), ctx.Queue(), ctx.Event()
    procs = [
        ctx.Process(target=worker, args=(i, urls[i % len(urls)], tok, uid, m, docs, window,
                                         ready, go, results))
        for i, (tok, uid) in enumerate(tokens)
    ]
    for pr in procs:
        pr.start()
    try:
        deadline = time.monotonic() + timeout
        got_ready = 0
        while got_ready < len(procs):
            try:
                ready.get(timeout=5)
                got_ready += 1
            except Exception:
                if any(pr.exitcode not in (None, 0) for pr in procs) or time.monotonic() > deadline:
                    break
                if not results.empty():
                    break
        if got_ready < len(procs):
            fails = []
            while not results.empty():
                fails.append(results.get())
            raise RuntimeError(f"only {got_ready}/{len(procs)} devices got ready: {fails}")
        if on_start is not None:
            on_start()
        busy0, all0 = h.machine_busy()
        go.set()
        out: list[dict[str, Any]] = []
        while len(out) < len(procs):
            out.append(results.get(timeout=max(1.0, deadline - time.monotonic())))
        busy1, all1 = h.machine_busy()
    finally:
        for pr in procs:
            pr.join(timeout=10)
            if pr.is_alive():
                pr.terminate()
                pr.join()
    fails = [r for r in out if "fail" in r]
    if fails:
        raise RuntimeError(f"device workers failed: {fails}")
    lat = [x for r in out for x in r["lat"]]
    t0 = min(r["t0"] for r in out)
    t1 = max(r["t1"] for r in out)
    n = sum(r["n"] for r in out)
    return {
        "acked": n,
        "seconds": t1 - t0,
        "rate": n / (t1 - t0),
        "p50_ms": h.percentile(lat, 50) * 1000,
        "p99_ms": h.percentile(lat, 99) * 1000,
        "max_ms": max(lat) * 1000 if lat else float("nan"),
        "errors": sum(r["n_errors"] for r in out),
        "error_samples": [e for r in out for e in r["errors"]][:3],
        "raw_bytes": sum(r["raw"] for r in out),
        "client_cpu_s": sum(r["cpu"] for r in out),
        "machine_busy_s": busy1 - busy0,
        "machine_total_s": all1 - all0,
        "extra": [r.get("extra", {}) for r in out],  # whatever else a worker returned
    }


def run_waiqin(db: str, *, k: int, m: int, docs: int, window: int, instances: int = 1,
               profile: Path | None = None) -> dict[str, Any]:
    """K devices against `instances` server processes on one database (PostgreSQL for more
    than one: they share the secret and fan out to each other over LISTEN/NOTIFY); device i
    connects to instance i % instances."""
    import secrets

    if instances > 1 and db != "postgres":
        raise ValueError("several server instances need --db postgres (SQLite serves one)")
    with h.temp_dir("waiqin-bench-tp-") as tmp, h.database(db, tmp) as url:
        logins = [f"tp{i}" for i in range(k)]
        h.create_users(url, tmp, [("tpmanager", "manager", None)]
                       + [(lg, "rep", "tpmanager") for lg in logins])
        env = {"WAIQIN_SECRET_KEY": secrets.token_urlsafe(48)}
        servers: list[h.Server] = []
        try:
            for i in range(instances):
                data = tmp if instances == 1 else tmp / f"{tmp.name}-instance{i}"
                servers.append(h.start_server(data, database_url=url, env=env))
            users = servers[0].login(logins)
            tokens = [(users[lg].token, users[lg].user_id) for lg in logins]
            cpu0 = [0.0]

            def cpu() -> float:
                return sum(s.cpu() for s in servers)

            def started() -> None:
                cpu0[0] = cpu()
                if profile is not None:
                    servers[0].start_profile(profile)

            res = drive([s.ws for s in servers], tokens, m=m, docs=docs, window=window,
                        on_start=started)
            res["server_cpu_s"] = cpu() - cpu0[0]
            servers[0].stop_profile()
            peaks = [s.peak_rss_mb() for s in servers]
            res["peak_rss_mb"] = sum(peaks)
        finally:
            for s in servers:
                s.stop()
        rows = count_log_rows(url, tmp)
    res["system"] = f"waiqin /sync, {db}" + (f", {instances} instances" if instances > 1 else "")
    res["note"] = f"rows in its change log afterwards: {rows} of {k * m} sent"
    if instances > 1:
        res["note"] += ("; peak RSS is the sum of the instances' ("
                        + " + ".join(f"{p:.0f}" for p in peaks) + " MB)")
    return res


def count_log_rows(database_url: str | None, data_dir: Path) -> int:
    """Rows in the server's change log, read straight from the database after the run."""
    return h.counts(database_url, data_dir, "SELECT count(*) FROM sync_changes")[0]


def print_result(res: dict[str, Any]) -> None:
    print(
        f"{res['system']:<52} {res['acked']:>7} acked in {res['seconds']:6.2f}s = "
        f"{res['rate']:8.0f} updates/s | ack p50 {res['p50_ms']:7.1f} ms  p99 "
        f"{res['p99_ms']:7.1f} ms | server peak RSS {res['peak_rss_mb']:6.1f} MB, "
        f"CPU {res.get('server_cpu_s', float('nan')):5.1f}s (devices {res['client_cpu_s']:5.1f}s)"
        + (f" | {res['errors']} ERRORS e.g. {res['error_samples']}" if res["errors"] else "")
    )
    if "machine_busy_s" in res:
        other = res["machine_busy_s"] - res.get("server_cpu_s", 0) - res["client_cpu_s"]
        print(f"    server CPU per acked update: "
              f"{res.get('server_cpu_s', 0) / max(res['acked'], 1) * 1e6:.0f} us; machine: "
              f"{res['machine_busy_s']:.1f} of {res['machine_total_s']:.1f} CPU-s busy, other "
              f"processes (not this bench) ~{max(other, 0):.1f} CPU-s")
    for key in ("note",):
        if res.get(key):
            print(f"    {res[key]}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", choices=["sqlite", "postgres", "both"], default="sqlite")
    ap.add_argument("--instances", type=int, default=1,
                    help="server processes on PostgreSQL sharing the devices (SQLite: 1)")
    ap.add_argument("-k", "--devices", type=int, default=8)
    ap.add_argument("-m", "--updates", type=int, default=5000, help="updates per device")
    ap.add_argument("--docs", type=int, default=10, help="docs each device writes to")
    ap.add_argument("--window", type=int, default=256, help="unacked updates per device")
    ap.add_argument("--compare", action="store_true",
                    help="also run the same workload against pycrdt-websocket + SQLiteYStore "
                         "and Hocuspocus + its SQLite extension (debounce 0 and its default)")
    ap.add_argument("--baseline-updates", type=int, default=None,
                    help="M for the peers (default: the same M)")
    ap.add_argument("--profile", type=Path, help="py-spy raw profile of the server (first run; "
                    "with several instances, of the first)")
    args = ap.parse_args(argv)
    h.raise_fd_limit()
    dbs = ["sqlite", "postgres"] if args.db == "both" else [args.db]
    print(f"throughput: K={args.devices} devices (processes) x M={args.updates} updates, "
          f"{args.docs} docs per device, window {args.window}; machine: "
          f"{mp.cpu_count()} CPUs; {uptime()}")
    results = []
    for db in dbs:
        prof = args.profile if db == dbs[0] else None
        res = run_waiqin(db, k=args.devices, m=args.updates, docs=args.docs,
                         window=args.window, profile=prof,
                         instances=args.instances if db == "postgres" else 1)
        print_result(res)
        results.append(res)
        if prof is not None:
            h.print_hot_spots(prof)
    if args.compare:
        from bench.baseline_pycrdt_websocket import run_baseline
        from bench.peers.hocuspocus_peer import DEFAULT_DEBOUNCE, run_hocuspocus

        m = args.baseline_updates or args.updates
        peers = [run_baseline(k=args.devices, m=m, docs=args.docs, window=args.window)]
        print_result(peers[-1])
        for debounce in (0, DEFAULT_DEBOUNCE):
            peers.append(run_hocuspocus(debounce=debounce, k=args.devices, m=m,
                                        docs=args.docs, window=args.window))
            print_result(peers[-1])
        print(f"ratios of acked updates/s (server CPU per acked update, peer / waiqin); "
              f"{uptime()}")
        for res in results:
            for peer in peers:
                print(f"  {res['system']} / {peer['system']}: {res['rate'] / peer['rate']:.1f}x"
                      f"  (CPU {cpu_per_update(peer) / cpu_per_update(res):.1f}x)")
    return 0


def cpu_per_update(res: dict[str, Any]) -> float:
    return float(res.get("server_cpu_s", 0)) / max(int(res["acked"]), 1)


def uptime() -> str:
    load = Path("/proc/loadavg").read_text().split()[:3]
    return f"load average {', '.join(load)}"


if __name__ == "__main__":
    sys.exit(main())
